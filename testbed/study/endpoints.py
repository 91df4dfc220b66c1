"""A scenario's endpoints for the network analysis, without running it."""

from __future__ import annotations

from pathlib import Path

from testbed.crosscheck import profiles_for
from testbed.devices import load_profiles
from testbed.network.topology import Topology
from testbed.study.variant import ScenarioLike, loaded

__all__ = ["topology"]


def topology(scenario: ScenarioLike, *, base: Path | None = None) -> Topology:
    """The devices, services, CA and IdP of ``scenario`` (a scenario or its file)."""
    spec, root = loaded(scenario, base=base)
    return Topology.from_scenario(spec, load_profiles(profiles_for(spec, root)))
