"""Every shipped scenario against its golden measures, expectations and counts.

``UPDATE_GOLDEN=1 pytest tests/scenarios/test_golden.py`` rewrites the golden files
(and passes); review the diff before committing it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from testbed.runner import run_scenario

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))
GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
KEYS = ("measures", "expectations", "counts")

pytestmark = pytest.mark.slow


def _summary(report: dict[str, Any]) -> dict[str, Any]:
    return {key: report[key] for key in KEYS}


def _text(summary: dict[str, Any]) -> str:
    return json.dumps(summary, indent=2, sort_keys=True) + "\n"


def test_scenarios_are_shipped() -> None:
    assert SCENARIOS, "scenarios/*.yaml is empty"


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.stem)
def test_report_matches_golden(scenario: Path) -> None:
    golden = GOLDEN / f"{scenario.stem}.json"
    actual = _summary(run_scenario(scenario).report.to_dict())
    if UPDATE:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(_text(actual), encoding="utf-8")
        return
    if not golden.is_file():
        pytest.fail(
            f"no golden file for {scenario.name}; "
            "run UPDATE_GOLDEN=1 pytest tests/scenarios/test_golden.py"
        )
    # compare the text: 1 and 1.0 are equal in Python, not in report.json
    assert _text(actual) == golden.read_text(encoding="utf-8"), (
        f"{scenario.name} no longer matches {golden.relative_to(ROOT)}; if the change is "
        "intended, run UPDATE_GOLDEN=1 pytest tests/scenarios/test_golden.py"
    )


def test_no_golden_file_without_its_scenario() -> None:
    stale = {p.stem for p in GOLDEN.glob("*.json")} - {p.stem for p in SCENARIOS}
    assert not stale, f"golden files for scenarios that no longer exist: {sorted(stale)}"
