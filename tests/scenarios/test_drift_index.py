"""A drift scan that looks only at what changed (testbed/drift_index.py) finds, at every
scan of every run here, exactly what looking at every inventory entry finds (and the
IdP's and EHRs' registries, which every scan reads whole)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from pydantic import TypeAdapter

from testbed.core import Testbed
from testbed.inventory import Drift
from testbed.scenario import Scenario, load_scenario
from tests.scenarios.generated import small_scenarios

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))
#: shipped scenarios whose scans find drift (expired, revoked or retired identities)
FIND_DRIFT = {"ca-outage-longer-than-lifetime", "revocation-offboarding-drill", "two-site-pilot"}


def _run_checked(scenario: Scenario) -> tuple[int, int, float]:
    """Run with every scan compared with a full one; (scans, drifts found in all, the
    share of the entries the incremental scans looked at)."""
    tb = Testbed(scenario, base=ROOT / "scenarios")
    hospital = tb.hospital
    scan = hospital.drift
    counts = [0, 0]

    def checked(now: datetime, *, full: bool = False) -> list[Drift]:
        found = scan(now, full=full)
        assert found == scan(now, full=True), f"scan at {now}"
        counts[0] += 1
        counts[1] += len(found)
        return found

    # the hospital's scan, not the inventory's: the compiled build's (benchmarks/
    # compiled.py) inventory is a native class, whose methods cannot be replaced
    hospital.drift = checked  # type: ignore[method-assign]
    tb.run()
    entries = len(hospital.inventory) * counts[0]
    return counts[0], counts[1], hospital.inventory.drift_index.looked / entries if entries else 0.0


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_every_scan_of_every_shipped_scenario_finds_what_a_full_scan_finds(path: Path) -> None:
    scans, drifts, looked = _run_checked(load_scenario(path))
    assert scans > 0
    if path.stem in FIND_DRIFT:  # the comparison is not only of empty lists
        assert drifts > 0
    assert looked < 0.5  # and the scans looked at less than half the entries: they skip


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_scenarios(operators=True))
def test_every_scan_of_a_generated_scenario_finds_what_a_full_scan_finds(
    data: dict[str, Any],
) -> None:
    _run_checked(TypeAdapter(Scenario).validate_python(data))
