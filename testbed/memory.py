"""How a long run treats Python's cyclic garbage collector: paused until the end.

A run keeps millions of objects until its end (issuance records, certificates,
facts, the event log) and makes almost no reference cycles.  Every collection walks
the objects that survived since the one before, so each long-lived object is walked
at least once, in whichever young collection comes after it is made, whatever the
threshold: that is work for nothing when nothing is cyclic garbage.

Measured (CPython 3.11, ``gc.callbacks``): a year of 10,000 devices at modeled
fidelity made about 8 million long-lived tracked objects; collecting the youngest
generation every million net allocations (this module's rule until 2026-12-07) ran 7
young and a middle collection that took 2.5 s, about 8% of the compiled build's run
(``benchmarks/compiled.py``) with every event kept, and found 1,059 cyclic objects in
all.  With the collector off during the run the peak memory was the same (1,370 MB,
both ways), and each shipped scenario left at most 5 cyclic objects for the
collection at its end.  With the events streamed to a file instead of kept, the
change was within the machine's noise.

So during a run the collector does not run by itself; it collects fully once when
the run ends (or stops on an error).  A caller that had it off keeps it off.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["collection_paused"]


@contextmanager
def collection_paused() -> Iterator[None]:
    """No automatic garbage collection while inside; a full collection after, and
    the collector as the caller had it (on or off)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
        gc.collect()
