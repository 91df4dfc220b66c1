"""The collector's oldest generation is paused during a run, its youngest collected
less often, and both restored after."""

from __future__ import annotations

import gc
import weakref

import pytest

from testbed.memory import YOUNG, old_generation_paused


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_young_cycles_are_still_collected_and_thresholds_come_back() -> None:
    before = gc.get_threshold()
    with old_generation_paused():
        young, middle, old = gc.get_threshold()
        assert (young, middle, old) == (YOUNG, before[1], 2**31 - 1)
        assert young > 1000 * before[0] and old > 10**9
        _Cycle()
        assert gc.collect(1) >= 1  # a young collection still finds the cycle
        cycle = weakref.ref(_Cycle())
        waiting = cycle() is not None  # garbage, waiting for a collection
        assert waiting  # (a bool: the assertion must not keep the object)
        kept = [[] for _ in range(YOUNG + 1_000)]  # over YOUNG net allocations: collected
        assert cycle() is None
        del kept
    assert gc.get_threshold() == before


def test_thresholds_come_back_after_an_error() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), old_generation_paused():
        raise RuntimeError("boom")
    assert gc.get_threshold() == before
