"""A JSON-lines file the event log streams to, batch by batch, as the run goes.

:class:`JsonlSink` is given batches of events in the log's compact form
(:data:`~testbed.event_json.Row`) with the sequence number of the first, writes
their JSON lines (:class:`~testbed.event_json.LineEncoder`: the text
:meth:`Event.to_json <testbed.events.Event.to_json>` gives) and counts the wall
seconds spent encoding and writing them, so the cost of writing a run's audit log
can be told apart from the run even though it happens inside it.
"""

from __future__ import annotations

import gzip
import io
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import IO

from testbed.background_writer import BackgroundWriter
from testbed.errors import OutputError
from testbed.event_json import LineEncoder, Row

__all__ = [
    "SEGMENT_PREFIX", "SEGMENT_SUFFIX", "EventsKept", "JsonlSink", "open_log", "segments",
]  # fmt: skip

SEGMENT_PREFIX, SEGMENT_SUFFIX = "events-", ".jsonl"
"""A log rotated by size (live mode) keeps its earlier parts as ``events-<n>.jsonl``."""


class EventsKept(StrEnum):
    """Which events a run writes to its log (``testbed run --events``): all of them,
    all but the allowed access decisions (the bulk of a long run), or none."""

    ALL = "all"
    DECISIONS_DENIED = "decisions-denied"
    NONE = "none"

    def keeps(self) -> Callable[[Row], bool] | None:
        """The rows this level writes (None: every row)."""
        return None if self is EventsKept.ALL else _not_an_allowance


def _not_an_allowance(row: Row) -> bool:
    """Every event but an access decision that allowed."""
    _, kind, _, keys, values = row
    if kind.value != "access-decision":
        return True
    return values[keys.index("allowed")] is not True


def open_log(path: Path) -> IO[str]:
    """A log file opened for writing: ``*.gz`` gzip-compressed, with no time in its
    header so the same events give the same bytes."""
    if path.suffix == ".gz":
        raw = gzip.GzipFile(path, mode="wb", mtime=0)
        return io.TextIOWrapper(raw, encoding="utf-8", newline="\n")
    return path.open("w", encoding="utf-8", newline="\n")


class JsonlSink:
    """Writes batches of events as JSON lines to a file (created or truncated; ``*.gz``
    compressed) or to an open text stream (left open: its owner closes it).

    ``keep``: which rows to write (None: all); a row left out keeps its number, so the
    written lines keep the numbers the log gave them.  ``background``: the lines are
    written by a thread of their own (:class:`~testbed.background_writer.BackgroundWriter`:
    in order, a few batches behind at most, all of them by :meth:`close`), so writing
    the file overlaps encoding the next batch.  A file that cannot be opened or written
    raises :class:`OutputError` naming it (in the background: at the next write, or at
    :meth:`close`).
    """

    def __init__(
        self,
        target: Path | IO[str],
        *,
        keep: Callable[[Row], bool] | None = None,
        background: bool = False,
    ) -> None:
        self.path = target if isinstance(target, Path) else None
        self._owned = isinstance(target, Path)
        self._keep = keep
        self.left_out: Counter[str] = Counter()
        """Events not written because ``keep`` left them out, by kind."""
        with self._errors():
            self._handle: IO[str] = open_log(target) if isinstance(target, Path) else target
        self._encoder = LineEncoder()
        self._writer = BackgroundWriter(self._handle) if background else None
        self._closed = False
        self.events = 0
        """Events written."""
        self.seconds = 0.0
        """Wall seconds spent encoding and writing them, or handing them to the
        background writer (and closing the file: waiting for the writer to finish)."""

    def write(self, first: int, rows: Iterable[Row]) -> int:
        """Write ``rows`` as the events numbered from ``first`` on; how many there were."""
        if self._closed:
            raise ValueError(f"{self._name()}: the event sink is closed")
        started = time.perf_counter()
        try:
            lines = self._lines(first, rows)
            count = len(lines)
            if count:
                lines.append("")  # the last line's newline
                text = "\n".join(lines)
                with self._errors():
                    if self._writer is not None:
                        self._writer.write(text)
                    else:
                        self._handle.write(text)
                self.events += count
            return count
        finally:
            self.seconds += time.perf_counter() - started

    def _lines(self, first: int, rows: Iterable[Row]) -> list[str]:
        keep = self._keep
        if keep is None:
            return self._encoder.lines(first, rows)
        lines: list[str] = []
        run: list[Row] = []
        start = first
        for seq, row in enumerate(rows, first):
            if keep(row):
                if not run:
                    start = seq
                run.append(row)
                continue
            self.left_out[row[1].value] += 1
            if run:
                lines += self._encoder.lines(start, run)
                run = []
        if run:
            lines += self._encoder.lines(start, run)
        return lines

    def close(self) -> None:
        """Flush what was written; close the file if the sink opened it (once)."""
        if self._closed:
            return
        self._closed = True
        started = time.perf_counter()
        try:
            with self._errors():
                try:
                    if self._writer is not None:
                        self._writer.close()  # everything handed to it is written
                finally:
                    if self._owned:
                        self._handle.close()
                    else:
                        self._handle.flush()
        finally:
            self.seconds += time.perf_counter() - started

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    def __enter__(self) -> JsonlSink:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _name(self) -> str:
        return str(self.path) if self.path is not None else "stream"

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except OSError as error:
            reason = error.strerror or str(error)
            detail = f"{self._name()}: the audit log could not be written ({reason})"
            raise OutputError(detail) from None


def segments(directory: Path) -> list[Path]:
    """The rotated segments ``events-<n>.jsonl`` in ``directory``, in order of ``n``
    (an earlier run's ``events-<time>.jsonl`` is not one)."""
    found: list[tuple[int, Path]] = []
    for path in directory.glob(f"{SEGMENT_PREFIX}*{SEGMENT_SUFFIX}"):
        middle = path.name.removeprefix(SEGMENT_PREFIX).removesuffix(SEGMENT_SUFFIX)
        if middle.isascii() and middle.isdigit():
            found.append((int(middle), path))
    return [path for _, path in sorted(found)]
