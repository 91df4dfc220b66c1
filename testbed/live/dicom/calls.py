"""Decision-core calls from DICOM threads, run where the hospital runs.

pynetdicom serves each association in its own threads, but the hospital (its
decision core, event log, durable store and tallies) belongs to one thread: the
asyncio loop of ``testbed serve``.  :class:`LoopCalls` runs a call on that loop and
waits for its result (bounded), so a decision from a DICOM thread is made exactly as
one from an HTTP handler.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable
from typing import Protocol, TypeVar

__all__ = ["Calls", "LoopCalls"]

T = TypeVar("T")


class Calls(Protocol):
    """Run ``fn`` where the hospital runs and return its result (or raise its error)."""

    def __call__(self, fn: Callable[[], T]) -> T: ...


class LoopCalls:
    """Calls run on ``loop`` (the caller waits at most ``timeout`` seconds)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, *, timeout: float = 30.0) -> None:
        self.loop = loop
        self.timeout = timeout

    def __call__(self, fn: Callable[[], T]) -> T:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            return fn()
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def run() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                future.set_result(fn())
            except BaseException as error:
                future.set_exception(error)

        self.loop.call_soon_threadsafe(run)
        return future.result(timeout=self.timeout)

