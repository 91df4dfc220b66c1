"""Emulation tests: the flagship pilot's hospital built in network namespaces.

They need root, ``ip`` and ``nft`` (CI has them: ``.ci/run`` installs iproute2 and
nftables and runs as root); elsewhere they skip, naming what is missing.  They
create only namespaces of their own (a fresh name prefix per run) and connect only
inside them.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest

import testbed
from testbed.crosscheck import DEFAULT_PROFILES
from testbed.devices import load_profiles
from testbed.network.design import load_design
from testbed.network.emulate import Plan, missing, plan
from testbed.network.emulate.namespaces import PREFIX_VARIABLE
from testbed.network.topology import Topology

PILOT = Path(__file__).resolve().parents[2] / "scenarios" / "two-site-pilot.yaml"


@pytest.fixture(scope="session")
def plan_of() -> Callable[[str], Plan]:
    """The flagship pilot's plan (12 devices, 2 sites; PACS, EHR, CA, IdP) under a
    shipped design, exceptions judged at the scenario's start."""
    scenario = testbed.load_scenario(PILOT)
    topology = Topology.from_scenario(scenario, load_profiles(DEFAULT_PROFILES))

    def of(name: str) -> Plan:
        return plan(load_design(name), topology, at=scenario.start)

    return of


@pytest.fixture(scope="session")
def pilot_at() -> Callable[[str, datetime], Plan]:
    """The flagship pilot's plan under a shipped design, exceptions judged at a time."""
    topology = Topology.from_scenario(testbed.load_scenario(PILOT),
                                      load_profiles(DEFAULT_PROFILES))  # fmt: skip

    def at(name: str, when: datetime) -> Plan:
        return plan(load_design(name), topology, at=when)

    return at


@pytest.fixture
def host() -> None:
    """Skip unless this host can build namespaces and nftables rules."""
    lacks = missing()
    if lacks:
        pytest.skip("needs " + "; ".join(lacks))


def kernel_state() -> tuple[list[str], str]:
    """What an emulation must leave as it found: the namespaces this test process could
    have made (their names start with its ``TESTBED_NETNS_PREFIX``; under pytest-xdist
    each worker has its own, see the root ``conftest.py``) and the host's nftables
    ruleset."""
    def out(*argv: str) -> str:
        return subprocess.run(argv, capture_output=True, text=True, check=True).stdout

    # a run's names are the prefix, 8 hex digits and a suffix (namespaces.new_prefix)
    run = re.compile(re.escape(os.environ.get(PREFIX_VARIABLE, "tb")) + "[0-9a-f]{8}-")
    ours = [line for line in out("ip", "netns", "list").splitlines() if run.match(line)]
    return ours, out("nft", "list", "ruleset")
