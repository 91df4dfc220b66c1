"""The ``testbed`` pytest plugin: scenario files as tests, one item per expectation."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

# imported before pytester's in-process runs, which unload what they import: numpy
# (under the report's plots) cannot be loaded twice in one process
import testbed.report.plots
import testbed.runner
from testbed.pytest_plugin import is_scenario_file

pytest_plugins = ["pytester"]

TINY = """\
name: tiny
description: Two bedside gateways for ten days, one short blocked route.
seed: 7
start: 2026-01-05T00:00:00Z
duration: 10d
recovery_window: 1d
sites:
  - {name: north, zones: [bedside, datacenter]}
services:
  - {name: ehr, kind: ehr, site: north, zone: datacenter}
network:
  - {from: bedside, to: ehr}
pki: {lifetime: 4d}
fleet:
  - {profile: bedside-monitor-gateway, count: 2, site: north, zone: bedside, owner: icu}
faults:
  - {kind: blocked-route, from: bedside, to: ehr, start: 2d, end: 2d6h}
expectations:
  unauthorized_access: 0
  renewals_done: {min: 100}
"""

BAD = TINY.replace("count: 2", "count: two")


@pytest.fixture
def tiny(pytester: pytest.Pytester) -> Path:
    """A project that opts in: ``testbed_scenarios = scenarios``, one scenario there."""
    pytester.makeini("[pytest]\ntestbed_scenarios = scenarios\n")
    (pytester.path / "scenarios").mkdir()
    path = pytester.path / "scenarios" / "tiny.yaml"
    path.write_text(TINY, encoding="utf-8")
    return path


def test_one_item_per_expectation(pytester: pytest.Pytester, tiny: Path) -> None:
    result = pytester.runpytest("--collect-only", "-q")
    result.stdout.fnmatch_lines([
        "scenarios/tiny.yaml::unauthorized_access",
        "scenarios/tiny.yaml::renewals_done",
    ])


def test_expectations_pass_and_fail(pytester: pytest.Pytester, tiny: Path) -> None:
    result = pytester.runpytest("-W", "error")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "*_ tiny.yaml::renewals_done _*",
        "renewals_done measured *, expected >= 100: does not hold",
        "last * related events (certificate-renewed, renewal-missed):",
        "  2026-01-*Z certificate-renewed bedside-monitor-gateway-north-00? serial=*",
        "FAILED scenarios/tiny.yaml::renewals_done - renewals_done measured *",
    ])
    result.stdout.no_fnmatch_line("*Traceback*")
    result.stdout.no_fnmatch_line("*tiny.yaml::unauthorized_access - *")


def test_the_scenario_runs_once_per_file(
    pytester: pytest.Pytester, tiny: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs: list[object] = []
    real = testbed.runner.run_scenario

    def counting(scenario: Path, **kwargs: object) -> testbed.runner.RunResult:
        runs.append(scenario)
        return real(scenario)

    monkeypatch.setattr(testbed.runner, "run_scenario", counting)
    pytester.runpytest_inprocess().assert_outcomes(passed=1, failed=1)
    assert runs == [tiny]


def test_bad_input_is_a_collection_error_naming_every_problem(pytester: pytest.Pytester) -> None:
    bad = pytester.makefile(".yaml", bad=BAD.replace("owner: icu", "owner: icu, colour: red"))
    result = pytester.runpytest(str(bad))
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([
        "*ERROR collecting bad.yaml*",
        "bad scenario input:",
        "*bad.yaml:15:40: error: fleet?0?.count: expected a whole number* (got 'two')",
        "*bad.yaml:15:92: error: fleet?0?.colour: expected a known field here*",
    ])
    result.stdout.no_fnmatch_line("*Traceback*")


def test_a_failing_expectation_shows_its_line_and_contributors(
    pytester: pytest.Pytester, tiny: Path
) -> None:
    tiny.write_text(TINY.replace("renewals_done: {min: 100}",
                                 "clinical_downtime_minutes: {max: 0}"), encoding="utf-8")
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "clinical_downtime_minutes measured *, expected <= 0: does not hold",
        f"expectation written at {tiny}:20",
        "contributors (* related events: access-decision, renewal-missed, fault-started):",
        "  devices: bedside-monitor-gateway-north-00? (*)*",
        "  sites: north (*)",
        "  faults active: blocked-route bedside->ehr (*)",
    ])


def test_an_unrelated_scenarios_directory_is_not_collected(pytester: pytest.Pytester) -> None:
    """Installing the package must not turn another project's YAML into tests."""
    (pytester.path / "scenarios").mkdir()
    (pytester.path / "scenarios" / "load-test.yaml").write_text(
        "expectations:\n  p95_ms: 200\nusers: 50\n", encoding="utf-8"
    )
    (pytester.path / "scenarios" / "tiny.yaml").write_text(TINY, encoding="utf-8")
    result = pytester.runpytest("--collect-only", "-q")
    result.stdout.fnmatch_lines(["no tests collected*"])
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED


