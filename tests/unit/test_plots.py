"""The run's plots: what they draw, and that their SVG is reproducible."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from testbed.events import EventKind
from testbed.report.plots import (
    Mark,
    availability,
    certificate_timeline,
    denied_traffic,
    lifecycle_marks,
    svg_text,
)
from testbed.runner import RunResult, run_scenario
from testbed.sim.preproduction import TEST_REQUESTER

PILOT = Path(__file__).resolve().parents[2] / "scenarios" / "two-site-pilot.yaml"


@pytest.fixture(scope="module")
def pilot() -> RunResult:
    return run_scenario(PILOT)


def _legend_texts(fig: Figure) -> list[str]:
    legend = fig.axes[0].get_legend()
    assert legend is not None
    return [t.get_text() for t in legend.get_texts()]


def test_marks_follow_the_event_log(pilot: RunResult) -> None:
    tb = pilot.testbed
    marks = lifecycle_marks(pilot.record)
    counts = {mark: sum(1 for m in marks if m.mark is mark) for mark in Mark}
    assert counts[Mark.ISSUED] == len(tb.log.of_kind(EventKind.CERTIFICATE_ISSUED))
    assert counts[Mark.RENEWED] == len(tb.log.of_kind(EventKind.CERTIFICATE_RENEWED))
    assert counts[Mark.EXPIRED] == len(tb.log.of_kind(EventKind.CERTIFICATE_EXPIRED)) > 0
    assert marks == sorted(marks)
    assert {m.group for m in marks} <= {a.group for a in tb.agents}
    # an expiry is drawn at the certificate's notAfter, however late the device noticed
    expired = {(m.device_id, m.time) for m in marks if m.mark is Mark.EXPIRED}
    for event in tb.log.of_kind(EventKind.CERTIFICATE_EXPIRED):
        serial = int(str(event.data["serial"]), 16)
        not_after = tb.hospital.ca.records[serial].not_after.replace(microsecond=0)  # as in X.509
        assert (event.subject, not_after) in expired
        assert event.time >= tb.hospital.ca.records[serial].not_after


def test_revocations_of_preproduction_test_certificates_are_left_out(pilot: RunResult) -> None:
    ca = pilot.testbed.hospital.ca
    requesters = [ca.records[serial].requester for serial in ca.revocations]
    revoked = [m for m in lifecycle_marks(pilot.record) if m.mark is Mark.REVOKED]
    assert TEST_REQUESTER in requesters
    assert len(revoked) == sum(1 for r in requesters if r != TEST_REQUESTER) > 0
    assert {m.device_id for m in revoked} <= set(pilot.testbed.by_id)


def test_timeline_has_one_row_per_group_and_a_legend(pilot: RunResult) -> None:
    fig = certificate_timeline(pilot.record)
    groups = list(dict.fromkeys(a.group for a in pilot.testbed.agents))
    assert isinstance(fig.canvas, FigureCanvasAgg)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == groups
    texts = _legend_texts(fig)
    assert [m.value for m in Mark] == [t for t in texts if not t.startswith("fault:")]
    kinds = dict.fromkeys(f"fault: {f.kind}" for f in pilot.testbed.scenario.faults)
    assert [t for t in texts if t.startswith("fault:")] == list(kinds)


def test_timeline_labels_ticks_with_utc_dates(pilot: RunResult) -> None:
    fig = certificate_timeline(pilot.record)
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert labels[0] == "2026-01-05"


def test_denied_traffic_counts_only_denied_clinical_traffic(pilot: RunResult) -> None:
    denied = denied_traffic(pilot.record)
    events = [
        e for e in pilot.testbed.log.of_kind(EventKind.ACCESS_DECISION)
        if e.data["purpose"] == "traffic" and e.data["allowed"] is False
    ]
    assert sum(len(times) for times in denied.values()) == len(events) > 0
    assert list(denied) == sorted(denied)


def test_availability_draws_one_cumulative_line_per_reason(pilot: RunResult) -> None:
    denied = denied_traffic(pilot.record)
    fig = availability(pilot.record)
    lines = {line.get_label(): line for line in fig.axes[0].get_lines()}
    assert [t for t in _legend_texts(fig) if not t.startswith("fault:")] == list(denied)
    for reason, times in denied.items():
        assert list(np.asarray(lines[reason].get_ydata()))[-1] == len(times)


def test_svg_is_identical_for_identical_figures(pilot: RunResult) -> None:
    first = svg_text(certificate_timeline(pilot.record))
    second = svg_text(certificate_timeline(pilot.record))
    assert first == second
    assert first.startswith("<svg")
    assert "<dc:date>" not in first


def test_many_marks_are_drawn_as_an_image_and_stay_reproducible(
    pilot: RunResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above RASTER_MARKS marks of one kind the markers become one embedded image: the
    page stays small for a large fleet, and identical figures still give identical SVG."""
    import testbed.report.plots as plots

    vector = svg_text(certificate_timeline(pilot.record))
    legend = _legend_texts(certificate_timeline(pilot.record))
    assert "<image" not in vector
    monkeypatch.setattr(plots, "RASTER_MARKS", 0)
    first = svg_text(certificate_timeline(pilot.record))
    assert "<image" in first and "data:image/png;base64," in first
    assert first == svg_text(certificate_timeline(pilot.record))
    assert _legend_texts(certificate_timeline(pilot.record)) == legend  # still vector
