"""A run given an outputs directory streams ``events.jsonl`` as it goes: the same bytes
as :meth:`Event.to_json` of the whole log kept in memory, the same report, and what
was recorded is on disk even when the run raises."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import testbed.runner
from testbed.core import Testbed
from testbed.event_sink import JsonlSink
from testbed.events import BATCH
from testbed.report.needs import REPORT_EVENTS
from testbed.runner import run_scenario, write_outputs

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "scenarios").glob("*.yaml"))
PILOT = ROOT / "scenarios" / "two-site-pilot.yaml"
OUTPUTS = ("events.jsonl", "report.json", "report.html")

# operators offboard and revoke (the lifecycle plot's revocations), a blocked route
# refuses traffic (the availability plot), a device waits for approval (refusals)
SMALL = """\
name: streamed-small
seed: 5
start: 2026-01-05T00:00:00Z
duration: 6d
recovery_window: 1d
sites: [{name: north, zones: [imaging, datacenter]}]
services:
  - {name: pacs-north, kind: pacs, site: north, zone: datacenter}
  - {name: ehr, kind: ehr, site: north, zone: datacenter}
network: [{from: imaging, to: pacs-north}, {from: imaging, to: ehr}]
pki: {lifetime: 2d, renew_at: 0.5, jitter: 0.0, renewal_retry: 1h, crl_interval: 12h,
      crl_validity: 2d, trust_distribution_delay: 1h, manual_approval: true,
      approval_delay: 3h}
workload: {interval: 1h, retry: 10m}
fleet: [{profile: ct-ai-onbox, count: 3, site: north, zone: imaging, owner: radiology}]
operations:
  - {at: 2d, action: revoke, target: 'device:ct-ai-onbox-north-002'}
  - {at: 4d, action: offboard, target: 'device:ct-ai-onbox-north-001'}
faults:
  - {kind: blocked-route, from: imaging, to: ehr, start: 1d, end: 3d}
"""


def _compare(scenario: Path, tmp_path: Path) -> None:
    kept = run_scenario(scenario)
    memory = write_outputs(kept, tmp_path / "memory")
    streamed = run_scenario(scenario, out=tmp_path / "streamed")
    files = write_outputs(streamed, tmp_path / "streamed")
    reference = "".join(f"{event.to_json()}\n" for event in kept.testbed.log)
    assert files["events.jsonl"].read_text(encoding="utf-8") == reference
    for name in OUTPUTS:
        assert files[name].read_bytes() == memory[name].read_bytes(), name
    log = streamed.testbed.log  # in memory: exactly the events a report reads
    read = [e for e in kept.testbed.log if any(f.accepts(e) for f in REPORT_EVENTS)]
    assert list(log) == read and 0 < log.kept < len(log) == len(kept.testbed.log)
    assert streamed.record.tally == kept.record.tally


@pytest.mark.slow
@pytest.mark.parametrize("scenario", SHIPPED, ids=lambda p: p.stem)
def test_a_streamed_shipped_scenario_writes_what_a_kept_one_does(
    scenario: Path, tmp_path: Path
) -> None:
    _compare(scenario, tmp_path)


def test_a_streamed_small_run_writes_what_a_kept_one_does(tmp_path: Path) -> None:
    scenario = tmp_path / "small.yaml"
    scenario.write_text(SMALL, encoding="utf-8")
    _compare(scenario, tmp_path)
    report = (tmp_path / "streamed" / "report.json").read_text(encoding="utf-8")
    # the plots and counts read from the kept events had something to read
    html = (tmp_path / "streamed" / "report.html").read_text(encoding="utf-8")
    assert "no denied traffic" not in html and '"pending-approval"' in report


def test_the_outputs_are_copied_when_written_elsewhere(tmp_path: Path) -> None:
    scenario = tmp_path / "small.yaml"
    scenario.write_text(SMALL, encoding="utf-8")
    streamed = run_scenario(scenario, out=tmp_path / "first")
    files = write_outputs(streamed, tmp_path / "second")
    first = (tmp_path / "first" / "events.jsonl").read_bytes()
    assert files["events.jsonl"].read_bytes() == first != b""


@pytest.mark.slow
def test_a_run_that_raises_leaves_what_it_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stopped by an error half way: every event recorded until then is on disk, whole
    lines, the first ones of the full run's log (more than one batch of them)."""
    built: list[Testbed] = []

    class Spy(Testbed):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            built.append(self)

    def stop(done: float, total: float) -> None:
        if done >= total / 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(testbed.runner, "Testbed", Spy)
    with pytest.raises(KeyboardInterrupt):
        run_scenario(PILOT, out=tmp_path / "stopped", progress=stop)
    partial = (tmp_path / "stopped" / "events.jsonl").read_text(encoding="utf-8")
    full = run_scenario(PILOT, out=tmp_path / "full")
    lines = partial.splitlines(keepends=True)
    assert len(lines) == len(built[0].log) > BATCH
    assert len(lines) < len(full.testbed.log)
    whole = (tmp_path / "full" / "events.jsonl").read_text(encoding="utf-8")
    assert lines == whole.splitlines(keepends=True)[: len(lines)]
    sink = built[0].log.sink
    assert isinstance(sink, JsonlSink) and sink.closed and sink.events == len(lines)