def test_a_file_named_on_the_command_line_is_collected(pytester: pytest.Pytester) -> None:
    path = pytester.path / "drills" / "tiny.yml"
    path.parent.mkdir()
    path.write_text(TINY, encoding="utf-8")
    result = pytester.runpytest("--collect-only", "-q", "drills/tiny.yml")
    result.stdout.fnmatch_lines(["drills/tiny.yml::unauthorized_access"])


def test_junitxml(pytester: pytest.Pytester, tiny: Path) -> None:
    junit = pytester.path / "junit.xml"
    pytester.runpytest(f"--junitxml={junit}", "--testbed-out", "out").assert_outcomes(
        passed=1, failed=1
    )
    cases = {str(c.get("name")): c for c in ET.parse(junit).getroot().iter("testcase")}
    assert sorted(cases) == ["renewals_done", "unauthorized_access"]
    assert {c.get("classname") for c in cases.values()} == {"scenarios.tiny"}
    assert cases["unauthorized_access"].find("failure") is None
    failure = cases["renewals_done"].find("failure")
    assert failure is not None
    assert failure.get("message", "").startswith("renewals_done measured")
    assert "certificate-renewed" in (failure.text or "")
    props = {p.get("name"): p.get("value") for p in cases["renewals_done"].iter("property")}
    assert props.keys() == {"measured", "expected", "passed", "scenario", "seed", "report"}
    assert props["expected"] == ">= 100" and props["passed"] == "false"
    assert float(str(props["measured"])) < 100 and props["seed"] == "7"
    assert props["report"] == str(pytester.path / "out" / "tiny" / "report.json")


def test_testbed_out_writes_each_run(pytester: pytest.Pytester, tiny: Path) -> None:
    pytester.runpytest("--testbed-out", "out").assert_outcomes(passed=1, failed=1)
    written = sorted(p.name for p in (pytester.path / "out" / "tiny").iterdir())
    # the report and the log, and what `testbed report` needs to read the run again
    assert written == ["events.jsonl", "profiles", "report.html", "report.json", "run.json",
                       "scenario.yaml"]


@pytest.mark.parametrize(
    ("relative", "text"),
    [
        ("scenarios/notes.txt", "expectations: none"),
        ("other/nested.yaml", "expectations:\n  unauthorized_access: 0\n"),
    ],
)
def test_only_yaml_under_the_configured_directories(
    pytester: pytest.Pytester, relative: str, text: str
) -> None:
    pytester.makeini("[pytest]\ntestbed_scenarios = scenarios\n")
    path = pytester.path / relative
    path.parent.mkdir()
    path.write_text(text, encoding="utf-8")
    assert not is_scenario_file(path, pytester.parseconfig())
    assert is_scenario_file(pytester.path / "scenarios" / "x.yaml", pytester.parseconfig())


def test_a_fault_naming_no_fleet_device_is_bad_input(pytester: pytest.Pytester) -> None:
    """Caught when the file is loaded (it used to crash inside the run with a traceback)."""
    fault = "  - {kind: clock-skew, target: 'device:nobody-001', offset: 1h, start: 1d, end: 2d}\n"
    broken = pytester.makefile(".yaml", broken=TINY.replace("faults:\n", "faults:\n" + fault))
    result = pytester.runpytest(str(broken))
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([
        "*broken.yaml:17:24: error: faults?0?.target: expected 'device:' and the id of "
        "a fleet device, e.g. 'bedside-monitor-gateway-north-001' (got 'device:nobody-001')",
    ])
    result.stdout.no_fnmatch_line("*Traceback*")


def test_scoped_expectations_are_junit_cases_by_id(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ntestbed_scenarios = scenarios\n")
    (pytester.path / "scenarios").mkdir()
    scoped = TINY.replace("  renewals_done: {min: 100}\n", (
        "  incidents: [{max: 0, where: {site: north}, id: no-incident-north,\n"
        "               description: the blocked route opens none},\n"
        "              {max: 5, where: {device: bedside-monitor-gateway-north-001}}]\n"
    ))  # fmt: skip
    (pytester.path / "scenarios" / "tiny.yaml").write_text(scoped, encoding="utf-8")
    junit = pytester.path / "junit.xml"
    pytester.runpytest(f"--junitxml={junit}").assert_outcomes(passed=2, failed=1)
    cases = {str(c.get("name")): c for c in ET.parse(junit).getroot().iter("testcase")}
    assert sorted(cases) == ["incidents@device=bedside-monitor-gateway-north-001",
                             "no-incident-north", "unauthorized_access"]  # fmt: skip
    failure = cases["no-incident-north"].find("failure")
    assert failure is not None and "the blocked route opens none" in (failure.text or "")
    props = {p.get("name"): p.get("value") for p in cases["no-incident-north"].iter("property")}
    assert props["metric"] == "incidents" and props["where"] == "site=north"
    assert props["description"] == "the blocked route opens none"
