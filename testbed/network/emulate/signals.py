"""Ctrl-C and ``kill`` during an emulation: raise where the run is, so its ``finally``
removes what it built, and hold further signals while it does.

Python turns SIGINT into :class:`KeyboardInterrupt` already; SIGTERM and SIGHUP
would end the process without running any ``finally``.  :func:`interruptible`
raises :class:`SystemExit` (128 + the signal's number) for them instead, and
:meth:`Guard.cleaning` defers every such signal until the cleanup is done.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

__all__ = ["Guard", "interruptible"]

_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Guard:
    """Whether a signal raises now, or waits for the cleanup to end."""

    def __init__(self) -> None:
        self._armed = True
        self._pending: int | None = None

    def handle(self, signum: int, frame: FrameType | None) -> None:
        """The signal handler."""
        if not self._armed:
            self._pending = self._pending or signum
            return
        _raise(signum)

    @contextmanager
    def cleaning(self) -> Iterator[None]:
        """Hold signals during the block; raise the first one held after it."""
        self._armed = False
        try:
            yield
        finally:
            self._armed = True
            if self._pending is not None:
                _raise(self._pending)


def _raise(signum: int) -> None:
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise SystemExit(128 + signum)


@contextmanager
def interruptible() -> Iterator[Guard]:
    """Install the guard's handler for the block (only in the main thread, where
    Python delivers signals; elsewhere the guard does nothing)."""
    guard = Guard()
    if threading.current_thread() is not threading.main_thread():
        yield guard
        return
    previous = {s: signal.signal(s, guard.handle) for s in _SIGNALS}
    try:
        yield guard
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
