"""Reachability at a scenario time: a scenario simulated up to given times, and its
endpoints with their identity state there (:class:`~testbed.network.identity.Snapshot`).

::

    from testbed import network
    from testbed.study import snapshot

    during = snapshot("scenarios/ca-outage-longer-than-lifetime.yaml", at="16d",
                      design="central-ca-automated-renewal")
    network.flows("central-ca-automated-renewal", during)   # certificate flows closed

One run serves every time asked (:func:`snapshots`); the same scenario and seed give
the same snapshots.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from testbed.core import Testbed
from testbed.network.identity import Snapshot, identity_state
from testbed.network.topology import Topology
from testbed.study.variant import ScenarioLike, loaded, under_design
from testbed.units import parse_duration

__all__ = ["snapshot", "snapshots"]


def snapshots(
    scenario: ScenarioLike,
    at: Sequence[str | timedelta],
    *,
    design: str | Path | None = None,
    base: Path | None = None,
) -> list[Snapshot]:
    """The hospital's endpoints and identity state at each scenario time of ``at``
    (``"20d"``: twenty days after the scenario's start), in the order given, from one
    simulated run (``design``: under this design instead of the scenario's network)."""
    spec, root = loaded(scenario, base=base)
    if design is not None:
        spec, _ = under_design(spec, design)
    times = [parse_duration(t) for t in at]
    testbed = Testbed(spec, base=root)
    horizon = timedelta(seconds=testbed.horizon)
    for t in times:
        if not timedelta(0) <= t <= horizon:
            raise ValueError(f"at={t}: expected a time within the run (0 to {horizon})")
    topology = Topology.from_scenario(spec, testbed.profiles)
    testbed.start()
    taken: dict[timedelta, Snapshot] = {}
    for t in sorted(set(times)):
        if t.total_seconds() > testbed.env.now:
            testbed.env.run(until=t.total_seconds())
        state = identity_state(testbed.hospital, now=testbed.now())
        taken[t] = Snapshot(topology, state)
    return [taken[t] for t in times]


def snapshot(
    scenario: ScenarioLike, at: str | timedelta, *, design: str | Path | None = None,
    base: Path | None = None,
) -> Snapshot:
    """The hospital's endpoints and identity state at one scenario time (:func:`snapshots`)."""
    return snapshots(scenario, [at], design=design, base=base)[0]
