"""Design files are user input: each bad-input class names the file and the field,
and a scenario selecting a bad design exits 2 from `testbed validate`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from testbed.cli import main
from testbed.errors import ScenarioError
from testbed.network.design import DESIGNS, load_design, schema_text

GOOD = """\
name: toy
credentials: est-automated-renewal
groups:
  - {name: devices, kinds: [device]}
  - {name: servers, kinds: [pacs, ehr, ca, idp]}
rules:
  - {from: devices, to: servers, service: dicom-tls, identity: valid-device-certificate}
exceptions:
  - {id: legacy, from: devices, to: servers, service: dicom, owner: biomed, reason: old firmware,
     expires: 2026-06-30T00:00:00Z, review: 2026-03-31T00:00:00Z}
"""

BAD = {
    "unknown group": (
        GOOD.replace("{from: devices, to: servers, service: dicom-tls",
                     "{from: devices, to: nowhere, service: dicom-tls"),
        "rules[0].to", "a group of this design",
    ),
    "unknown service": (
        GOOD.replace("service: dicom-tls", "service: telnet"), "rules[0].service",
        "a service of the catalog",
    ),
    "unknown identity condition": (
        GOOD.replace("identity: valid-device-certificate", "identity: trusted-vendor"),
        "rules[0].identity", "valid-device-certificate",
    ),
    "exception without owner": (
        GOOD.replace("owner: biomed, ", ""), "exceptions[0].owner", "this required field",
    ),
    "exception without expiry": (
        GOOD.replace("expires: 2026-06-30T00:00:00Z, ", ""), "exceptions[0].expires",
        "this required field",
    ),
    "token rule without scope": (
        GOOD.replace("identity: valid-device-certificate", "identity: token-with-scope"),
        "rules[0].scope", "SMART scope",
    ),
}  # fmt: skip


def test_the_good_design_loads(tmp_path: Path) -> None:
    path = tmp_path / "toy.yaml"
    path.write_text(GOOD, encoding="utf-8")
    design = load_design(path)
    assert design.exceptions[0].owner == "biomed"


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_designs_name_the_file_and_field(tmp_path: Path, case: str) -> None:
    text, field, expected = BAD[case]
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        load_design(path)
    assert caught.value.file == str(path)
    assert caught.value.field == field
    assert expected in caught.value.expected


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_scenario_with_a_bad_design_exits_2(
    tmp_path: Path, tiny_scenario: str, case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "bad.yaml").write_text(BAD[case][0], encoding="utf-8")
    text = tiny_scenario.replace("network:\n  - {from: imaging, to: pacs-north}\n"
                                 "  - {from: imaging, to: ehr}\n", "design: bad.yaml\n")
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(text, encoding="utf-8")
    assert main(["validate", str(scenario)]) == 2
    err = capsys.readouterr().err
    assert "bad.yaml" in err and BAD[case][1] in err


def test_a_scenario_naming_no_design_exits_2(
    write_scenario: object, tiny_scenario: str, capsys: pytest.CaptureFixture[str]
) -> None:
    text = tiny_scenario.replace("network:\n", "design: no-such-design\nnetwork:\n")
    text = text.replace("  - {from: imaging, to: pacs-north}\n  - {from: imaging, to: ehr}\n", "")
    text = text.replace("network:\n", "")
    path = write_scenario(text)  # type: ignore[operator]
    assert main(["validate", str(path)]) == 2
    assert "design: expected a design in fixtures/designs" in capsys.readouterr().err


def test_a_design_and_network_rules_together_are_refused(
    write_scenario: object, tiny_scenario: str
) -> None:
    path = write_scenario(tiny_scenario.replace("network:\n", "design: per-site-vlans\nnetwork:\n"))  # type: ignore[operator]
    with pytest.raises(ScenarioError, match="no network rules when a design is selected"):
        from testbed.scenario import load_scenario

        load_scenario(path)


@pytest.mark.parametrize("path", sorted(DESIGNS.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_design_loads_and_says_what_it_assumes(path: Path) -> None:
    design = load_design(path)
    assert design.name == path.stem
    assert design.description and len(design.assumptions) >= 2


def test_the_five_seed_designs_ship() -> None:
    assert {p.stem for p in DESIGNS.glob("*.yaml")} >= {
        "flat-shared-credentials", "per-site-vlans", "central-ca-automated-renewal",
        "fhir-first-scoped-identities", "zero-trust-microsegmentation",
    }  # fmt: skip


def test_the_checked_in_schema_is_current() -> None:
    shipped = (DESIGNS / "design.schema.json").read_text(encoding="utf-8")
    assert shipped == schema_text()
    assert json.loads(shipped)["title"].endswith("network design")


SEVERAL = """\
name: toy
credentials: est-automated-renewal
groups:
  - {name: devices, kinds: [device]}
  - {name: servers, kinds: [pacs, ehr, ca, idp]}
  - {name: devices, kinds: [device]}
rules:
  - {from: devcies, to: servers, service: dicom-tls, identity: valid-device-certificate}
  - {from: devices, to: servers, service: dicom-tsl, identity: valid-device-certificate}
  - {from: devices, to: servers, service: fhir, identity: token-with-scope}
exceptions:
  - {id: legacy, from: devices, to: srvers, service: dicom, owner: biomed, reason: old firmware,
     expires: 2026-06-30T00:00:00Z, review: 2026-03-31T00:00:00Z}
"""


def test_every_problem_of_a_design_is_reported_at_once_in_file_order(tmp_path: Path) -> None:
    """Five cross-field mistakes: five problems in one error, in file order, each with
    its line and a "did you mean" for a misspelled name."""
    path = tmp_path / "toy.yaml"
    path.write_text(SEVERAL, encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        load_design(path)
    found = [(p.field, p.line, p.hint) for p in caught.value.problems]
    assert found == [
        ("groups[2].name", 6, None),
        ("rules[0].from", 8, "devices"),
        ("rules[1].service", 9, "dicom-tls"),
        ("rules[2].scope", 10, None),
        ("exceptions[0].to", 12, "servers"),
    ]
    assert all(p.file == str(path) for p in caught.value.problems)
    assert len(str(caught.value).splitlines()) == 5
    assert "did you mean 'dicom-tls'?" in str(caught.value)


def test_schema_mistakes_of_a_design_come_together_with_lines(tmp_path: Path) -> None:
    path = tmp_path / "toy.yaml"
    path.write_text(GOOD.replace("identity: valid-device-certificate", "identity: trusted")
                    .replace("owner: biomed, ", "ownr: biomed, "), encoding="utf-8")  # fmt: skip
    with pytest.raises(ScenarioError) as caught:
        load_design(path)
    fields = [(p.field, p.line, p.hint) for p in caught.value.problems]
    assert ("exceptions[0].ownr", 9, "owner") in fields
    assert any(f == "rules[0].identity" and line == 7 for f, line, _ in fields)
    assert [line for _, line, _ in fields] == sorted(line or 0 for _, line, _ in fields)
