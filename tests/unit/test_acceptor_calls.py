"""The DICOM acceptor's calls to the hospital's thread fail closed, and are made now or
never.

pynetdicom swallows an error raised in an ``EVT_REQUESTED`` handler and then accepts the
association by itself; an error raised in ``verify_request`` stops its accept loop.  So
the acceptor asks through :func:`decided` (None: refuse) and tallies through
``Calls.soon`` (queued: a held thread does not stop the DICOM thread).  A call the
DICOM thread gave up on is never run later (:class:`LoopCalls`): a late decision would
open an association in the core that no peer holds."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from pynetdicom.timer import Timer

from testbed.live.dicom.acceptor import TRANSIENT_CONGESTION, DicomAcceptor, decided
from testbed.live.dicom.calls import LoopCalls


class _Held:
    def __call__(self, fn: Callable[[], Any]) -> Any:
        raise TimeoutError  # the hospital's thread did not take the call within the wait

    def soon(self, fn: Callable[[], None]) -> None:
        pass


class _Broken(_Held):
    def __call__(self, fn: Callable[[], Any]) -> Any:
        raise RuntimeError("the core raised")


class _Direct(_Held):
    def __call__(self, fn: Callable[[], Any]) -> Any:
        return fn()


def test_a_decision_that_cannot_be_had_is_none_so_the_association_is_refused() -> None:
    assert decided(_Direct(), lambda: "answer") == "answer"
    assert decided(_Held(), lambda: "answer") is None
    assert decided(_Broken(), lambda: "answer") is None
    assert TRANSIENT_CONGESTION == (2, 3, 1)  # rejected-transient, provider, congestion


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    running = asyncio.new_event_loop()
    thread = threading.Thread(target=running.run_forever, daemon=True)
    thread.start()
    yield running
    running.call_soon_threadsafe(running.stop)
    thread.join(timeout=5)
    running.close()


def _hold(loop: asyncio.AbstractEventLoop, seconds: float) -> threading.Event:
    """Keep the loop busy for ``seconds`` (as a long core call would); set once it is."""
    busy = threading.Event()

    def block() -> None:
        busy.set()
        time.sleep(seconds)

    loop.call_soon_threadsafe(block)
    assert busy.wait(5)
    return busy


def test_a_call_that_could_not_start_within_the_wait_never_runs(
    loop: asyncio.AbstractEventLoop,
) -> None:
    calls = LoopCalls(loop, timeout=0.2)
    ran: list[str] = []
    _hold(loop, 0.6)
    with pytest.raises(TimeoutError, match=r"did not take the call within 0\.2 s"):
        calls(lambda: ran.append("late decision"))
    time.sleep(0.5)
    assert calls(lambda: "after") == "after"  # the loop is free again
    assert ran == []  # given up on: never run, not even once the loop was free


def test_a_call_that_started_is_waited_for_to_its_end(loop: asyncio.AbstractEventLoop) -> None:
    calls = LoopCalls(loop, timeout=0.2)

    def slow() -> str:
        time.sleep(0.5)  # started within the wait, ends after it
        return "decided"

    assert calls(slow) == "decided"


def test_a_queued_call_runs_once_the_loop_is_free_without_holding_the_caller(
    loop: asyncio.AbstractEventLoop,
) -> None:
    calls = LoopCalls(loop, timeout=0.2)
    ran = threading.Event()
    _hold(loop, 0.5)
    started = time.monotonic()
    calls.soon(ran.set)
    assert time.monotonic() - started < 0.2  # the DICOM thread goes on
    assert ran.wait(5)  # and the tally is made when the loop is free


def test_a_queued_call_after_the_loop_closed_is_dropped_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    closed = asyncio.new_event_loop()
    closed.close()
    LoopCalls(closed).soon(lambda: None)
    assert "after the server stopped" in caplog.text


class _Slow(_Held):
    """A hospital thread that takes 0.3 s to answer (then answers)."""

    def __call__(self, fn: Callable[[], Any]) -> Any:
        time.sleep(0.3)
        return fn()


class _Acceptor:
    """What DicomAcceptor._core reads of its acceptor."""

    def __init__(self, calls: Any) -> None:
        self.plan = SimpleNamespace(calls=calls)
        self.refused: list[tuple[Any, str]] = []

    def _refuse(self, event: Any, why: Any, detail: str) -> None:
        self.refused.append((why, detail))


@pytest.mark.parametrize("calls", [_Slow(), _Held()], ids=["answered late", "not decided"])
def test_the_idle_clock_starts_again_when_a_handler_answers(calls: Any) -> None:
    """pynetdicom restarts an association's idle clock only when it receives: a handler
    the hospital's thread kept past ``--idle-timeout`` would have the peer's association
    aborted (and tallied idle-timeout against it) right after the answer."""
    idle = Timer(0.1)
    idle.start()
    event = SimpleNamespace(assoc=SimpleNamespace(dul=SimpleNamespace(_idle_timer=idle)))
    acceptor = _Acceptor(calls)
    time.sleep(0.2)
    assert idle.expired  # as pynetdicom's reactor would find it after a slow handler
    DicomAcceptor._core(acceptor, event, lambda: "answer", "C-ECHO")  # type: ignore[arg-type]
    assert not idle.expired
