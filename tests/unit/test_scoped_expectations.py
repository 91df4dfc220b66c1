"""Scoped expectations: a bound on the devices of a site, zone, profile, group or
device, with a stable id and a description, checked on the run's per-device story and
shown by id in report.json, report.html and JUnit; bad scopes are refused by name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from testbed.errors import ScenarioError
from testbed.expectations import Bound, Scope, entries
from testbed.report.html import page_html
from testbed.runner import RunResult, run_scenario
from testbed.scenario import Scenario, load_scenario

PILOT = Path(__file__).resolve().parents[2] / "scenarios" / "two-site-pilot.yaml"
SCOPED: dict[str, Any] = {
    "clinical_downtime_minutes": [
        {"max": 5000, "where": {"site": "north"}, "id": "downtime-north",
         "description": "north's devices lose at most 5,000 device-minutes"},
        {"max": 1000, "where": {"site": "south"}},
    ],
    "incidents": {"max": 3, "where": {"site": "south", "zone": "bedside"}},
    "renewals_missed": {"max": 0, "where": {"device": "ct-ai-onbox-south-001"}},
    "data_lost": 0,
}  # fmt: skip


@pytest.fixture(scope="module")
def pilot() -> Scenario:
    return load_scenario(PILOT)


@pytest.fixture(scope="module")
def scoped(pilot: Scenario) -> RunResult:
    return run_scenario(pilot.with_({"expectations": SCOPED}, base=PILOT.parent), source=PILOT)


def test_ids_default_to_the_measure_and_its_scope(pilot: Scenario) -> None:
    varied = pilot.with_({"expectations": SCOPED}, base=PILOT.parent)
    assert [e.id for e in entries(varied.expectations)] == [
        "downtime-north", "clinical_downtime_minutes@site=south",
        "incidents@site=south,zone=bedside", "renewals_missed@device=ct-ai-onbox-south-001",
        "data_lost",
    ]  # fmt: skip
    assert [e.field for e in entries(varied.expectations)][:2] == [
        "expectations.clinical_downtime_minutes[0]", "expectations.clinical_downtime_minutes[1]"]


def test_scoped_measures_are_the_story_summed_over_the_scope(scoped: RunResult) -> None:
    """Hand-checked against the breakdowns by site of the same run: north's devices
    4,315 device-minutes, south's 1,765; three incidents at south's bedside zone (the
    blocked route); one renewal missed by the skewed CT."""
    checks = {e.id: e for e in scoped.report.expectations}
    by_site = {row["site"]: row for row in scoped.report.data["breakdowns"]["site"]}
    north, south = checks["downtime-north"], checks["clinical_downtime_minutes@site=south"]
    assert north.measured == by_site["north"]["downtime_minutes"] == 4315 and north.passed
    assert south.measured == by_site["south"]["downtime_minutes"] == 1765 and not south.passed
    assert north.measured + south.measured == scoped.report.measures["clinical_downtime_minutes"]
    assert checks["incidents@site=south,zone=bedside"].measured == 3
    assert checks["renewals_missed@device=ct-ai-onbox-south-001"].measured == 1
    assert not scoped.report.passed
    assert "clinical_downtime_minutes where site=south measured 1765" in south.why


def test_report_json_and_html_show_them_by_id(scoped: RunResult) -> None:
    rows = {row["id"]: row for row in scoped.report.to_dict()["expectations"]}
    assert rows["downtime-north"]["where"] == {"site": "north"}
    assert rows["downtime-north"]["metric"] == "clinical_downtime_minutes"
    assert rows["downtime-north"]["description"].startswith("north's devices")
    page = page_html(scoped.report, scoped.record)
    assert "<td>downtime-north</td>" in page
    assert "north&#x27;s devices lose at most 5,000 device-minutes (devices of site north)" in page
    assert "FAIL: 2 of 5 expectations do not hold" in page
    measures = page.split("<h2>Measures</h2>")[1].split("<h2>")[0]
    assert "<td>clinical_downtime_minutes</td>" in measures  # no unscoped expectation on it


def test_scope_matches_every_key_given() -> None:
    scope = Scope(site="south", zone="bedside")
    assert scope.matches("x", {"site": "south", "zone": "bedside", "group": "g"})
    assert not scope.matches("x", {"site": "north", "zone": "bedside"})
    assert Scope(device="a-001").matches("a-001", {})
    with pytest.raises(ValidationError, match="at least one"):
        TypeAdapter(Scope).validate_python({})


def _problems(tmp_path: Path, expectations: str) -> list[ScenarioError]:
    text = PILOT.read_text(encoding="utf-8").split("expectations:")[0]
    path = tmp_path / "scoped.yaml"
    path.write_text(text + "expectations:\n" + expectations, encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path, profiles=PILOT.parent.parent / "fixtures" / "profiles")
    return list(caught.value.problems)


def test_unknown_selector_is_refused_with_did_you_mean(tmp_path: Path) -> None:
    problems = _problems(tmp_path, "  data_lost: {max: 0, where: {sit: north}}\n")
    [problem] = [p for p in problems if p.field.endswith(".where.sit")]
    assert problem.hint == "site" and problem.line is not None


def test_unknown_values_wrong_measures_and_twice_used_ids_are_refused(tmp_path: Path) -> None:
    problems = _problems(tmp_path, (
        "  data_lost: {max: 0, where: {site: nort}}\n"
        "  incidents: [{max: 1, where: {group: ct-ai-onbox-sout}, id: same},\n"
        "              {max: 1, where: {device: ct-ai-onbox-south-01}, id: same}]\n"
        "  fail_safe: {min: 0.9, where: {site: north}}\n"
    ))  # fmt: skip
    found = [(p.field, p.hint) for p in problems]
    assert found == [
        ("expectations.data_lost.where.site", "north"),
        ("expectations.incidents[0].where.group", "ct-ai-onbox-south"),
        ("expectations.incidents[1].id", None),
        ("expectations.fail_safe.where", None),
    ]
    assert all(p.line is not None for p in problems)
    assert "only a measure counted per device" in problems[-1].expected


def test_a_bound_carries_its_id_and_description() -> None:
    bound = Bound(max=1, id="x", description="why")
    assert (bound.id, bound.description, bound.where) == ("x", "why", None)
