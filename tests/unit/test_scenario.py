"""Scenario files through the command line: bad input exits 2 with a located message.

Every refusal prints one line ``error: <file>: <field>: expected ...`` on standard
error and no traceback; ``run`` exits 0 when every expectation holds and 1 when one
fails, and writes ``report.json``, ``events.jsonl`` and ``report.html``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import TypeAdapter

from testbed.cli import main
from testbed.crosscheck import DEFAULT_PROFILES
from testbed.errors import ScenarioError
from testbed.expectations import Metric
from testbed.scenario import FleetGroup, load_scenario

FLEET_LINE = "  - {profile: ct-ai-onbox, count: 2, site: north, zone: imaging, owner: radiology}"


@dataclass(frozen=True)
class BadInput:
    """One way to spoil the tiny scenario, and the field the message must name."""

    id: str
    old: str
    new: str
    field: str
    mentions: tuple[str, ...] = ()


def _fleet(**changes: str) -> str:
    fields = {"profile": "ct-ai-onbox", "count": "2", "site": "north", "zone": "imaging",
              "owner": "radiology"}  # fmt: skip
    fields.update(changes)
    return "  - {" + ", ".join(f"{k}: {v}" for k, v in fields.items()) + "}"


def _faults(fault: str) -> str:
    return f"faults:\n  - {fault}\nexpectations:"


def _operations(operation: str) -> str:
    return f"operations:\n  - {operation}\nexpectations:"


def _per_site(operation: str) -> str:
    """``operation`` in the tiny scenario with an issuing CA per site."""
    return "pki: {issuing: per-site}\n" + _operations(operation)


PROFILES = sorted(p.stem for p in DEFAULT_PROFILES.glob("*.yaml"))

BAD_INPUTS = [
    BadInput("malformed-yaml", "seed: 7", "seed: 7: 8", "line 2, column 8", ("valid YAML",)),
    BadInput("unknown-field", FLEET_LINE, _fleet(colour="red"), "fleet[0].colour"),
    BadInput("unknown-top-level-field", "seed: 7", "seed: 7\ncolour: red", "colour"),
    BadInput("wrong-type", FLEET_LINE, _fleet(count='"many"'), "fleet[0].count",
             ("whole number", "'many'")),
    BadInput("count-as-true", FLEET_LINE, _fleet(count="true"), "fleet[0].count",
             ("whole number",)),
    BadInput("count-as-float", FLEET_LINE, _fleet(count="3.0"), "fleet[0].count",
             ("whole number",)),
    BadInput("bool-as-text", "seed: 7", 'seed: 7\npki: {manual_approval: "true"}',
             "pki.manual_approval", ("true or false", "without quotes")),
    BadInput("count-below-one", FLEET_LINE, _fleet(count="0"), "fleet[0].count", ("1",)),
    BadInput("unknown-profile", FLEET_LINE, _fleet(profile="ct-ai-offbox"), "fleet[0].profile",
             ("ct-ai-offbox", *PROFILES)),
    BadInput("unknown-site", FLEET_LINE, _fleet(site="west"), "fleet[0].site", ("'west'", "north")),
    BadInput("unknown-zone", FLEET_LINE, _fleet(zone="lab"), "fleet[0].zone",
             ("'lab'", "datacenter", "imaging")),
    BadInput("unknown-service-zone", "site: north, zone: datacenter}\n  - {name: ehr",
             "site: north, zone: basement}\n  - {name: ehr", "services[0].zone", ("basement",)),
    BadInput("bad-duration", "duration: 5d", "duration: 30 days", "duration", ("30d", "30 days")),
    BadInput("zero-duration", "duration: 5d", "duration: 0s", "duration", ("greater than zero",)),
    BadInput("duplicate-key", "duration: 5d", "duration: 5d\nduration: 6d", "line 5, column 1",
             ("'duration' appears twice", "line 4")),
    BadInput("zero-workload-interval", "seed: 7", "seed: 7\nworkload: {interval: 0s}",
             "workload.interval", ("greater than zero", "'0s'")),
    BadInput("naive-start", "start: 2026-01-05T00:00:00Z", "start: 2026-01-05T00:00:00",
             "start", ("UTC",)),
    BadInput("fault-end-after-duration", "expectations:",
             _faults("{kind: ca-outage, start: 1d, end: 9d}"), "faults[0].end", ("duration",)),
    BadInput("unknown-fault-kind", "expectations:",
             _faults("{kind: cosmic-ray, target: ca, start: 1d, end: 2d}"), "faults[0].kind",
             ("one of 'renewal-agent-broken', 'revoked-certificate'", "'cosmic-ray'")),
    BadInput("unknown-fault-target", "expectations:",
             _faults("{kind: revoked-certificate, target: site:west, start: 1d, end: 2d}"),
             "faults[0].target", ("west",)),
    BadInput("unknown-fault-device", "expectations:",
             _faults("{kind: clock-skew, target: 'device:ct-ai-onbox-north-003', offset: 1h, "
                     "start: 1d, end: 2d}"),
             "faults[0].target", ("ct-ai-onbox-north-003", "ct-ai-onbox-north-001")),
    BadInput("unknown-operation-device", "expectations:",
             "operations:\n  - {at: 1d, action: suspend, target: 'device:ct-ai-onbox-north'}"
             "\nexpectations:",
             "operations[0].target", ("'device:ct-ai-onbox-north'",)),
    BadInput("operation-after-duration", "expectations:",
             "operations:\n  - {at: 6d, action: suspend, target: 'device:ct-ai-onbox-north-001'}"
             "\nexpectations:",
             "operations[0].at", ("duration",)),
    BadInput("onboarding-after-duration", FLEET_LINE, _fleet(onboard_at="4d", onboard_spread="2d"),
             "fleet[0].onboard_at", ("onboard_spread", "duration")),
    BadInput("offboarding-before-onboarding", FLEET_LINE,
             _fleet(onboard_at="2d", offboard_at="1d"), "fleet[0].offboard_at", ("after",)),
    BadInput("bound-min-above-max", "unauthorized_access: 0",
             "unauthorized_access: {min: 3, max: 1}", "expectations.unauthorized_access",
             ("'min' at most 'max'",)),
    BadInput("trust-domain-not-a-dns-name", "seed: 7", "seed: 7\ntrust_domain: 'My Hospital/x'",
             "trust_domain", ("DNS name", "'My Hospital/x'")),
    BadInput("impossible-date", "start: 2026-01-05T00:00:00Z", "start: 2026-13-05T00:00:00Z",
             "line 3, column 8", ("a possible date and time", "month must be in 1..12")),
    BadInput("seed-as-text", "seed: 7", 'seed: "7"', "seed",
             ("whole number", "without quotes", "'7'")),
    BadInput("dns-san-too-long", "seed: 7", "seed: 7\ntrust_domain: " + ".".join(["a" * 60] * 4),
             "fleet[0].profile", ("shorter group name", "DNS SAN", "at most 253")),
    BadInput("reason-on-a-suspension", "expectations:",
             "operations:\n  - {at: 1d, action: suspend, target: 'device:ct-ai-onbox-north-001',"
             " reason: keyCompromise}\nexpectations:",
             "operations[0].reason", ("revoke",)),
    BadInput("unknown-revocation-reason", "expectations:",
             "operations:\n  - {at: 1d, action: revoke, target: 'device:ct-ai-onbox-north-001',"
             " reason: stolen}\nexpectations:",
             "operations[0].reason", ("keyCompromise", "'stolen'")),
    BadInput("profile-service-kind-missing",
             "{name: ehr, kind: ehr,", "{name: ehr, kind: pacs,",
             "fleet[0].profile", ("ehr missing", "ct-ai-onbox", "'services'")),
    BadInput("change-windows-too-sparse", "seed: 7",
             "seed: 7\npki: {lifetime: 5d, change_windows: "
             "[{days: [mon], start: '02:00:00', duration: 2h}]}",
             "pki.change_windows", ("4d23h", "7d apart")),
    BadInput("zero-recovery-window", "recovery_window: 1d", "recovery_window: 0s",
             "recovery_window", ("greater than zero",)),
    BadInput("service-kind-not-in-profile", FLEET_LINE,
             _fleet(profile="remote-monitoring-hub", services="[pacs-north]"),
             "fleet[0].services[0]", ("remote-monitoring-hub", "(ehr)", "is pacs")),
    BadInput("resume-before-any-suspend", "expectations:",
             "operations:\n  - {at: 1d, action: resume, target: 'device:ct-ai-onbox-north-001'}"
             "\n  - {at: 2d, action: suspend, target: 'device:ct-ai-onbox-north-001'}"
             "\nexpectations:",
             "operations[0].at", ("after a suspend",)),
    BadInput("longer-than-the-issuing-ca", "duration: 5d", "duration: 1800d",
             "duration", ("1825d", "1831d")),
    # targets the run would refuse mid-run (or misread): refused before it, by name
    BadInput("rotate-ca-key-of-the-whole-ca-under-per-site-issuing", "expectations:",
             _per_site("{at: 1d, action: rotate-ca-key, target: ca}"), "operations[0].target",
             ("'site:NAME'", "per-site issuing has an issuing CA per site", "'ca'")),
    BadInput("rotate-ca-key-of-a-site-under-central-issuing", "expectations:",
             _operations("{at: 1d, action: rotate-ca-key, target: 'site:north'}"),
             "operations[0].target", ("'ca'", "pki.issuing: per-site", "'site:north'")),
    BadInput("rotate-ca-key-of-an-unknown-site", "expectations:",
             _per_site("{at: 1d, action: rotate-ca-key, target: 'site:west'}"),
             "operations[0].target", ("a site", "north", "'west'")),
    BadInput("rotate-ca-key-of-a-group", "expectations:",
             _per_site("{at: 1d, action: rotate-ca-key, target: 'group:ct-ai-onbox-north'}"),
             "operations[0].target", ("'site:NAME'", "'group:ct-ai-onbox-north'")),
    BadInput("suspend-the-ca", "expectations:",
             _operations("{at: 1d, action: suspend, target: ca}"), "operations[0].target",
             ("'site:NAME', 'group:NAME' or 'device:ID'", "'ca'")),
    BadInput("revoke-a-route", "expectations:",
             _operations("{at: 1d, action: revoke, target: 'imaging->ehr'}"),
             "operations[0].target", ("'device:ID'", "'imaging->ehr'")),
    BadInput("revoked-certificate-of-the-ca", "expectations:",
             _faults("{kind: revoked-certificate, target: ca, start: 1d, end: 2d}"),
             "faults[0].target", ("'site:NAME', 'group:NAME' or 'device:ID'", "'ca'")),
    BadInput("clock-skew-of-a-route", "expectations:",
             _faults("{kind: clock-skew, target: 'imaging->ehr', offset: 1h, start: 1d, "
                     "end: 2d}"),
             "faults[0].target", ("'device:ID'", "'imaging->ehr'")),
    BadInput("ca-outage-of-a-site-under-central-issuing", "expectations:",
             _faults("{kind: ca-outage, target: 'site:north', start: 1d, end: 2d}"),
             "faults[0].target", ("'ca'", "pki.issuing: per-site", "'site:north'")),
    BadInput("ca-outage-of-an-unknown-site", "expectations:",
             "pki: {issuing: per-site}\n"
             + _faults("{kind: ca-outage, target: 'site:west', start: 1d, end: 2d}"),
             "faults[0].target", ("a site", "north", "'west'")),
    BadInput("ca-outage-of-a-group", "expectations:",
             _faults("{kind: ca-outage, target: 'group:ct-ai-onbox-north', start: 1d, end: 2d}"),
             "faults[0].target", ("pattern",)),
    BadInput("service-outage-of-an-unknown-service", "expectations:",
             _faults("{kind: service-outage, target: 'service:lab', start: 1d, end: 2d}"),
             "faults[0].target", ("a service", "pacs-north", "'lab'")),
    BadInput("service-outage-of-a-site", "expectations:",
             _faults("{kind: service-outage, target: 'site:north', start: 1d, end: 2d}"),
             "faults[0].target", ("pattern",)),
    # a blocked route that names nothing would block nothing, silently
    BadInput("blocked-route-to-an-unknown-service", "expectations:",
             _faults("{kind: blocked-route, from: imaging, to: lab, start: 1d, end: 2d}"),
             "faults[0].to", ("a service", "pacs-north", "'lab'")),
    BadInput("blocked-route-from-an-unknown-zone", "expectations:",
             _faults("{kind: blocked-route, from: lab, to: ehr, start: 1d, end: 2d}"),
             "faults[0].from", ("a zone", "imaging", "'lab'")),
    BadInput("blocked-route-at-an-unknown-site", "expectations:",
             _faults("{kind: blocked-route, from: imaging, to: ehr, site: west, start: 1d, "
                     "end: 2d}"),
             "faults[0].site", ("a site", "north", "'west'")),
    # the network faults of issue 13: a side, zone or exception that names nothing
    BadInput("partition-of-an-unknown-site", "expectations:",
             _faults("{kind: partition, between: ['site:north', 'site:west'], start: 1d, "
                     "end: 2d}"),
             "faults[0].between[1]", ("'site:' and a site", "'west'")),
    BadInput("partition-of-a-site-and-a-zone", "expectations:",
             _faults("{kind: partition, between: ['site:north', 'zone:imaging'], start: 1d, "
                     "end: 2d}"),
             "faults[0]", ("two sites or between two zones",)),
    BadInput("partition-of-zones-at-an-unknown-site", "expectations:",
             _faults("{kind: partition, between: ['zone:imaging', 'zone:datacenter'], "
                     "site: west, start: 1d, end: 2d}"),
             "faults[0].site", ("a site", "'west'")),
    BadInput("policy-drift-to-an-unknown-service", "expectations:",
             _faults("{kind: policy-drift, from: imaging, to: lab, start: 1d, end: 2d}"),
             "faults[0].to", ("a service", "'lab'")),
    BadInput("exception-expired-without-a-design", "expectations:",
             _faults("{kind: exception-expired, target: 'exception:legacy', start: 1d, "
                     "end: 2d}"),
             "faults[0].target", ("a scenario with a 'design'",)),
    BadInput("site-outage-of-an-unknown-site", "expectations:",
             _faults("{kind: site-outage, target: 'site:west', start: 1d, end: 2d}"),
             "faults[0].target", ("a site", "'west'")),
    BadInput("unknown-metric", "unauthorized_access: 0", "unauthorised_access: 0",
             "expectations.unauthorised_access", ("unauthorized_access", *Metric)),
    # DICOM (issue 12): a PACS's AE title, the dicom: block its faults and measures need
    BadInput("pacs-ae-title", "{name: pacs-north, kind: pacs,",
             "{name: pacs-north, ae_title: 'A\\\\B', kind: pacs,",
             "services[0].ae_title", ("backslash",)),
    BadInput("ehr-ae-title", "{name: ehr, kind: ehr,", "{name: ehr, ae_title: EHR, kind: ehr,",
             "services[1].ae_title", ("only a pacs",)),
    BadInput("pacs-tls", "    zones: [imaging, datacenter]",
             "    zones: [imaging, datacenter]\n    pacs_tls: tls1.0", "sites[0].pacs_tls",
             ("bcp195-non-downgrading",)),
    BadInput("dicom-fault-without-dicom", "expectations:",
             _faults("{kind: pacs-outage, target: service:pacs-north, start: 1d, end: 2d}"),
             "faults[0].kind", ("dicom:",)),
    BadInput("pacs-outage-of-the-ehr", "expectations:",
             "dicom: {}\n" + _faults("{kind: pacs-outage, target: service:ehr, start: 1d, "
                                     "end: 2d}"),
             "faults[0].target", ("pacs",)),
    BadInput("ae-title-fault-at-the-ehr", "expectations:",
             "dicom: {}\n" + _faults("{kind: ae-title-not-allowed, "
                                     "target: group:ct-ai-onbox-north, service: ehr, "
                                     "start: 1d, end: 2d}"),
             "faults[0].service", ("a pacs service",)),
    BadInput("endpoint-change-without-change", "expectations:",
             "dicom: {}\n" + _faults("{kind: dicom-endpoint-changed, target: service:pacs-north, "
                                     "start: 1d, end: 2d}"),
             "faults[0]", ("ae_title",)),
    BadInput("endpoint-change-bad-title", "expectations:",
             "dicom: {}\n" + _faults("{kind: dicom-endpoint-changed, target: service:pacs-north, "
                                     "ae_title: 'X\\\\Y', start: 1d, end: 2d}"),
             "faults[0].ae_title", ("backslash",)),
    BadInput("dicom-measure-without-dicom", "unauthorized_access: 0", "duplicates: 0",
             "expectations.duplicates", ("dicom:",)),
    BadInput("dicom-lost-answers", "expectations:", "dicom: {lost_answers: 1.5}\nexpectations:",
             "dicom.lost_answers", ("less than 1",)),
]


def _spoil(text: str, bad: BadInput) -> str:
    assert text.count(bad.old) == 1, f"{bad.id}: {bad.old!r} must occur once"
    return text.replace(bad.old, bad.new)


def _argv(command: str, path: Path, out: Path) -> list[str]:
    if command == "run":
        return ["run", str(path), "--out", str(out), "--quiet"]
    return ["validate", str(path)]


def _refusal(capsys: pytest.CaptureFixture[str], path: Path) -> tuple[str, str]:
    """The field and the expectation of the one diagnostic line
    (``file:line:column: error: field: expected ...``); no traceback anywhere."""
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    lines = [line for line in err.strip().splitlines() if not _SUMMARY.fullmatch(line)]
    assert len(lines) == 1, err
    found = re.fullmatch(rf"{re.escape(str(path))}(?::\d+:\d+)?: error: (.*)", lines[0])
    assert found, lines[0]
    field, sep, expected = found.group(1).partition(": expected ")
    assert sep, f"no ': expected ' in {lines[0]!r}"
    return field, expected


_SUMMARY = re.compile(r"\d+ problems? in \d+ of \d+ files?")


@pytest.mark.parametrize("command", ["validate", "run"])
@pytest.mark.parametrize("bad", BAD_INPUTS, ids=lambda b: b.id)
def test_bad_input_exits_2_naming_the_field(
    command: str,
    bad: BadInput,
    tiny_scenario: str,
    write_scenario: Callable[..., Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = write_scenario(_spoil(tiny_scenario, bad))
    out = tmp_path / "out"
    assert main(_argv(command, path, out)) == 2
    field, expected = _refusal(capsys, path)
    assert field == bad.field
    for fragment in bad.mentions:
        assert fragment in expected
    assert not out.exists()  # nothing is written for a refused scenario


@pytest.mark.parametrize("command", ["validate", "run"])
def test_a_missing_file_exits_2(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "no-such-scenario.yaml"
    assert main(_argv(command, path, tmp_path / "out")) == 2
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert err.splitlines()[0] == f"{path}: error: expected an existing file"


def test_malformed_yaml_names_the_line_of_the_mistake(
    tiny_scenario: str, write_scenario: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    lines = tiny_scenario.splitlines()
    bad_line = lines.index("duration: 5d")
    lines[bad_line] = "duration: [5d"
    path = write_scenario("\n".join(lines) + "\n")
    assert main(["validate", str(path)]) == 2
    field, _ = _refusal(capsys, path)
    assert field.startswith("line ")
    # the parser notices the unclosed bracket at the next line at the latest
    assert int(field.split()[1].rstrip(",")) in {bad_line + 1, bad_line + 2}


def test_an_unknown_field_says_there_is_no_such_field(
    tiny_scenario: str, write_scenario: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """inputs.py means to say "a known field ... check the spelling" for unknown fields."""
    path = write_scenario(tiny_scenario.replace(FLEET_LINE, _fleet(colour="red")))
    assert main(["validate", str(path)]) == 2
    field, expected = _refusal(capsys, path)
    assert field == "fleet[0].colour"
    assert expected.startswith("a known field here (unknown fields are refused")


def test_a_wrong_type_reports_one_problem(
    tiny_scenario: str, write_scenario: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """One bad value is one problem; the message must not claim a second one."""
    path = write_scenario(tiny_scenario.replace(FLEET_LINE, _fleet(count='"many"')))
    assert main(["validate", str(path)]) == 2
    _, expected = _refusal(capsys, path)
    assert "more problem" not in expected


def test_a_fault_ending_before_it_starts_names_the_fault(
    tiny_scenario: str, write_scenario: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """The field path is the fault (or its end), not the union tag ``ca-outage``."""
    text = tiny_scenario.replace("expectations:", _faults("{kind: ca-outage, start: 3d, end: 1d}"))
    path = write_scenario(text)
    assert main(["validate", str(path)]) == 2
    field, expected = _refusal(capsys, path)
    assert "end after its start" in expected
    assert field in {"faults[0]", "faults[0].end"}


def test_an_unknown_field_of_a_fault_is_named_by_its_path(
    tiny_scenario: str, write_scenario: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    text = tiny_scenario.replace(
        "expectations:", _faults("{kind: ca-outage, start: 1d, end: 2d, colour: red}")
    )
    path = write_scenario(text)
    assert main(["validate", str(path)]) == 2
    field, _ = _refusal(capsys, path)
    assert field == "faults[0].colour"


def test_a_bad_expectation_is_named_without_the_union_member(
    tiny_scenario: str, write_scenario: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """An expectation is a number, a bound or 'all'; pydantic's member names are no field."""
    text = tiny_scenario.replace("unauthorized_access: 0", "unauthorized_access: {}")
    path = write_scenario(text)
    assert main(["validate", str(path)]) == 2
    field, _ = _refusal(capsys, path)
    assert field == "expectations.unauthorized_access"


