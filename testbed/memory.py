"""How a long run treats Python's cyclic garbage collector.

A run keeps millions of objects until its end (issuance records, certificates,
facts, the event log) and makes almost no reference cycles: over 90 simulated days
of 1,000 devices, full collections found 10 cyclic objects.  Each full collection
walks every tracked object, so as the heap grows they cost more and more for
nothing (13% of the run time at 10,000 devices × 20 days, measured with and without
them).  During a run only the two young generations are collected automatically
(that still reclaims short-lived cycles, such as exceptions with their tracebacks);
the oldest is collected once, when the run ends.

The youngest is collected after a million net allocations instead of 700.  At the
default, a year of 10,000 devices ran 5,100 young and 470 middle collections that
took 8.7 s of a 63 s run and found 760 cyclic objects in all; large containers still
young (a batch of events, a scan's list) were walked again at each one.  With a
million the run took 54 s, as with no collection at all (measured with
``gc.callbacks``, both runs at once; CPython 3.11).  Unreachable cycles wait for a
million net allocations of containers instead of 700.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["YOUNG", "old_generation_paused"]

_NEVER = 2**31 - 1  # young collections needed before the oldest one is considered
YOUNG = 1_000_000  # net allocations between two collections of the youngest generation


@contextmanager
def old_generation_paused() -> Iterator[None]:
    """Collect only the young generations while inside, the youngest every
    :data:`YOUNG` net allocations (or as the caller had it, when less often or
    never); restore and collect fully after."""
    thresholds = gc.get_threshold()
    # never more often than the caller had it (0: no automatic collection at all)
    young = max(thresholds[0], YOUNG) if thresholds[0] else 0
    gc.set_threshold(young, thresholds[1], _NEVER)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.collect()
