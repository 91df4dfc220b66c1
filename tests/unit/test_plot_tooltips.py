"""Hover texts in report.html's plots: native SVG ``<title>`` elements naming the
fault, and the device and reason of each mark and denial."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import pytest

from testbed.report.hover import FaultWindows
from testbed.report.plots import availability_plot, lifecycle_plot, svg_text, unavailability_plot
from testbed.report.tooltips import MAX_POINTS, Tooltips, attach
from testbed.runner import RunResult, run_scenario

PILOT = Path(__file__).resolve().parents[2] / "scenarios" / "two-site-pilot.yaml"
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def pilot() -> RunResult:
    return run_scenario(PILOT)


def _titles(svg: str) -> list[str]:
    root = ET.fromstring(svg)
    return [t.text or "" for t in root.iter(f"{SVG}title")]


def test_lifecycle_marks_name_the_device_and_why(pilot: RunResult) -> None:
    plot = lifecycle_plot(pilot.record)
    titles = _titles(attach(svg_text(plot.figure), plot.tooltips))
    rebootstrap = [t for t in titles if "re-bootstrapped 20" in t]
    assert len(rebootstrap) == 2
    assert any(t.startswith("ct-ai-onbox-south-001 (ct-ai-onbox-south)") and
               "its certificate expired" in t and "during fault clock-skew" in t
               for t in rebootstrap)  # fmt: skip
    offboarded = [t for t in titles if ": offboarded 20" in t]
    assert len(offboarded) == 1 and offboarded[0].startswith("bedside-monitor-gateway-south-001")
    assert "cessation of operation" in offboarded[0]
    # a title per drawn mark: issued, renewed, expired, revoked, offboarded, re-bootstrapped
    per_mark = [t for t in titles if " (" in t and " UTC" in t and not t.startswith("fault")]
    assert len(per_mark) == 14 + 45 + 2 + 1 + 1 + 2


def test_fault_bands_name_the_fault_and_the_devices_it_hit(pilot: RunResult) -> None:
    plot = lifecycle_plot(pilot.record)
    titles = _titles(attach(svg_text(plot.figure), plot.tooltips))
    route = [t for t in titles if t.startswith("fault blocked-route")]
    assert route == ["fault blocked-route on bedside->ehr at south, 2026-02-04 00:00 UTC to "
                     "2026-02-04 04:00 UTC; 3 devices hit: bedside-monitor-gateway-south-001, "
                     "bedside-monitor-gateway-south-002, bedside-monitor-gateway-south-003"]
    stale = [t for t in titles if t.startswith("fault trust-bundle-stale")]
    assert stale and stale[0].endswith("no effect seen on any device")


def test_each_denial_names_device_service_and_reason(pilot: RunResult) -> None:
    plot = availability_plot(pilot.record)
    svg = attach(svg_text(plot.figure), plot.tooltips)
    titles = _titles(svg)
    denials = [t for t in titles if " denied " in t and "denied deliveries" not in t]
    assert len(denials) == 1425
    assert ("bedside-monitor-gateway-south-001 denied ehr: route-blocked "
            "(bedside->ehr blocked), 2026-02-04") in "\n".join(denials)
    assert any(t.startswith("route-blocked: 144 denied deliveries, 3 devices") for t in titles)
    assert svg == attach(svg_text(availability_plot(pilot.record).figure), plot.tooltips)


def test_site_lines_name_the_devices_down(pilot: RunResult) -> None:
    plot = unavailability_plot(pilot.record)
    titles = _titles(attach(svg_text(plot.figure), plot.tooltips))
    south = [t for t in titles if t.startswith("site south")]
    assert len(south) == 1 and "at most 3 devices" in south[0]
    assert "bedside-monitor-gateway-south-002" in south[0]


def test_markers_that_do_not_match_their_texts_keep_only_the_whole_title() -> None:
    svg = ('<svg xmlns="http://www.w3.org/2000/svg"><g id="a"><g clip-path="x">'
           '<use x="1"/><use x="2"/></g></g><g id="b"><use x="3"/></g></svg>')
    tips = Tooltips()
    tips.on("a", "all of a")
    tips.each("a", ["one"], str)  # two markers drawn: no text is put on the wrong one
    tips.each("b", ["three & <more>"], str)
    out = attach(svg, tips)
    assert _titles(out) == ["all of a", "three & <more>"]
    assert '<g id="b"><g><title>three &amp; &lt;more&gt;</title><use x="3"/></g></g>' in out


def test_fault_windows_name_the_faults_that_hit_the_device_then() -> None:
    effects = [
        {"kind": "ca-outage", "target": "ca", "start": "2026-01-02T00:00:00Z",
         "effect_window_end": "2026-01-04T00:00:00Z", "devices": ["d1", "d2", "d1"]},
        {"kind": "blocked-route", "target": "pacs", "start": "2026-01-03T00:00:00Z",
         "effect_window_end": "2026-01-03T12:00:00Z", "devices": ["d1"]},
        {"kind": "clock-skew", "target": "d3", "devices": []},
    ]  # fmt: skip
    windows = FaultWindows(effects)
    at = datetime(2026, 1, 3, 6, tzinfo=UTC)
    # in the effect rows' order, each once, bounds included
    assert windows.during("d1", at) == "; during fault ca-outage (ca), blocked-route (pacs)"
    assert windows.during("d2", at) == "; during fault ca-outage (ca)"
    assert windows.during("d2", datetime(2026, 1, 4, tzinfo=UTC)) == "; during fault ca-outage (ca)"
    assert windows.during("d2", datetime(2026, 1, 4, 0, 0, 1, tzinfo=UTC)) == ""
    assert windows.during("d1", datetime(2026, 1, 1, tzinfo=UTC)) == ""
    assert windows.during("d3", at) == "" and windows.during("nobody", at) == ""


def test_markers_above_the_limit_get_no_text_and_none_is_made() -> None:
    made: list[int] = []

    def text(i: int) -> str:
        made.append(i)
        return str(i)

    tips = Tooltips()
    tips.each("many", range(MAX_POINTS + 1), text)
    assert "many" not in tips.points and made == []
    tips.each("few", range(3), text)
    assert tips.points["few"] == ["0", "1", "2"] and made == [0, 1, 2]
