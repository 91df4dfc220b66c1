"""``testbed run`` in CI logs and under Ctrl-C: plain progress lines, exit 130 with a
partial report marked incomplete, numbers people can read."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from testbed.cli import number
from testbed.progress import PlainProgress

ROOT = Path(__file__).resolve().parents[2]


def _long_scenario(tmp_path: Path) -> Path:
    """The pilot for 1,700 days: long enough to be interrupted part way."""
    text = (ROOT / "scenarios" / "two-site-pilot.yaml").read_text(encoding="utf-8")
    text = text.replace("duration: 90d", "duration: 1700d").replace("fidelity: full", "")
    path = tmp_path / "long.yaml"
    path.write_text(text + "fidelity: modeled\n", encoding="utf-8")
    return path


def test_ctrl_c_exits_130_and_writes_a_partial_report(tmp_path: Path) -> None:
    out = tmp_path / "out"
    run = subprocess.Popen(
        [sys.executable, "-m", "testbed.cli", "run", str(_long_scenario(tmp_path)),
         "--out", str(out)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert run.stderr is not None
    first = run.stderr.readline()  # the first plain progress line: the run is going
    assert "simulated (" in first, first
    run.send_signal(signal.SIGINT)
    _, err = run.communicate(timeout=120)
    assert run.returncode == 130, err
    assert "interrupted: stopping at the next step" in err
    assert "simulated: the report in" in err and "is partial (marked incomplete)" in err
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    stopped = datetime.fromisoformat(report["incomplete"]["stopped_at"].replace("Z", "+00:00"))
    assert datetime(2026, 1, 5, tzinfo=UTC) < stopped < datetime(2030, 9, 1, tzinfo=UTC)
    assert (out / "events.jsonl").stat().st_size > 0 and (out / "report.html").exists()
    last = json.loads((out / "events.jsonl").read_text(encoding="utf-8").splitlines()[-1])
    assert last["kind"] == "audit-tally"  # the log is whole up to where it stopped


def test_a_finished_run_has_no_incomplete_mark(tmp_path: Path) -> None:
    from testbed.runner import run_scenario

    result = run_scenario(ROOT / "scenarios" / "ca-outage-longer-than-lifetime.yaml")
    assert "incomplete" not in result.report.data
    stopped = run_scenario(ROOT / "scenarios" / "ca-outage-longer-than-lifetime.yaml",
                           stop=lambda: True)  # fmt: skip
    tb = stopped.testbed
    # the end of the first of the run's 200 steps
    assert tb.stopped_at == tb.scenario.start + timedelta(seconds=tb.horizon / 200)
    assert stopped.report.data["incomplete"]["stopped_at"] == tb.stopped_at.isoformat().replace(
        "+00:00", "Z")
    assert stopped.report.data["events"] < result.report.data["events"]


def test_plain_progress_prints_a_line_per_tenth_or_interval() -> None:
    stream, now = io.StringIO(), [0.0]
    bar = PlainProgress("pilot", start=datetime(2026, 1, 5, tzinfo=UTC), stream=stream,
                        every=30.0, clock=lambda: now[0])  # fmt: skip
    day = 86_400.0
    for done in range(1, 101):
        now[0] += 1.0
        bar(done * day, 100 * day)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 10  # one per tenth: 100 calls, 100 s, never 30 s without a line
    assert lines[0] == "pilot: 2026-01-15 simulated (10%), 0:00:10 elapsed, about 0:01:30 left"
    assert lines[-1] == "pilot: 2026-04-15 simulated (100%), 0:01:40 elapsed"
    stream.truncate(0)
    slow = PlainProgress("slow", stream=stream, every=30.0, clock=lambda: now[0])
    for _ in range(4):
        now[0] += 20.0
        slow(0.01, 1.0)  # hardly moving: a line at least every 30 s anyway
    assert stream.getvalue().count("slow: (1%)") == 2


@pytest.mark.parametrize(
    ("value", "text"),
    [(1506560, "1,506,560"), (1506560.0, "1,506,560"), (0, "0"), (6565.5, "6,565.50"),
     (0.9166666, "0.916667"), (0.00001, "0.00001"), (-3.0, "-3")],
)  # fmt: skip
def test_numbers_have_separators_and_no_exponent(value: float, text: str) -> None:
    assert number(value) == text
