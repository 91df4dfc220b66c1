"""The collector's oldest generation is paused during a run, its youngest collected
less often, and both restored after."""

from __future__ import annotations

import gc
import weakref

import pytest

from testbed import memory
from testbed.memory import YOUNG, old_generation_paused


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_the_youngest_is_collected_less_often_the_oldest_not_and_both_come_back() -> None:
    before = gc.get_threshold()
    with old_generation_paused():
        assert gc.get_threshold() == (max(YOUNG, before[0]), before[1], 2**31 - 1)
        _Cycle()
        assert gc.collect(1) >= 1  # a young collection still finds the cycle
    assert gc.get_threshold() == before


def test_a_young_cycle_is_still_collected_by_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    """No collection by hand: enough net allocations collect the youngest generation
    (here after 5,000, to keep the test small)."""
    monkeypatch.setattr(memory, "YOUNG", 5_000)
    before = gc.get_threshold()
    try:
        gc.set_threshold(700, before[1], before[2])
        with old_generation_paused():
            cycle = weakref.ref(_Cycle())
            waiting = cycle() is not None  # garbage, waiting for a collection
            assert waiting  # (a bool: the assertion must not keep the object)
            kept = [[] for _ in range(6_000)]  # over 5,000 net allocations: collected
            assert cycle() is None
            del kept
    finally:
        gc.set_threshold(*before)


def test_a_caller_without_automatic_collection_keeps_it_off() -> None:
    before = gc.get_threshold()
    try:
        gc.set_threshold(0, before[1], before[2])
        with old_generation_paused():
            assert gc.get_threshold()[0] == 0
        assert gc.get_threshold()[0] == 0
    finally:
        gc.set_threshold(*before)


def test_thresholds_come_back_after_an_error() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), old_generation_paused():
        raise RuntimeError("boom")
    assert gc.get_threshold() == before
