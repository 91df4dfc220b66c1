"""The collector does not run by itself during a run; it collects fully after, and
comes back as the caller had it."""

from __future__ import annotations

import gc
import weakref

import pytest

from testbed.memory import collection_paused


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_a_cycle_waits_for_the_end_of_the_run_and_is_collected_then() -> None:
    assert gc.isenabled()
    with collection_paused():
        assert not gc.isenabled()
        cycle = weakref.ref(_Cycle())
        kept = [[] for _ in range(50_000)]  # far over any threshold: nothing runs
        waiting = cycle() is not None  # a bool: the assertion must not keep the object
        assert waiting
        del kept
    assert cycle() is None  # the full collection at the end
    assert gc.isenabled()


def test_a_caller_without_automatic_collection_keeps_it_off_and_still_gets_the_end() -> None:
    was = gc.isenabled()
    gc.disable()
    try:
        with collection_paused():
            assert not gc.isenabled()
            cycle = weakref.ref(_Cycle())
        assert cycle() is None  # collected at the end all the same
        assert not gc.isenabled()
    finally:
        if was:
            gc.enable()


def test_the_collector_comes_back_after_an_error() -> None:
    with pytest.raises(RuntimeError), collection_paused():
        raise RuntimeError("boom")
    assert gc.isenabled()
