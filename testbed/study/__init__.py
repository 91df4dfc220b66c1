"""Studies over runs: a scenario under several designs, fault sets and seeds.

- :func:`snapshots` (``snapshot``): a scenario simulated up to given times, its
  endpoints with their identity state there; the network analysis takes a snapshot
  wherever it takes a hospital (reachability at a scenario time);
- :func:`topology` (``topology``): a scenario's endpoints, for the analysis;
- :func:`compare` (``compare``): one scenario under each design, the seed's
  comparison table answered with numbers (``testbed compare``);
- :func:`sweep` (``sweep``): designs x fault sets x seeds on local processes or a
  Dask cluster, one table (``testbed sweep``).

The CLI and the notebooks call these functions; nothing else computes a study.
"""

from __future__ import annotations

from testbed.study.compare import Comparison, compare
from testbed.study.measures import MEASURES, Measure
from testbed.study.snapshot import snapshot, snapshots
from testbed.study.sweep import sweep
from testbed.study.topology import topology
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
