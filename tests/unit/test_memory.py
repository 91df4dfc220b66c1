"""The collector's oldest generation is paused during a run and restored after."""

from __future__ import annotations

import gc

import pytest

from testbed.memory import old_generation_paused


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_young_cycles_are_still_collected_and_thresholds_come_back() -> None:
    before = gc.get_threshold()
    with old_generation_paused():
        young, middle, old = gc.get_threshold()
        assert (young, middle) == before[:2] and old > 10**9
        _Cycle()
        assert gc.collect(1) >= 1  # a young collection still finds the cycle
    assert gc.get_threshold() == before


def test_thresholds_come_back_after_an_error() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), old_generation_paused():
        raise RuntimeError("boom")
    assert gc.get_threshold() == before
