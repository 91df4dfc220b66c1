"""Decision-core calls from DICOM threads, run where the hospital runs.

pynetdicom serves each association in its own threads, but the hospital (its
decision core, event log, durable store and tallies) belongs to one thread: the
asyncio loop of ``testbed serve``.  :class:`LoopCalls` runs a call on that loop and
waits for its result (bounded), so a decision from a DICOM thread is made exactly as
one from an HTTP handler.

A call is made *now or never*: one that has not started when the wait ends is
cancelled and never runs (``TimeoutError``), so a decision the DICOM thread gave up on
(and refused) is not made later behind its back, leaving an association open in the
core that no peer holds.  One that has started is waited for to its end (it runs on
the loop: a core call, milliseconds).  What must happen whoever waits (a refusal's
tally, the release of a closed association) is queued with :meth:`Calls.soon`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections.abc import Callable
from typing import Protocol, TypeVar

__all__ = ["Calls", "LoopCalls"]

T = TypeVar("T")

_logger = logging.getLogger(__name__)


class Calls(Protocol):
    """Where the hospital runs, from another thread."""

    def __call__(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` there and return its result (or raise its error); TimeoutError
        when it could not start within the wait (then it never runs)."""
        ...

    def soon(self, fn: Callable[[], None]) -> None:
        """Queue ``fn`` to run there as soon as it can, without waiting for it."""
        ...


class LoopCalls:
    """Calls run on ``loop`` (a call waits at most ``timeout`` seconds to start)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, *, timeout: float = 30.0) -> None:
        self.loop = loop
        self.timeout = timeout

    def _on_loop(self) -> bool:
        try:
            return asyncio.get_running_loop() is self.loop
        except RuntimeError:
            return False

    def __call__(self, fn: Callable[[], T]) -> T:
        if self._on_loop():
            return fn()
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def run() -> None:
            if not future.set_running_or_notify_cancel():
                return  # given up by the caller before it started: never run
            try:
                future.set_result(fn())
            except BaseException as error:
                future.set_exception(error)

        self.loop.call_soon_threadsafe(run)
        try:
            return future.result(timeout=self.timeout)
        except TimeoutError:
            if future.cancel():
                raise TimeoutError(
                    f"the hospital's thread did not take the call within {self.timeout:g} s"
                ) from None
            return future.result()  # it started meanwhile: it ends on the loop

    def soon(self, fn: Callable[[], None]) -> None:
        if self._on_loop():
            fn()
            return

        def run() -> None:
            try:
                fn()
            except Exception:
                _logger.exception("a queued call from a DICOM thread failed")

        try:
            self.loop.call_soon_threadsafe(run)
        except RuntimeError:  # the loop is closed: the server has stopped
            _logger.warning("a call from a DICOM thread came after the server stopped")
