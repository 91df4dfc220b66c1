"""Allowances that stand (testbed/standing.py) decide exactly what walking the hops does.

Every run here is made four ways: every delivery walked (``traffic.standing``
False), allowances standing each on its own (``traffic.steady`` False), standing and
given again together in steady turns (:class:`~testbed.standing.Steady`, the
default), and that with ``check_standing`` (the access point walks anyway and raises
on any difference).  The event logs must be byte-identical and the measures equal,
and the standing run must really have let most deliveries stand.
"""

from __future__ import annotations

import dataclasses
import importlib
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from pydantic import TypeAdapter

from testbed.core import Testbed
from testbed.events import EventKind
from testbed.revision import Revision
from testbed.scenario import Scenario, load_scenario
from testbed.standing import StandingError
from tests.scenarios.generated import small_scenarios

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))


@pytest.fixture
def bench_scenario(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Scenario]:
    """The benchmark scenario (``benchmarks.scenarios``, not an installed package),
    its CA outage made ``outage`` long."""
    monkeypatch.syspath_prepend(str(ROOT))
    module = importlib.import_module("benchmarks.scenarios")

    def build(devices: int, *, outage: str = "2d", **options: Any) -> Scenario:
        data = module.scenario_dict(devices, **options)
        data["faults"][0]["end"] = f"{120 + int(outage.removesuffix('d'))}d"
        return TypeAdapter(Scenario).validate_python(data)

    return build


def _run(
    scenario: Scenario, *, standing: bool, steady: bool = True, check: bool = False
) -> Testbed:
    tb = Testbed(scenario, base=ROOT / "scenarios")
    tb.traffic.standing = standing
    tb.traffic.steady = steady
    tb.hospital.access.check_standing = check
    tb.run()
    return tb


def _log(tb: Testbed) -> str:
    out = io.StringIO()
    tb.log.write_jsonl(out)
    return out.getvalue()


def _measures(tb: Testbed) -> dict[str, Any]:
    return {f.name: getattr(tb.metrics, f.name) for f in dataclasses.fields(tb.metrics)}


def assert_standing_decides_alike(scenario: Scenario) -> Testbed:
    """The four runs of ``scenario`` write the same log and measure the same;
    returns the run with steady turns."""
    walked = _run(scenario, standing=False)
    each = _run(scenario, standing=True, steady=False)
    stood = _run(scenario, standing=True)
    _run(scenario, standing=True, check=True)  # raises StandingError on a difference
    assert walked.hospital.access.stood == 0
    assert each.traffic.steady_turns == 0
    assert _log(stood) == _log(each) == _log(walked)
    assert _measures(stood) == _measures(each) == _measures(walked)
    assert stood.hospital.access.stood == each.hospital.access.stood
    return stood


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_every_shipped_scenario_writes_the_same_log_with_allowances_standing(path: Path) -> None:
    stood = assert_standing_decides_alike(load_scenario(path))
    access = stood.hospital.access
    assert access.stood > stood.metrics.allowed // 2  # most allowances really stood


def test_the_benchmark_scenario_writes_the_same_log_and_most_deliveries_stand(
    bench_scenario: Callable[..., Scenario],
) -> None:
    # a 9-day CA outage (the 7-day CRLs go stale, certificates expire), a blocked
    # route, daily CRL reissues that keep allowances standing, renewals at 2/3
    scenario = bench_scenario(40, outage="9d", duration="240d", lifetime="20d")
    stood = assert_standing_decides_alike(scenario)
    assert stood.hospital.access.stood > 0.8 * stood.metrics.allowed
    assert stood.traffic.steady_turns > 0.6 * stood.traffic.steps  # most turns were steady
    refused = [e for e in stood.log.of_kind(EventKind.ACCESS_DECISION) if not e.data["allowed"]]
    reasons = {e.data["reason"] for e in refused}
    assert reasons >= {"route-blocked", "revocation-unknown", "cert-expired"}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_scenarios(operators=True))
def test_generated_scenarios_write_the_same_log_with_allowances_standing(
    data: dict[str, Any],
) -> None:
    assert_standing_decides_alike(TypeAdapter(Scenario).validate_python(data))


def test_a_change_that_forgets_the_revision_is_caught_by_the_check(
    bench_scenario: Callable[..., Scenario],
) -> None:
    """A route policy that does not tell the access point it changed: the blocked
    route's first delivery is still allowed by the standing allowance, and the check
    walks, sees the block and raises."""
    scenario = bench_scenario(20, duration="210d", lifetime="20d")
    tb = Testbed(scenario)
    tb.hospital.policy.revision = Revision()  # its blocks no longer move the shared one
    tb.hospital.access.check_standing = True
    with pytest.raises(StandingError, match="route-blocked"):
        tb.run()


def test_the_flagship_under_its_shared_credential_writes_the_same_log_standing() -> None:
    """Under the flat design the devices present the shared credential: nothing of it
    expires, and offboarding a device changes its inventory entry, so an allowance
    stands until then and is walked again (and given again: the credential stays)."""
    from dataclasses import replace

    pilot = load_scenario(ROOT / "scenarios" / "two-site-pilot.yaml")
    flat = replace(pilot, design="flat-shared-credentials", network=())
    stood = assert_standing_decides_alike(flat)
    assert stood.hospital.shared is not None
    assert stood.hospital.access.stood > stood.metrics.allowed // 2
    assert stood.metrics.stale_access_after_offboarding == 3
