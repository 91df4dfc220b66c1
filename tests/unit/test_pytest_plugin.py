"""The ``testbed`` pytest plugin: scenario files as tests, one item per expectation."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import testbed.run
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
    real = testbed.run.run_scenario

    def counting(scenario: Path, **kwargs: object) -> testbed.run.RunResult:
        runs.append(scenario)
        return real(scenario)

    monkeypatch.setattr(testbed.run, "run_scenario", counting)
    pytester.runpytest_inprocess().assert_outcomes(passed=1, failed=1)
    assert runs == [tiny]


def test_bad_input_is_one_failing_item_without_traceback(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", bad=BAD)
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*_ bad.yaml::scenario _*",
        "bad scenario input: *bad.yaml: fleet?0?.count: expected * (got 'two')",
    ])
    result.stdout.no_fnmatch_line("*Traceback*")


def test_junitxml(pytester: pytest.Pytester, tiny: Path) -> None:
    junit = pytester.path / "junit.xml"
    pytester.runpytest(f"--junitxml={junit}").assert_outcomes(passed=1, failed=1)
    cases = {str(c.get("name")): c for c in ET.parse(junit).getroot().iter("testcase")}
    assert sorted(cases) == ["renewals_done", "unauthorized_access"]
    assert {c.get("classname") for c in cases.values()} == {"scenarios.tiny.yaml"}
    assert cases["unauthorized_access"].find("failure") is None
    failure = cases["renewals_done"].find("failure")
    assert failure is not None
    assert failure.get("message", "").startswith("renewals_done measured")
    assert "certificate-renewed" in (failure.text or "")


def test_testbed_out_writes_each_run(pytester: pytest.Pytester, tiny: Path) -> None:
    pytester.runpytest("--testbed-out", "out").assert_outcomes(passed=1, failed=1)
    written = sorted(p.name for p in (pytester.path / "out" / "tiny").iterdir())
    # the report and the log, and what `testbed report` needs to read the run again
    assert written == ["events.jsonl", "profiles", "report.html", "report.json", "run.json",
                       "scenario.yaml"]


def test_collects_yaml_with_expectations_anywhere(tmp_path: Path) -> None:
    elsewhere = tmp_path / "checks" / "drill.yml"
    elsewhere.parent.mkdir()
    elsewhere.write_text(TINY, encoding="utf-8")
    assert is_scenario_file(elsewhere)


@pytest.mark.parametrize(
    ("relative", "text"),
    [
        ("profiles/monitor.yaml", "name: monitor\nexpected_services: []\n"),
        ("scenarios/scenario.schema.json", '{"expectations": {}}'),
        ("scenarios/notes.txt", "expectations: none"),
        ("other/nested.yaml", "pki:\n  expectations: {}\n"),
    ],
)
def test_ignores_other_files(tmp_path: Path, relative: str, text: str) -> None:
    path = tmp_path / relative
    path.parent.mkdir()
    path.write_text(text, encoding="utf-8")
    assert not is_scenario_file(path)


def test_a_fault_naming_no_fleet_device_is_bad_input(pytester: pytest.Pytester) -> None:
    """Caught when the file is loaded (it used to crash inside the run with a traceback)."""
    fault = "  - {kind: clock-skew, target: 'device:nobody-001', offset: 1h, start: 1d, end: 2d}\n"
    pytester.makefile(".yaml", broken=TINY.replace("faults:\n", "faults:\n" + fault))
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*_ broken.yaml::scenario _*",
        "bad scenario input: *broken.yaml: faults?0?.target: expected 'device:' and the id of "
        "a fleet device, e.g. 'bedside-monitor-gateway-north-001' (got 'device:nobody-001')",
    ])
    result.stdout.no_fnmatch_line("*Traceback*")
