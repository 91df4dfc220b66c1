"""A design materialized in Linux network namespaces and checked with real TCP.

``testbed emulate SCENARIO --design D`` (root, ``ip`` and ``nft``): one namespace
per (site, zone) where devices sit and one for the hospital's assets, veth links,
the design's matrix compiled to one nftables table of concatenated sets, TCP
listeners on every asset's services, a real connect for every source x asset x
port, and the model-vs-kernel table (drift where they differ).  Everything is
removed afterwards, also on Ctrl-C or error.

Modules, one concept each: ``host`` (what the host must offer), ``plan``
(namespaces, addresses, flows and the model's verdicts), ``ruleset`` (the nftables
compilation), ``namespaces`` (build and remove), ``agent`` (the listener and probe
program run inside namespaces), ``listeners``, ``probe``, ``compare`` (drift),
``signals`` (cleanup that Ctrl-C cannot skip), ``session`` (one run), ``command``
(the CLI).
"""

from __future__ import annotations

from .compare import Comparison, Row, compare
from .host import missing, require
from .plan import Flow, Plan, Source, Target, ZoneLink, plan
from .probe import Outcome
from .ruleset import Element, Ruleset, compile_ruleset
from .session import Built, Emulated, Timings, emulate

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
