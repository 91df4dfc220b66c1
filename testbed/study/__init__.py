"""Studies over runs: a scenario under several designs, fault sets and seeds.

- :func:`snapshots` (``at_time``): a scenario simulated up to given times, its
  endpoints with their identity state there; the network analysis takes a snapshot
  wherever it takes a hospital (reachability at a scenario time);
- :func:`topology` (``endpoints``): a scenario's endpoints, for the analysis;
- :func:`compare` (``comparison``): one scenario under each design, the seed's
  comparison table answered with numbers (``testbed compare``);
- :func:`sweep` (``sweeps``): designs x fault sets x seeds on local processes or a
  Dask cluster, one table (``testbed sweep``).

The CLI and the notebooks call these functions; nothing else computes a study.  The
names load on first use, so the ``testbed`` command registers ``compare`` and
``sweep`` without loading them; no module shares a function's name (an imported
submodule would shadow it).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from testbed.study.at_time import snapshot, snapshots
    from testbed.study.comparison import Comparison, compare
    from testbed.study.endpoints import topology
    from testbed.study.measures import MEASURES, Measure
    from testbed.study.sweeps import sweep
    from testbed.study.variant import SHIPPED_DESIGNS

__all__ = [
    "MEASURES",
    "SHIPPED_DESIGNS",
    "Comparison",
    "Measure",
    "compare",
    "snapshot",
    "snapshots",
    "sweep",
    "topology",
]

_LAZY = {
    "MEASURES": "measures",
    "SHIPPED_DESIGNS": "variant",
    "Comparison": "comparison",
    "Measure": "measures",
    "compare": "comparison",
    "snapshot": "at_time",
    "snapshots": "at_time",
    "sweep": "sweeps",
    "topology": "endpoints",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'testbed.study' has no attribute {name!r}")
    return getattr(import_module(f"testbed.study.{module}"), name)
