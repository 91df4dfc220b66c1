"""``import testbed`` gives a small, documented public API that works end to end."""

from __future__ import annotations

import inspect
from pathlib import Path

import testbed

EXPECTED = {
    "Hospital", "Report", "RunResult", "Scenario", "ScenarioError", "Testbed",
    "TestbedError", "__version__", "load_scenario", "run_scenario",
}  # fmt: skip


def test_all_is_the_curated_api_and_every_name_exists() -> None:
    assert set(testbed.__all__) == EXPECTED
    assert list(testbed.__all__) == sorted(testbed.__all__)
    for name in testbed.__all__:
        assert hasattr(testbed, name), name


def test_every_public_name_is_documented() -> None:
    for name in testbed.__all__:
        value = getattr(testbed, name)
        if name == "__version__":
            assert isinstance(value, str) and value.count(".") >= 2
            continue
        assert inspect.getdoc(value), f"testbed.{name} has no docstring"


def test_the_api_runs_a_scenario(write_scenario: object, tmp_path: Path) -> None:
    path = write_scenario()  # type: ignore[operator]
    scenario = testbed.load_scenario(path)
    assert isinstance(scenario, testbed.Scenario)
    result = testbed.run_scenario(path)
    assert isinstance(result, testbed.RunResult)
    assert isinstance(result.report, testbed.Report)
    assert isinstance(result.testbed.hospital, testbed.Hospital)
    assert result.report.measures["unauthorized_access"] == 0
    assert issubclass(testbed.ScenarioError, testbed.TestbedError)
