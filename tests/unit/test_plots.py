"""The run's plots: what they draw, and that their SVG is reproducible."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from testbed.events import EventKind
from testbed.faults import BlockedRoute, CaOutage
from testbed.metrics import CLINICAL_PURPOSES
from testbed.report.bands import MIN_WIDTH, fault_bands
from testbed.report.needs import LIFECYCLE
from testbed.report.plots import (
    Mark,
    availability,
    certificate_timeline,
    denied_traffic,
    lifecycle_marks,
    svg_text,
    unavailability_plot,
)
from testbed.report.story import fault_effects
from testbed.runner import RunResult, run_scenario
from testbed.sim.preproduction import TEST_REQUESTER
from testbed.units import parse_duration

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
    assert ["recovery window", *(m.value for m in Mark)] == [
        t for t in texts if not t.startswith("fault:")
    ]
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


def test_denied_clinical_traffic_includes_refused_fhir_requests() -> None:
    """A FHIR request the access point refuses (purpose ``fhir-request``) is clinical
    traffic denied too (``CLINICAL_PURPOSES``): in the plot and in the device stories."""
    result = run_scenario(PILOT.parent / "ehr-smart-resilience.yaml")
    denied = denied_traffic(result.record)
    events = [
        e for e in result.testbed.log.of_kind(EventKind.ACCESS_DECISION)
        if e.data["purpose"] in CLINICAL_PURPOSES and e.data["allowed"] is False
    ]
    assert any(e.data["purpose"] == "fhir-request" for e in events)
    assert sum(len(times) for times in denied.values()) == len(events)


def test_availability_draws_one_cumulative_line_per_reason(pilot: RunResult) -> None:
    denied = denied_traffic(pilot.record)
    fig = availability(pilot.record)
    lines = {line.get_label(): line for line in fig.axes[0].get_lines()}
    texts = [t for t in _legend_texts(fig) if not t.startswith("fault:")]
    assert texts == ["recovery window", *denied]
    end = pilot.record.span / timedelta(days=1)
    for reason, times in denied.items():
        xs, ys = np.asarray(lines[reason].get_xdata()), np.asarray(lines[reason].get_ydata())
        assert ys[-1] == len(times) and ys[0] == 0
        assert xs[0] == 0 and xs[-1] == end  # the line runs on to the end of the run


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


def test_faults_are_shaded_only_on_the_rows_they_hit(pilot: RunResult) -> None:
    """The clock-skew fault hit one device: its band covers that device's row only."""
    fig = certificate_timeline(pilot.record)
    groups = list(dict.fromkeys(a.group for a in pilot.testbed.agents))
    effects = fault_effects(pilot.record)
    hit_rows: dict[str, set[int]] = {}
    for fault, effect in zip(pilot.record.faults, effects, strict=True):
        rows = {groups.index(pilot.record.groups[d]) for d in effect["devices"]}
        hit_rows.setdefault(str(fault.kind), set()).update(rows)
    drawn: dict[str, set[int]] = {}
    kinds = [str(f.kind) for f in pilot.record.faults]
    for patch in fig.axes[0].patches:
        index, _, row = str(patch.get_gid()).removeprefix("fault-").partition("-row-")
        if row:
            drawn.setdefault(kinds[int(index)], set()).add(int(row))
    assert drawn["clock-skew"] == {groups.index("ct-ai-onbox-south")} == hit_rows["clock-skew"]
    for kind, rows in drawn.items():
        assert rows == hit_rows[kind]
        assert len(rows) < len(groups)
    assert "trust-bundle-stale" not in drawn  # no effect seen: an outline, no row shaded


def _record(faults: tuple[object, ...], devices: dict[str, str]) -> SimpleNamespace:
    """What :func:`fault_bands` reads of a run record: a 90-day run and 3 days' recovery."""
    t0 = datetime(2026, 1, 5, tzinfo=UTC)
    return SimpleNamespace(span=timedelta(days=93), start=t0, groups=devices, faults=faults,
                           scenario=SimpleNamespace(start=t0))


def test_a_short_fault_is_widened_and_marked_a_long_one_is_not() -> None:
    short = BlockedRoute(start=parse_duration("30d"), end=parse_duration("30d4h"),
                         source="bedside", to="ehr")
    long = CaOutage(start=parse_duration("20d"), end=parse_duration("22d"))
    record = _record((short, long), {"a-001": "a", "b-001": "b"})
    effects = [{"target": "bedside->ehr", "devices": ["b-001"]}, {"target": "ca", "devices": []}]
    widened, kept = fault_bands(record, effects, {"a": 0, "b": 1})  # type: ignore[arg-type]
    assert widened.widened and widened.label == "4h" and widened.rows == (1,)
    assert widened.end - widened.start == pytest.approx(MIN_WIDTH * 93)
    assert (widened.start + widened.end) / 2 == pytest.approx(30 + 2 / 24)  # around its middle
    assert not kept.widened and (kept.start, kept.end) == (20, 22) and kept.rows == ()


def test_offboarding_and_rebootstrap_are_marked(pilot: RunResult) -> None:
    marks = lifecycle_marks(pilot.record)
    offboarded = [m for m in marks if m.mark is Mark.OFFBOARDED]
    assert [m.group for m in offboarded] == ["bedside-monitor-gateway-south"]
    rebootstraps = [e for e in pilot.testbed.log.of_kind(EventKind.POLICY_CHANGED)
                    if e.data.get("change") == "re-bootstrap"]  # fmt: skip
    assert sum(1 for m in marks if m.mark is Mark.REBOOTSTRAPPED) == len(rebootstraps)


def test_recovery_window_is_drawn(pilot: RunResult) -> None:
    for fig in (certificate_timeline(pilot.record), availability(pilot.record)):
        spans = [p for p in fig.axes[0].patches if p.get_label() == "recovery window"]
        assert len(spans) == 1
        assert fig.axes[0].get_title()


def test_devices_unavailable_by_site_follow_the_outages(pilot: RunResult) -> None:
    """A line per site; its steps are the devices in an outage at that moment: the
    pilot's blocked route takes three south bedside gateways down together for 4h."""
    plot = unavailability_plot(pilot.record)
    lines = {str(line.get_label()): line for line in plot.figure.axes[0].get_lines()}
    assert {label for label in lines if not label.startswith("_")} == {"site north",
                                                                      "site south"}
    south = np.asarray(lines["site south"].get_ydata())
    assert south.max() == 3 and south[0] == 0 and south[-1] == 0
    days = np.asarray(lines["site south"].get_xdata())
    assert days[-1] == pilot.record.span / timedelta(days=1)  # to the end of the run
    assert plot.title == "Devices unavailable by site"
    assert "south at most 3" in plot.alt and "north at most 1" in plot.alt


def test_certificate_marks_share_their_events_serial_and_say_which_certificate(
    pilot: RunResult,
) -> None:
    renewed = [m for m in lifecycle_marks(pilot.record) if m.mark is Mark.RENEWED]
    events = {(e.subject, e.time): e for e in pilot.record.events.select(
        *LIFECYCLE) if e.kind is EventKind.CERTIFICATE_RENEWED}  # fmt: skip
    assert renewed and len(renewed) == len(events)
    for mark in renewed:
        serial = events[mark.device_id, mark.time].data["serial"]
        assert mark.serial is serial  # the event's text, not a copy per mark
        assert mark.detail == "" and mark.what == f"certificate {serial}"
