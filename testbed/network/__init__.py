"""The hospital network: policy points, designs, and the analysis of designs.

Policy points (what the network hop asks, :mod:`testbed.hops`):

- :class:`Nac` (``nac``): the devices admitted to the network;
- :class:`ZonePolicy` (``zone_policy``): the scenario's zone-to-service allow list,
  when the scenario selects no design;
- :class:`DesignPolicy` (``policy``): a design compiled (``matrix``) when it does.

Designs (``design``, ``catalog``, ``topology``): the seed's five designs ship as
YAML in ``fixtures/designs/``; a sixth is a new file.

Analysis, as pandas DataFrames with Batfish's vocabulary (``reach``, ``blast``,
``diff``, ``intents``, ``asserts``; a module never shares a function's name)::

    from testbed import network

    network.flows("zero-trust-microsegmentation", hospital)
    network.blast_radius("flat-shared-credentials", hospital, k=3)
    network.differential("per-site-vlans", "zero-trust-microsegmentation", hospital)
    network.assert_no_exposure("zero-trust-microsegmentation", hospital)

The analysis modules import pandas; they load on first use, so the policy points do
not pay for it.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from testbed.network.catalog import Catalog, EndpointKind, load_catalog
from testbed.network.design import (
    CredentialIssuance,
    Design,
    DesignException,
    Group,
    IdentityCondition,
    Rule,
    Segmentation,
    design_text,
    load_design,
)
from testbed.network.identity import Snapshot
from testbed.network.matrix import Disposition, Matrix, Verdict
from testbed.network.nac import Nac
from testbed.network.peer import Peer
from testbed.network.policy import DesignPolicy, route_policy
from testbed.network.topology import Endpoint, Topology
from testbed.network.zone_policy import Route, Source, ZonePolicy

if TYPE_CHECKING:
    from testbed.network.asserts import (
        FlowAssertionError,
        assert_flows_fail,
        assert_flows_succeed,
        assert_no_exposure,
        exposure,
    )
    from testbed.network.blast import blast_radius, bre_k
    from testbed.network.diff import differential
    from testbed.network.intents import exception_register, policy_size
    from testbed.network.migration import phase_design, phases_by_rank, rank_devices
    from testbed.network.reach import flows, reachability

__all__ = [
    "Catalog",
    "CredentialIssuance",
    "Design",
    "DesignException",
    "DesignPolicy",
    "Disposition",
    "Endpoint",
    "EndpointKind",
    "FlowAssertionError",
    "Group",
    "IdentityCondition",
    "Matrix",
    "Nac",
    "Peer",
    "Route",
    "Rule",
    "Segmentation",
    "Snapshot",
    "Source",
    "Topology",
    "Verdict",
    "ZonePolicy",
    "assert_flows_fail",
    "assert_flows_succeed",
    "assert_no_exposure",
    "blast_radius",
    "bre_k",
    "design_text",
    "differential",
    "exception_register",
    "exposure",
    "flows",
    "load_catalog",
    "load_design",
    "phase_design",
    "phases_by_rank",
    "policy_size",
    "rank_devices",
    "reachability",
    "route_policy",
]

#: analysis names -> the module that defines them (imported on first use: pandas)
_LAZY = {
    "FlowAssertionError": "asserts",
    "assert_flows_fail": "asserts",
    "assert_flows_succeed": "asserts",
    "assert_no_exposure": "asserts",
    "exposure": "asserts",
    "blast_radius": "blast",
    "bre_k": "blast",
    "differential": "diff",
    "flows": "reach",
    "reachability": "reach",
    "exception_register": "intents",
    "policy_size": "intents",
    "phase_design": "migration",
    "phases_by_rank": "migration",
    "rank_devices": "migration",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'testbed.network' has no attribute {name!r}")
    return getattr(import_module(f"testbed.network.{module}"), name)
