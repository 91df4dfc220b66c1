"""Progress and interruption for long commands, in a terminal and in CI logs alike.

- :class:`PlainProgress`: where standard error is not a terminal (a CI log), a bar
  that redraws prints nothing useful; this prints an occasional plain line instead
  (every tenth of the work, or at most every ``every`` seconds), with the simulated
  date, the share done and an estimate of the time left.
- :class:`Interruption`: while it is active, the first Ctrl-C (SIGINT) asks the work to
  stop at its next safe point (:attr:`requested`), so a run can still write a partial
  report; a second Ctrl-C interrupts at once.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from types import FrameType, TracebackType
from typing import IO

__all__ = ["Interruption", "PlainProgress"]


class PlainProgress:
    """Plain progress lines for a log: ``name: 2026-02-14 simulated (45%), 0:00:12
    elapsed, about 0:00:15 left``."""

    def __init__(
        self,
        name: str,
        *,
        start: datetime | None = None,
        stream: IO[str] | None = None,
        every: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.start = start
        self.stream = stream if stream is not None else sys.stderr
        self.every = every
        self.clock = clock
        self._began = clock()
        self._last = self._began
        self._tenth = 0

    def __call__(self, done: float, total: float) -> None:
        """Report that ``done`` of ``total`` (simulated seconds) is done."""
        share = done / total if total > 0 else 1.0
        tenth = int(share * 10)
        now = self.clock()
        if tenth <= self._tenth and now - self._last < self.every:
            return
        self._tenth, self._last = max(tenth, self._tenth), now
        elapsed = now - self._began
        left = elapsed * (1 - share) / share if share > 0 else None
        where = ""
        if self.start is not None:
            where = f"{(self.start + timedelta(seconds=done)):%Y-%m-%d} simulated "
        line = f"{self.name}: {where}({share:.0%}), {_clock(elapsed)} elapsed"
        if left is not None and share < 1:
            line += f", about {_clock(left)} left"
        print(line, file=self.stream, flush=True)


def _clock(seconds: float) -> str:
    return str(timedelta(seconds=round(seconds)))


class Interruption:
    """A context in which the first SIGINT asks the work to stop (see the module)."""

    def __init__(self, *, notice: Callable[[str], None] | None = None) -> None:
        self._requested = False
        self._notice = notice
        self._previous: object = None

    def requested(self) -> bool:
        """Whether the user asked the work to stop."""
        return self._requested

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self._requested:  # the second Ctrl-C: stop now
            signal.signal(signal.SIGINT, signal.default_int_handler)
            raise KeyboardInterrupt
        self._requested = True
        if self._notice is not None:
            self._notice("interrupted: stopping at the next step to write a partial report "
                         "(Ctrl-C again to stop at once)")

    def __enter__(self) -> Interruption:
        if threading.current_thread() is threading.main_thread():  # where signals go
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:  # fmt: skip
        previous = self._previous
        if previous is None:
            return
        signal.signal(signal.SIGINT, previous if callable(previous) else signal.default_int_handler)
