"""``testbed compare``: the seed's table with measured numbers, its files, its exit codes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from testbed.cli import main
from testbed.study import MEASURES, Comparison, compare
from testbed.study.compare_outputs import write_comparison

ROOT = Path(__file__).resolve().parents[3]
DRILL = ROOT / "scenarios" / "revocation-offboarding-drill.yaml"  # 8 devices, one site
FLAT, ZERO = "flat-shared-credentials", "zero-trust-microsegmentation"


@pytest.fixture(scope="module")
def two() -> Comparison:
    return compare(DRILL, [FLAT, ZERO])


def test_the_table_has_a_row_per_design_and_a_column_per_measure(two: Comparison) -> None:
    table = two.table()
    assert list(table.index) == [FLAT, ZERO]
    assert list(table.columns) == [m.name for m in MEASURES]
    # explainable from the designs: the flat network reaches every other device (7) and
    # every asset (the EHR, the CA, the IdP); zero trust reaches no device
    assert table.loc[FLAT, "devices_reachable"] == 7
    assert table.loc[FLAT, "assets_reachable"] == 3
    assert table.loc[FLAT, "bre_k"] > 0.99
    assert table.loc[ZERO, "devices_reachable"] == 0
    assert table.loc[ZERO, "bre_k"] < table.loc[FLAT, "bre_k"]
    assert table.loc[FLAT, "any_any_cells"] >= 1 and table.loc[ZERO, "any_any_cells"] == 0
    assert table.loc[ZERO, "intent_violations"] == 0 < table.loc[FLAT, "intent_violations"]
    # the run's own numbers come from one run per design (same seed, same faults).
    # With certificates: the CRL interval's exposure (15) and the stolen gateway's day
    # of data lost (9).  With the department's shared credential, revoking the stolen
    # gateway takes nothing back: it delivers (and is counted) for the whole day until
    # the ward is offboarded (24), and the offboarded ward's 3 x 3 stale probes get in
    assert table.loc[ZERO, "unauthorized_access"] == 15
    assert table.loc[ZERO, "data_lost"] == 9
    assert table.loc[FLAT, "unauthorized_access"] == 24 + 9
    assert table.loc[FLAT, "data_lost"] == 0
    assert [r.values["failed"] for r in two.rows] == [
        ["unauthorized_access", "stale_access_after_offboarding"], []]


def test_the_files_are_written_and_the_same_twice(two: Comparison, tmp_path: Path) -> None:
    first = write_comparison(two, tmp_path / "a")
    again = write_comparison(compare(DRILL, [FLAT, ZERO]), tmp_path / "b")
    data = json.loads(first["compare.json"].read_text(encoding="utf-8"))
    assert [d["design"] for d in data["designs"]] == [FLAT, ZERO]
    assert set(data["measures"]) == {m.name for m in MEASURES}
    assert first["compare.csv"].read_text(encoding="utf-8").startswith("design,")
    html = first["compare.html"].read_text(encoding="utf-8")
    assert "<svg" in html and "<script" not in html
    plots = sorted(p.name for p in (tmp_path / "a" / "plots").iterdir())
    assert plots == sorted(f"{m.name}.png" for m in MEASURES)
    for name in ("compare.json", "compare.csv", "compare.html", "plots/bre_k.png"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert again["compare.json"].read_bytes() == first["compare.json"].read_bytes()


def test_the_command_prints_the_table_and_exits_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["compare", str(DRILL), "--design", ZERO, "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    assert "bre_k" in out and ZERO in out and "compare.json" in out
    assert (tmp_path / "compare.html").is_file()


def test_the_shared_credential_fails_the_drill_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["compare", str(DRILL), "--design", FLAT, "--design", ZERO,
                 "--out", str(tmp_path)])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 1
    assert f"FAILED under {FLAT}: unauthorized_access, stale_access_after_offboarding" in out
    assert f"FAILED under {ZERO}" not in out
    assert (tmp_path / "compare.json").is_file()


def test_a_failed_expectation_under_a_design_exits_1(
    tmp_path: Path, write_scenario: Callable[..., Path], tiny_scenario: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # the tiny scenario's devices store to the PACS over DICOM TLS: under a design
    # whose only rule lets imaging reach the servers on cleartext DICOM, they are
    # refused, so clinical downtime is not zero
    (tmp_path / "dicom-only.yaml").write_text(
        "name: dicom-only\ncredentials: shared\ngroups:\n"
        "  - {name: imaging, kinds: [device]}\n  - {name: servers, kinds: [pacs, ehr, ca, idp]}\n"
        "rules:\n  - {from: imaging, to: servers, service: dicom}\n", encoding="utf-8")
    scenario = write_scenario(tiny_scenario + "  clinical_downtime_minutes: 0\n")
    code = main(["compare", str(scenario), "--design", FLAT,
                 "--design", str(tmp_path / "dicom-only.yaml"), "--out", str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert code == 1
    assert "FAILED under dicom-only: clinical_downtime_minutes" in out
    assert "FAILED under flat" not in out


def test_an_unknown_design_exits_2_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["compare", str(DRILL), "--design", "no-such-design", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert "no-such-design.yaml" in err and "one of: central-ca-automated-renewal" in err
    assert not (tmp_path / "compare.json").exists()


def test_a_bad_design_file_exits_2_with_its_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\ncredentials: shared\ngroups: [{name: all}]\n"
                   "rules: [{from: all, to: nowhere, service: any}]\n", encoding="utf-8")
    code = main(["compare", str(DRILL), "--design", str(bad), "--out", str(tmp_path / "o")])
    assert code == 2
    err = capsys.readouterr().err  # located at the bad value: line 4, column 21
    assert f"{bad}:4:21: error: rules[0].to: expected a group of this design" in err


CA_OUTAGE = ROOT / "scenarios" / "ca-outage-longer-than-lifetime.yaml"  # outage 8d-18d
CENTRAL = "central-ca-automated-renewal"


def test_at_takes_the_analysis_at_a_scenario_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """During a CA outage longer than the certificate lifetime (16d), the central CA
    design's certificate-conditioned flows are closed, so a compromised device reaches
    fewer assets than at the start; the flat design's shared credential stays, and so
    does its blast radius.  The run's own measures are the whole run's either way."""
    start = compare(CA_OUTAGE, [FLAT, CENTRAL]).table()
    code = main(["compare", str(CA_OUTAGE), "--design", FLAT, "--design", CENTRAL,
                 "--at", "16d", "--out", str(tmp_path)])  # fmt: skip
    out = capsys.readouterr().out
    # the scenario expects the outage to cost renewals and downtime: it costs the
    # flat design's shared credential nothing, so those expectations fail under it
    assert code == 1, out
    assert f"FAILED under {FLAT}: renewals_missed, clinical_downtime_minutes" in out
    assert f"FAILED under {CENTRAL}" not in out
    assert "analysis at 16d" in out
    data = json.loads((tmp_path / "compare.json").read_text(encoding="utf-8"))
    assert data["at"] == "16d"
    during = {d["design"]: d for d in data["designs"]}
    assert "analysis at 16d" in (tmp_path / "compare.html").read_text(encoding="utf-8")
    for measure in ("devices_reachable", "assets_reachable", "bre_k", "flows_accepted"):
        assert during[FLAT][measure] == start.loc[FLAT, measure], measure
    assert during[CENTRAL]["assets_reachable"] < start.loc[CENTRAL, "assets_reachable"]
    assert during[CENTRAL]["flows_accepted"] < start.loc[CENTRAL, "flows_accepted"]
    assert during[CENTRAL]["bre_k"] < start.loc[CENTRAL, "bre_k"]
    for design in (FLAT, CENTRAL):
        assert during[design]["clinical_downtime_minutes"] == start.loc[
            design, "clinical_downtime_minutes"]  # fmt: skip
    assert during[FLAT]["clinical_downtime_minutes"] == 0 == during[FLAT]["renewals_missed"]
    assert during[CENTRAL]["clinical_downtime_minutes"] > 0


@pytest.mark.parametrize("at", ["40d", "soon", "-1d"])
def test_at_outside_the_run_exits_2_naming_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], at: str
) -> None:
    code = main(["compare", str(DRILL), "--design", FLAT, "--at", at, "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert f"{DRILL}: error: at: expected a scenario time within the run, from 0s to" in err
    assert not (tmp_path / "compare.json").exists()
