"""The HTML report: self-contained, escaped, complete and reproducible."""

from __future__ import annotations

import re
from html import escape
from pathlib import Path

import pytest

from testbed.expectations import ExpectationResult
from testbed.report import Report
from testbed.report.html import measures_html, page_html, summary_html, write_html
from testbed.report.measure_info import MEASURES, reading
from testbed.runner import RunResult, run_scenario
from testbed.verdicts import Verdict

PILOT = Path(__file__).resolve().parents[2] / "scenarios" / "two-site-pilot.yaml"


@pytest.fixture(scope="module")
def pilot() -> RunResult:
    return run_scenario(PILOT)


@pytest.fixture(scope="module")
def page(pilot: RunResult) -> str:
    return page_html(pilot.report, pilot.record)


def _report(*, passed: bool = True, **data: object) -> Report:
    check = ExpectationResult("data_lost", "== 0", 0.0 if passed else 3.0, passed,
                              "data_lost measured 3, expected == 0: does not hold")
    return Report("tiny", 7, {"data_lost": check.measured, "fail_safe": 0.9}, (check,), data)


def test_write_html_writes_the_page(pilot: RunResult, page: str, tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    write_html(pilot.report, pilot.record, path)
    assert path.read_bytes() == page.encode("utf-8")


def test_page_is_self_contained(page: str) -> None:
    assert page.startswith("<!DOCTYPE html>")
    assert page.count("<svg") == 3
    assert "<script" not in page
    assert not re.search(r"<link|<img|\ssrc=|@import|url\((?!#)", page)


def test_page_has_every_section(pilot: RunResult, page: str) -> None:
    for title in ("Expectations", "Measures", "Incidents by category", "Denials by reason",
                  "Pre-production failure tests", "What each fault did", "Incidents",
                  "By site", "By zone", "By profile", "By group", "By issuing CA",
                  "Certificate lifecycle", "Denied clinical traffic"):
        assert f"<h2>{title}</h2>" in page
    assert "<td>trust-bundle-stale</td>" in page and "no effect seen" in page
    assert "two-site-pilot (seed 20261128)" in page
    for check in pilot.report.expectations:
        assert f"<td>{check.id}</td>" in page


def test_page_counts_preproduction_outcomes(pilot: RunResult, page: str) -> None:
    tests = pilot.report.data["preproduction_tests"]
    assert f'<td>fail-safe</td><td class="num">{tests["fail-safe"]}</td>' in page
    assert f'<td>fail-silent</td><td class="num">{tests["fail-silent"]}</td>' in page
    assert '<td>unsafe</td><td class="num">0</td>' in page


def test_page_lists_faults_and_denials(pilot: RunResult, page: str) -> None:
    effects = pilot.report.data["fault_effects"]
    assert [e["kind"] for e in effects] == [f["kind"] for f in pilot.report.data["faults"]]
    for fault in effects:
        assert f"<td>{fault['kind']}</td><td>{escape(fault['target'])}</td>" in page
    for reason, count in pilot.report.data["denials_by_reason"].items():
        assert f'<td>{reason}</td><td class="num">{count:,}</td>' in page


@pytest.mark.slow
def test_same_seed_gives_a_byte_identical_page(page: str) -> None:
    again = run_scenario(PILOT)
    assert page_html(again.report, again.record) == page


def test_banner_says_pass_or_fail() -> None:
    assert '<div class="banner pass">PASS: all 1 expectations hold</div>' in summary_html(
        _report(passed=True))
    failing = summary_html(_report(passed=False))
    assert '<div class="banner fail">FAIL: 1 of 1 expectations do not hold (data_lost)' in failing
    assert '<td class="fail">FAIL</td>' in failing
    assert "data_lost measured 3, expected == 0: does not hold" in failing


def test_every_text_is_escaped() -> None:
    evil = "<script>alert(1)</script>"
    report = _report(description=evil, incidents_by_category={evil: 1},
                     faults=[{"kind": evil, "target": "a&b", "start": "s", "end": "e"}])
    html = summary_html(report)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<td>a&amp;b</td>" in html


def test_empty_sections_say_none() -> None:
    html = summary_html(_report(incidents_by_category={}, denials_by_reason={}))
    assert '<h2>Incidents by category</h2>\n<p class="muted">none</p>' in html
    assert '<h2>Faults</h2>\n<p class="muted">none</p>' in html


def test_measures_table_gives_units_readings_and_definitions() -> None:
    html = measures_html(_report())
    assert ('<tr><td>fail_safe</td><td class="num">90%</td><td class="muted">'
            "pre-production failure tests that failed safe</td></tr>") in html
    assert "== 0" not in html  # the expectations have their own table


def test_measures_table_does_not_repeat_the_expectations() -> None:
    """A measure with an expectation is a row of the expectations' table, with its
    unit, reading and definition there, and not a row of the measures' table again."""
    html = summary_html(_report())
    expectations, measures = html.split("<h2>Measures</h2>")[0], measures_html(_report())
    assert "<td>data_lost</td>" not in measures
    assert ('<tr><td>data_lost</td><td>== 0</td><td class="num">0 items</td>'
            '<td class="pass">PASS</td>') in expectations
    assert "clinical items that will never be delivered" in expectations


def test_pilot_measures_and_expectations_share_no_row(pilot: RunResult, page: str) -> None:
    section = page.split("<h2>Measures</h2>")[1].split("<h2>")[0]
    for check in pilot.report.expectations:
        assert f"<td>{check.id}</td>" not in section
    assert "<tr><td>renewals_done</td>" in section


def test_plots_are_images_with_titles_and_alt_text(pilot: RunResult, page: str) -> None:
    svgs = re.findall(r"<svg [^>]*>\n<title>[^<]+</title>", page)
    assert len(svgs) == 3
    for svg in svgs:
        assert 'role="img"' in svg
        label = re.search(r'aria-label="([^"]+)"', svg)
        assert label is not None and len(label.group(1)) > 40
    assert "<title>Certificate lifecycle by device group</title>" in page
    assert "<title>Denied clinical traffic by reason</title>" in page
    lifecycle = re.search(r'aria-label="(Timeline of [^"]+)"', page)
    assert lifecycle is not None
    text = lifecycle.group(1)
    assert "6 device groups" in text and "1 offboarded" in text
    assert "blocked-route bedside-&gt;ehr at south (4h, widened to be seen" in text
    assert "recovery window" in text


@pytest.mark.parametrize(
    ("name", "value", "text"),
    [("clinical_downtime_minutes", 6080, "6,080 device-minutes = 4.2 days"),
     ("clinical_downtime_minutes", 150.5, "150.50 device-minutes = 2.5 h"),
     ("onboarding_minutes_max", 90, "90 minutes"), ("fail_safe", 0.916667, "91.7%"),
     ("devices_offboarded", 1, "1 device"), ("devices_offboarded", 2, "2 devices"),
     ("audit_coverage", 1, "100%"), ("unauthorized_access", 1506560, "1,506,560 decisions")],
)  # fmt: skip
def test_a_reading_for_people(name: str, value: float, text: str) -> None:
    assert reading(name, value) == text


def test_every_measure_has_a_unit_and_a_definition_and_is_documented() -> None:
    from testbed.metrics import Metrics

    assert set(Metrics().measures()) <= set(MEASURES)
    shipped = Path(__file__).resolve().parents[2] / "scenarios"
    for scenario in sorted(shipped.glob("*.yaml")):  # the measures of optional blocks too
        text = scenario.read_text(encoding="utf-8")
        if "\nehr:" in text or "\ndicom:" in text:
            assert set(run_scenario(scenario).report.measures) <= set(MEASURES), scenario
    documented = (Path(__file__).resolve().parents[2] / "docs" / "measures.md").read_text()
    assert all(f"| `{name}` |" in documented for name in MEASURES)


def test_report_renders_itself_in_notebooks() -> None:
    report = _report()
    assert report._repr_html_() == summary_html(report)


@pytest.mark.parametrize(("passed", "verdict"), [(True, Verdict.PASS), (False, Verdict.FAIL)])
def test_verdict_of(passed: bool, verdict: Verdict) -> None:
    assert Verdict.of(passed) is verdict


def test_denials_by_reason_are_clinical_traffic_only(pilot: RunResult, page: str) -> None:
    """The pilot's 12 cert-revoked refusals are its pre-production tests': they are
    counted as the checks' denials, not mixed into clinical traffic's."""
    from testbed.report.plots import denied_traffic

    data = pilot.report.data
    clinical = {reason: len(times) for reason, times in denied_traffic(pilot.record).items()}
    assert data["denials_by_reason"] == clinical
    assert "cert-revoked" not in data["denials_by_reason"]
    checks = data["check_denials_by_purpose"]
    assert checks["revoked-certificate"]["cert-revoked"] == 12
    assert set(checks) <= {"expired-credential", "revoked-certificate", "blocked-route",
                           "stale-probe", "recovery-check"}  # fmt: skip
    total = sum(clinical.values()) + sum(n for r in checks.values() for n in r.values())
    assert total == data["counts"]["denied"]
    assert "<h2>Denials of the hospital&#x27;s checks</h2>" in page
