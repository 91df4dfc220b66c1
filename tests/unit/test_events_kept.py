"""``testbed run --events all|decisions-denied|none`` and ``--compress``: smaller logs,
the same report, and an honest audit coverage for what was written."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from testbed.cli import main

SCENARIO = """\
name: kept
seed: 3
start: 2026-01-05T00:00:00Z
duration: 6d
recovery_window: 1d
sites:
  - {name: north, zones: [bedside, datacenter]}
services:
  - {name: ehr, kind: ehr, site: north, zone: datacenter}
network:
  - {from: bedside, to: ehr}
fleet:
  - {profile: bedside-monitor-gateway, count: 2, site: north, zone: bedside, owner: icu}
faults:
  - {kind: blocked-route, from: bedside, to: ehr, start: 2d, end: 2d3h}
expectations:
  unauthorized_access: 0
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("kept")
    scenario = base / "kept.yaml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    out = {}
    for name, options in {"all": [], "denied": ["--events", "decisions-denied"],
                          "none": ["--events", "none"], "gz": ["--compress"],
                          "gz-again": ["--compress"]}.items():  # fmt: skip
        out[name] = base / name
        assert main(["run", str(scenario), "--out", str(out[name]), "--quiet", *options]) == 0
    return out


def _lines(path: Path) -> list[dict[str, object]]:
    opener: Callable[..., object] = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:  # type: ignore[operator]
        return [json.loads(line) for line in handle]  # type: ignore[attr-defined]


def test_decisions_denied_leaves_out_only_the_allowed_decisions(runs: dict[str, Path]) -> None:
    every = _lines(runs["all"] / "events.jsonl")
    denied = _lines(runs["denied"] / "events.jsonl")
    assert denied == [e for e in every if not (e["kind"] == "access-decision" and e["allowed"])]
    assert any(e["kind"] == "access-decision" for e in denied)  # the refusals are there
    assert len(denied) < len(every) / 2
    assert not (runs["none"] / "events.jsonl").exists()


def test_compressed_logs_hold_the_same_lines_and_the_same_bytes_twice(
    runs: dict[str, Path],
) -> None:
    gz = runs["gz"] / "events.jsonl.gz"
    assert gzip.decompress(gz.read_bytes()) == (runs["all"] / "events.jsonl").read_bytes()
    assert gz.read_bytes() == (runs["gz-again"] / "events.jsonl.gz").read_bytes()
    assert not (runs["gz"] / "events.jsonl").exists()


def test_the_report_is_the_same_but_audit_coverage_counts_what_was_written(
    runs: dict[str, Path],
) -> None:
    reports = {k: json.loads((p / "report.json").read_text()) for k, p in runs.items()}
    for name in ("denied", "none", "gz"):
        a, b = dict(reports["all"]["measures"]), dict(reports[name]["measures"])
        coverage = b.pop("audit_coverage")
        a.pop("audit_coverage")
        assert a == b, name
        expected = 1.0 if name == "gz" else None
        if expected is None:
            assert coverage < 0.5, name  # allowed decisions have no audit event on disk
        else:
            assert coverage == expected
    assert reports["all"]["measures"]["audit_coverage"] == 1.0


def test_a_compressed_log_is_folded_again_and_a_partial_one_is_refused(
    runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    again = tmp_path / "again"
    assert main(["report", str(runs["gz"]), "--out", str(again), "--quiet"]) == 0
    assert (again / "report.json").read_bytes() == (runs["gz"] / "report.json").read_bytes()
    capsys.readouterr()
    for name, kept in (("denied", "decisions-denied"), ("none", "none")):
        assert main(["report", str(runs[name]), "--quiet"]) == 2
        err = capsys.readouterr().err
        assert f"the run kept '{kept}' events (testbed run --events {kept})" in err
        assert "its report.json is its report" in err


def test_a_run_into_an_earlier_runs_directory_leaves_no_log_that_is_not_its_own(
    runs: dict[str, Path], tmp_path: Path
) -> None:
    """An earlier run's events.jsonl stood beside a later --events none (or --compress)
    run's report, and `testbed report` would have read it as that run's."""
    import shutil

    scenario = runs["all"].parent / "kept.yaml"
    again = tmp_path / "again"
    shutil.copytree(runs["all"], again)
    assert main(["run", str(scenario), "--out", str(again), "--quiet", "--compress"]) == 0
    assert sorted(p.name for p in again.glob("events*")) == ["events.jsonl.gz"]
    assert main(["run", str(scenario), "--out", str(again), "--quiet", "--events", "none"]) == 0
    assert list(again.glob("events*")) == []
