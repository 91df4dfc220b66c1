"""A design materialized in Linux network namespaces and checked with real TCP.

``testbed emulate SCENARIO --design D`` (root, ``ip`` and ``nft``): one namespace
per (site, zone) where devices sit and one for the hospital's assets, veth links,
the design's matrix compiled to one nftables table of concatenated sets, TCP
listeners on every asset's services, a real connect for every source x asset x
port, and the model-vs-kernel table (drift where they differ).  Everything is
removed afterwards, also on Ctrl-C or error.

Modules, one concept each: ``host`` (what the host must offer), ``layout``
(namespaces, addresses, flows and the model's verdicts: the plan), ``ruleset`` (the
nftables compilation), ``namespaces`` (build and remove), ``agent`` (the listener
and probe program run inside namespaces), ``listeners``, ``probe``, ``drift`` (the
model against the kernel),
``signals`` (cleanup that Ctrl-C cannot skip), ``session`` (one run), ``command``
(the CLI).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from testbed.network.emulate.drift import Comparison, Row, compare
    from testbed.network.emulate.host import missing, require
    from testbed.network.emulate.layout import Flow, Plan, Source, Target, ZoneLink, plan
    from testbed.network.emulate.probe import Outcome
    from testbed.network.emulate.ruleset import Element, Ruleset, compile_ruleset
    from testbed.network.emulate.session import Built, Emulated, Timings, emulate

__all__ = [
    "Built",
    "Comparison",
    "Element",
    "Emulated",
    "Flow",
    "Outcome",
    "Plan",
    "Row",
    "Ruleset",
    "Source",
    "Target",
    "Timings",
    "ZoneLink",
    "compare",
    "compile_ruleset",
    "emulate",
    "missing",
    "plan",
    "require",
]

#: public names -> the module that defines them (imported on first use: the plan
#: asks the analysis, which imports pandas; ``testbed --help`` should not pay for it)
_LAZY = {
    "Comparison": "drift", "Row": "drift", "compare": "drift",
    "missing": "host", "require": "host",
    "Flow": "layout", "Plan": "layout", "Source": "layout", "Target": "layout",
    "ZoneLink": "layout", "plan": "layout", "Outcome": "probe",
    "Element": "ruleset", "Ruleset": "ruleset", "compile_ruleset": "ruleset",
    "Built": "session", "Emulated": "session", "Timings": "session", "emulate": "session",
}  # fmt: skip


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'testbed.network.emulate' has no attribute {name!r}")
    return getattr(import_module(f"testbed.network.emulate.{module}"), name)
