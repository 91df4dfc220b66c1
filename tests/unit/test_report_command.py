"""``testbed report DIR`` on bad input: exit 2, and the message names the directory or
file, the line and what was expected."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from testbed.cli import main
from testbed.crosscheck import DEFAULT_PROFILES
from testbed.events import Event, EventKind
from testbed.pki.fidelity import Fidelity
from testbed.report.directory import keep_inputs, load_record
from testbed.report.record import Transport

TINY = """\
name: tiny-record
seed: 3
start: 2026-01-05T00:00:00Z
duration: 1d
sites: [{name: north, zones: [imaging]}]
services: [{name: ehr, kind: ehr, site: north, zone: imaging},
           {name: pacs, kind: pacs, site: north, zone: imaging}]
fleet: [{profile: ct-ai-onbox, count: 1, site: north, zone: imaging, owner: radiology}]
faults: [{kind: ca-outage, start: 1h, end: 2h}]
"""
T0 = datetime(2026, 1, 5, tzinfo=UTC)
REGISTERED = Event(0, T0, EventKind.DEVICE_REGISTERED, "ct-ai-onbox-north-001",
                   {"profile": "ct-ai-onbox", "site": "north"}).to_json()  # fmt: skip


def _directory(tmp_path: Path, *lines: str, transport: Transport = Transport.LIVE) -> Path:
    scenario = tmp_path / "tiny.yaml"
    scenario.write_text(TINY, encoding="utf-8")
    kept = tmp_path / "kept"
    kept.mkdir()
    keep_inputs(kept, scenario, profiles=DEFAULT_PROFILES, transport=transport, seed=3,
                fidelity=Fidelity.FULL)
    (kept / "events.jsonl").write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return kept


def _refused(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["report", *args, "--quiet"]) == 2
    return capsys.readouterr().err


def test_a_live_directory_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    kept = _directory(tmp_path, REGISTERED)
    assert main(["report", str(kept), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "not measured: data_lost: live devices carry no clinical items" in out
    assert "not measured: unauthorized_access" not in out  # the oracle judges live runs too
    assert (kept / "report.json").is_file() and (kept / "report.html").is_file()
    record = load_record(kept)
    assert record.tally.devices_registered == 1 == record.devices
    assert "audit_coverage" in record.not_measured  # no tally in this log
    # a live hospital injects no faults, and its plots span its own events
    assert json.loads((kept / "report.json").read_text())["faults"] == []
    assert record.start == T0 and record.faults == ()


def test_no_such_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nowhere"
    err = _refused(capsys, str(missing))
    assert f"error: {missing}: expected a directory written by `testbed run --out`" in err
    assert "(no such directory)" in err
    assert not missing.exists()  # nothing was made for the report


def test_a_file_is_named_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    afile = tmp_path / "report.json"
    afile.write_text("{}", encoding="utf-8")
    err = _refused(capsys, str(afile))
    assert f"{afile}: expected a directory written by" in err and err.endswith("(a file)\n")


def test_a_run_of_a_kept_scenario_into_its_own_directory_keeps_its_inputs(
    tmp_path: Path,
) -> None:
    """The kept scenario is the file to keep: copying it onto itself failed after the
    report was written, leaving run.json with the previous run's seed."""
    kept = _directory(tmp_path, REGISTERED)
    keep_inputs(kept, kept / "scenario.yaml", profiles=kept / "profiles",
                transport=Transport.SIMULATION, seed=77, fidelity=Fidelity.FULL)  # fmt: skip
    assert json.loads((kept / "run.json").read_text())["seed"] == 77
    assert (kept / "scenario.yaml").read_text(encoding="utf-8") == TINY


def test_a_directory_that_no_run_wrote(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = _refused(capsys, str(tmp_path))
    assert f"{tmp_path / 'run.json'}: expected a directory written by" in err


def test_an_empty_events_jsonl(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Read as a run that did nothing, it failed every expectation (exit 1)."""
    kept = _directory(tmp_path)
    err = _refused(capsys, str(kept))
    assert f"{kept / 'events.jsonl'}: expected the run's audit log (it holds no event" in err


def test_no_events_jsonl(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    kept = _directory(tmp_path)
    (kept / "events.jsonl").unlink()
    err = _refused(capsys, str(kept))
    assert f"{kept / 'events.jsonl'}: expected the run's audit log (no such file)" in err


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        ("{not json", "expected one JSON object with seq (integer), time (UTC ISO 8601), kind"),
        ("[1, 2]", "(got list)"),
        ('{"seq": 1, "time": "2026-01-05T00:00:00Z", "subject": "x"}', "(missing kind)"),
        ('{"seq": 1, "time": "2026-01-05T00:00:00Z", "kind": "made-up", "subject": "x"}',
         "kind: expected one of device-registered"),
        ('{"seq": 1, "time": "yesterday", "kind": "crl-published", "subject": "x"}',
         "time: expected UTC ISO 8601 (got 'yesterday')"),
        ('{"seq": "1", "time": "2026-01-05T00:00:00Z", "kind": "crl-published", "subject": "x"}',
         "seq: expected an integer"),
    ],
)
def test_a_malformed_line_is_named_with_its_number(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], bad: str, expected: str
) -> None:
    kept = _directory(tmp_path, REGISTERED, "", bad, REGISTERED)
    err = _refused(capsys, str(kept))
    assert f"error: {kept / 'events.jsonl'}:3: " in err
    assert expected in err
    assert not (kept / "report.json").exists()


def test_a_bad_run_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    kept = _directory(tmp_path, REGISTERED)
    (kept / "run.json").write_text('{"transport": "carrier-pigeon", "seed": 3}\n')
    err = _refused(capsys, str(kept))
    assert f"{kept / 'run.json'}: transport: expected simulation or live" in err


def test_a_bad_fidelity_in_run_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    kept = _directory(tmp_path, REGISTERED)
    (kept / "run.json").write_text('{"transport": "live", "seed": 3, "fidelity": "sketchy"}\n')
    err = _refused(capsys, str(kept))
    assert f"{kept / 'run.json'}: fidelity: expected full or modeled (got 'sketchy')" in err


def test_the_level_a_run_was_overridden_to_is_the_level_its_report_gives(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`testbed run --fidelity modeled` on a file that says full: run.json keeps the level
    the run used, and `testbed report DIR` reports that level, not the file's."""
    out = tmp_path / "run"
    scenario = tmp_path / "tiny.yaml"
    scenario.write_text(TINY, encoding="utf-8")
    assert main(["run", str(scenario), "--out", str(out), "--fidelity", "modeled", "--quiet"]) == 0
    assert json.loads((out / "run.json").read_text())["fidelity"] == "modeled"
    written = (out / "report.json").read_text()
    assert json.loads(written)["fidelity"] == "modeled"
    assert main(["report", str(out), "--quiet"]) == 0
    assert json.loads((out / "report.json").read_text())["fidelity"] == "modeled"