def test_load_scenario_raises_the_located_error(
    tiny_scenario: str, write_scenario: Callable[..., Path]
) -> None:
    path = write_scenario(tiny_scenario.replace(FLEET_LINE, _fleet(count='"many"')))
    with pytest.raises(ScenarioError) as raised:
        load_scenario(path)
    assert raised.value.file == str(path)
    assert raised.value.field == "fleet[0].count"
    assert raised.value.got == "many"


def test_a_top_level_list_is_refused(write_scenario: Callable[..., Path]) -> None:
    path = write_scenario("- name: tiny\n")
    with pytest.raises(ScenarioError, match="a mapping of scenario fields"):
        load_scenario(path)


# -- valid scenarios --------------------------------------------------------------------


def test_a_valid_scenario_validates(
    write_scenario: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_scenario()
    assert main(["validate", str(path)]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert out == f"{path}: valid (1 site, 2 devices, 0 faults, 1 expectation)\n"


def test_an_outage_of_a_sites_issuing_ca_validates_under_per_site_issuing(
    tiny_scenario: str, write_scenario: Callable[..., Path]
) -> None:
    fault = "{kind: ca-outage, target: 'site:north', start: 1d, end: 2d}"
    text = tiny_scenario.replace("expectations:", "pki: {issuing: per-site}\n" + _faults(fault))
    assert load_scenario(write_scenario(text)).faults[0].target == "site:north"


def test_load_scenario_reads_every_field(write_scenario: Callable[..., Path]) -> None:
    scenario = load_scenario(write_scenario())
    assert scenario.name == "tiny"
    assert scenario.seed == 7
    assert scenario.duration.days == 5
    assert [g.group for g in scenario.fleet] == ["ct-ai-onbox-north"]


def test_the_seed_can_be_overridden(write_scenario: Callable[..., Path]) -> None:
    """``testbed run --seed`` and ``run_scenario(seed=...)`` go through this override."""
    scenario = load_scenario(write_scenario(), seed=99)
    assert scenario.seed == 99
    assert scenario.name == "tiny"


SHIPPED = sorted((Path(__file__).resolve().parents[2] / "scenarios").glob("*.yaml"))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_shipped_scenario_validates(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(path)]) == 0
    assert "valid" in capsys.readouterr().out


# -- run: exit codes and artefacts -------------------------------------------------------


def _run(path: Path, out: Path) -> int:
    return main(["run", str(path), "--out", str(out), "--quiet"])


def _check_artefacts(out: Path) -> dict[str, object]:
    # the report and the log, and what `testbed report` needs to read the run again
    names = ["events.jsonl", "profiles", "report.html", "report.json", "run.json", "scenario.yaml"]
    assert sorted(p.name for p in out.iterdir()) == names
    assert json.loads((out / "run.json").read_text(encoding="utf-8"))["transport"] == "simulation"
    lines = (out / "events.jsonl").read_text(encoding="utf-8").splitlines()
    assert lines
    for seq, line in enumerate(lines):
        event = json.loads(line)
        assert event["seq"] == seq
        assert event["time"].endswith("Z")
    assert (out / "report.html").read_text(encoding="utf-8").strip()
    report: dict[str, object] = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["events"] == len(lines)
    return report


def test_run_exits_0_when_every_expectation_holds(
    write_scenario: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert _run(write_scenario(), out) == 0
    stdout, _ = capsys.readouterr()
    assert "FAILED" not in stdout
    report = _check_artefacts(out)
    assert report["passed"] is True
    assert report["devices"] == 2


def test_run_exits_1_when_an_expectation_fails(
    tiny_scenario: str,
    write_scenario: Callable[..., Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = tiny_scenario.replace(
        "unauthorized_access: 0", "unauthorized_access: 0\n  renewals_done: {min: 1000}"
    )
    out = tmp_path / "out"
    assert _run(write_scenario(text), out) == 1
    stdout, _ = capsys.readouterr()
    assert "FAILED renewals_done:" in stdout
    assert "FAILED unauthorized_access" not in stdout
    report = _check_artefacts(out)
    assert report["passed"] is False
    verdicts = {e["id"]: e["passed"] for e in report["expectations"]}  # type: ignore[attr-defined]
    assert verdicts == {"unauthorized_access": True, "renewals_done": False}


@pytest.mark.parametrize(
    ("device_id", "member"),
    [
        ("ward-b-001", True),
        ("ward-b-1200", True),
        ("ward-b-1201", False),
        ("ward-b-000", False),
        ("ward-b-01", False),  # ids are zero-padded to three digits
        ("ward-b-0001", False),
        ("ward-b-²", False),  # a digit to str.isdigit, not a number to int()
        ("ward-b", False),
        ("ward-001", False),
        ("ward-b-x-001", False),
    ],
)
def test_a_fleet_group_knows_its_device_ids(device_id: str, member: bool) -> None:
    group = TypeAdapter(FleetGroup).validate_python(
        {"profile": "bedside-monitor-gateway", "name": "ward-b", "count": 1200,
         "site": "east", "zone": "bedside", "owner": "icu"}
    )
    assert group.has_device(device_id) is member
    assert group.device_id(7) == "ward-b-007"


def test_a_profile_the_simulation_cannot_enroll_is_refused(
    tmp_path: Path, tiny_scenario: str
) -> None:
    """SCEP is a real enrollment protocol, but the testbed does not simulate it: a
    SCEP-only profile is refused rather than quietly enrolled by hand."""
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    for shipped in DEFAULT_PROFILES.glob("*.yaml"):
        text = shipped.read_text(encoding="utf-8")
        if shipped.stem == "ct-ai-onbox":
            text = text.replace("enrollment_protocols: [est]", "enrollment_protocols: [scep]")
        (profiles / shipped.name).write_text(text, encoding="utf-8")
    path = tmp_path / "scenario.yaml"
    path.write_text(tiny_scenario.replace("seed: 7", "seed: 7\nprofiles_dir: profiles"),
                    encoding="utf-8")  # fmt: skip
    with pytest.raises(ScenarioError, match="SCEP is not simulated") as raised:
        load_scenario(path)
    assert raised.value.field == "fleet[0].profile"


def test_a_start_too_late_for_the_runs_dates_is_bad_input(
    tiny_scenario: str, write_scenario: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """Year 9999 loaded, then every run and report was an OverflowError."""
    lines = [line for line in tiny_scenario.splitlines() if line.startswith("start:")]
    path = write_scenario(tiny_scenario.replace(lines[0], "start: 9999-12-01T00:00:00Z"))
    assert main(["validate", str(path)]) == 2
    field, expected = _refusal(capsys, path)
    assert (field, expected.split(" (")[0]) == ("start", "a start before 9000-01-01")
