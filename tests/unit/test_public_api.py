"""``import testbed`` gives a small, documented public API that works end to end."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

import testbed

EXPECTED = {
    "Hospital", "Report", "Run", "RunResult", "Scenario", "ScenarioError", "Testbed",
    "TestbedError", "__version__", "compare", "load_scenario", "run", "run_scenario",
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


def test_with_changes_a_scenario_and_validates_it_again(write_scenario: object) -> None:
    scenario = testbed.load_scenario(write_scenario())  # type: ignore[operator]
    varied = scenario.with_({"pki.lifetime": "10d", "fleet[0].count": 3}, seed=9)
    assert (varied.pki.lifetime.days, varied.fleet[0].count, varied.seed) == (10, 3, 9)
    assert scenario.fleet[0].count == 2  # the original is unchanged
    assert scenario.with_() == scenario
    with pytest.raises(testbed.ScenarioError) as raised:
        scenario.with_({"pki.lifetme": "10d", "fleet[0].count": "many"})
    assert [(p.file, p.field, p.hint) for p in raised.value.problems] == [
        ("Scenario.with_", "fleet[0].count", None),
        ("Scenario.with_", "pki.lifetme", "lifetime"),
    ]
    with pytest.raises(testbed.ScenarioError, match="a path that exists"):
        scenario.with_({"fleet[5].count": 1})
    with pytest.raises(testbed.ScenarioError, match="a site"):  # cross-checked too
        scenario.with_({"fleet[0].site": "west"})


def test_a_run_as_dataframes(write_scenario: object) -> None:
    path = write_scenario()  # type: ignore[operator]
    run = testbed.run(path)
    assert isinstance(run, testbed.Run) and run.passed
    frame = run.measures_frame()
    assert frame.loc["unauthorized_access", "value"] == 0
    assert frame.loc["unauthorized_access", "expected"] == "== 0"
    assert list(run.breakdown("zone").index) == ["imaging"]
    assert run.breakdown("zone").loc["imaging", "devices"] == 2
    with pytest.raises(ValueError, match="breakdown by one of site"):
        run.breakdown("colour")
    events = run.events_frame("certificate-issued")
    assert set(events["kind"]) == {"certificate-issued"} and len(events) >= 2
    assert len(run.events_frame()) == run.report.data["events"]
    table = testbed.compare({"a": run, "b": testbed.run(path, seed=8)})
    assert list(table.columns) == ["a", "b"]
    assert table.loc["unauthorized_access"].tolist() == [0, 0]
    assert "testbed-report" in run._repr_html_()
