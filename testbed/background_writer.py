"""Text written to a stream by a thread of its own, in order, at most a few batches behind.

A long run's audit log is encoded by the simulation's thread and written to the file
(the ``write`` system call, and for a ``*.gz`` log zlib's compression) by this one.
Both release the GIL, so the writing overlaps the run and the next batch's encoding
on a second core instead of waiting for it: a year of 10,000 devices writes about
1.4 GB, which took about 2 s of the 11 s the audit log cost the run (2026-12-07).

Nothing is lost or reordered: one thread writes every text in the order given, and
:meth:`BackgroundWriter.close` returns once all are written.  What waits is bounded:
at most ``depth`` texts, after which :meth:`~BackgroundWriter.write` waits for the
thread.  An error the thread meets (a full disk) is raised by the next call of
:meth:`~BackgroundWriter.write` or by :meth:`~BackgroundWriter.close`, as it was; the
texts after it are not written.
"""

from __future__ import annotations

import queue
import threading
from typing import IO

__all__ = ["BackgroundWriter"]

_DONE = None  # the last item: the thread stops


class BackgroundWriter:
    """Writes texts to ``handle`` from a thread (started here; :meth:`close` ends it).

    The handle is the thread's until :meth:`close` returns; its owner closes it then.
    """

    def __init__(self, handle: IO[str], *, depth: int = 4) -> None:
        if depth < 1:
            raise ValueError(f"depth must be at least 1, got {depth}")
        self.depth = depth
        self._handle = handle
        self._queue: queue.Queue[str | None] = queue.Queue(depth)
        self._error: Exception | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._drain, name="audit-log-writer", daemon=True)
        self._thread.start()

    def write(self, text: str) -> None:
        """Queue ``text`` (waits while ``depth`` texts are queued); raises the error
        an earlier write met (an :class:`OSError`: a full disk), and
        :class:`ValueError` once closed."""
        if self._closed:
            raise ValueError("the background writer is closed")
        self._raise()
        self._queue.put(text)

    def close(self) -> None:
        """Wait until every queued text is written and stop the thread (once); raises
        the error a write met."""
        if not self._closed:
            self._closed = True
            self._queue.put(_DONE)
            self._thread.join()
        self._raise()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def _drain(self) -> None:
        """The thread: write each text in turn; after an error, take (and drop) the
        rest, so a waiting :meth:`write` and :meth:`close` return."""
        while (text := self._queue.get()) is not _DONE:
            if self._error is not None:
                continue
            try:
                self._handle.write(text)
            except Exception as error:  # raised again in the caller's thread
                self._error = error
