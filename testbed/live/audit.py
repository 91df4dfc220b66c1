"""The live audit log: on disk as it happens, rotated by size, refusals aggregated.

:class:`AuditLog` is the hospital's :class:`~testbed.events.EventLog` in live mode.
It keeps no event in memory: each one is written to ``events.jsonl`` at once
(:class:`RotatingSink`, one event a batch, flushed, so readers see it while the
server runs).  When the file passes ``max_bytes`` it is renamed
``events-<n>.jsonl`` (n = 1, 2, ... in order) and a new ``events.jsonl`` begins with
a ``log-rotated`` event naming the segment it follows; every segment holds whole
lines, and ``seq`` runs on across them.

An enrollment refused to an *unauthenticated* client (no or wrong bootstrap
credentials, a certificate this CA did not issue: the EST core's 401 answers), and a
token refused to one (no or a wrong client assertion, an unknown client, an IdP that
is down), are not written one by one: each is tallied per source address and reason
(:class:`~testbed.live.refusals.Tallies`) and written as one ``enrollment-refused``
or ``token-refused`` event with a ``count`` per audit interval, so a peer that holds
no credential cannot grow the log by one event a request.  So is an access decision
refused to a peer that presented no certificate (the services' pings, the FHIR API):
its subject was only claimed (an ``X-Device-Id`` header, or nothing), so it is tallied
under ``(unauthenticated)`` with the claim as its ``claimed`` field.  The source is the
peer of the request being answered (:data:`PEER`, set by the servers' audit middleware).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from contextvars import ContextVar
from datetime import datetime
from pathlib import Path
from typing import IO

from testbed.errors import LiveError
from testbed.event_json import Row
from testbed.event_sink import SEGMENT_PREFIX, SEGMENT_SUFFIX, JsonlSink, segments
from testbed.events import UNAUTHENTICATED, Event, EventKind, EventLog, Value
from testbed.live.refusals import Tallies

__all__ = ["PEER", "UNAUTHENTICATED", "AuditLog", "RotatingSink"]

PEER: ContextVar[str] = ContextVar("peer", default="(unknown)")
"""The source address of the request being answered (for aggregated events)."""

_CURRENT = "events.jsonl"

_TALLIED = frozenset({EventKind.ENROLLMENT_REFUSED, EventKind.TOKEN_REFUSED})
"""The refusals of a client no credential identified that are tallied, not written
(and access decisions refused to a peer with no certificate: :meth:`AuditLog.record`)."""


def _open_append(path: Path) -> int:
    """A descriptor appending to ``path`` (created 0600), never through a symlink."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC
    return os.open(path, flags, 0o600)


class RotatingSink(JsonlSink):
    """``events.jsonl`` in ``directory``, appended to and flushed after each write;
    :meth:`rotate` moves it aside as the next ``events-<n>.jsonl``."""

    def __init__(self, directory: Path, *, max_bytes: int) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.path = directory / _CURRENT  # named in errors (set again by JsonlSink)
        known = segments(directory)
        self.segment = 0 if not known else int(known[-1].name[len(SEGMENT_PREFIX):-6])
        super().__init__(self._open())
        self._owned = True  # the sink opened the stream: it closes it
        self.path = directory / _CURRENT

    def _open(self) -> IO[str]:
        with self._errors():
            descriptor = _open_append(self.directory / _CURRENT)
        return os.fdopen(descriptor, "w", encoding="utf-8", newline="\n")

    def write(self, first: int, rows: Iterable[Row]) -> int:
        """Write and flush (readers of the file see each event at once)."""
        count = super().write(first, rows)
        with self._errors():
            self._handle.flush()
        return count

    @property
    def size(self) -> int:
        """Bytes in the current file."""
        return self._handle.tell()

    def full(self) -> bool:
        """Whether the current file has reached ``max_bytes``."""
        return self.size >= self.max_bytes

    def rotate(self) -> Path:
        """Close the current file, rename it ``events-<n>.jsonl`` and start a new one;
        the segment's path."""
        with self._errors():
            self._handle.close()
            self.segment += 1
            kept = self.directory / f"{SEGMENT_PREFIX}{self.segment}{SEGMENT_SUFFIX}"
            os.rename(self.directory / _CURRENT, kept)
        self._handle = self._open()
        return kept


def _next_seq(path: Path) -> int | None:
    """The ``seq`` after the last event in the log file at ``path`` (None: no file or no
    event), after cutting a last line that a crash left without its end."""
    try:
        descriptor = os.open(path, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    with os.fdopen(descriptor, "rb+") as handle:
        size = handle.seek(0, os.SEEK_END)
        tail = b""
        while size > 0 and tail.count(b"\n") < 2:
            step = min(size, 65536)
            size -= step
            handle.seek(size)
            tail = handle.read(step) + tail
        if tail and not tail.endswith(b"\n"):
            cut = tail.rfind(b"\n") + 1
            handle.truncate(size + cut)
            tail = tail[:cut]
        lines = tail.splitlines()
    if not lines:
        return None
    try:
        return int(json.loads(lines[-1])["seq"]) + 1
    except (ValueError, KeyError, TypeError):
        raise LiveError(f"{path}: the last event is not a JSON event with a seq") from None


def continued_seq(directory: Path) -> int:
    """Where a continued hospital's log goes on numbering: after the last event of
    ``events.jsonl``, else of the newest rotated segment; 0 for a new log."""
    found = _next_seq(directory / _CURRENT)
    if found is None:
        known = segments(directory)
        found = _next_seq(known[-1]) if known else None
    return found or 0


class AuditLog(EventLog):
    """The live event log (see the module docstring); ``tallies`` holds what is
    aggregated until the server flushes it.  A log that exists already is a continued
    hospital's (a new hospital's was renamed away): its events are numbered on, after
    a last line a crash cut short is dropped."""

    def __init__(self, sink: RotatingSink, *, max_keys: int = 1024) -> None:
        super().__init__(keep=False, sink=sink, batch=1, first=continued_seq(sink.directory))
        self.rotating = sink
        self.tallies = Tallies(self, max_keys=max_keys)
        self.subscribe(self._rotate_when_full)

    def emit(self, time: datetime, kind: EventKind, subject: str, **data: Value) -> Event:
        """Record an event, or tally it when it is an unauthenticated enrollment or
        token refusal (then the returned event is not numbered: ``seq`` -1)."""
        aggregated = "count" in data  # the tallies' own event
        if kind in _TALLIED and subject == UNAUTHENTICATED and not aggregated:
            fields = {k: v for k, v in data.items() if k != "detail"}
            detail = str(data.get("detail", ""))
            self.tallies.note(kind, subject, time, source=PEER.get(), fields=fields, detail=detail)
            return Event(-1, time, kind, subject, dict(data))
        return super().emit(time, kind, subject, **data)

    def record(
        self,
        time: datetime,
        kind: EventKind,
        subject: str,
        keys: tuple[str, ...],
        values: tuple[Value, ...],
    ) -> None:
        """Record an event given as keys and values, or tally it when it is an access
        decision refused to a peer with no certificate (see the module docstring)."""
        if kind is EventKind.ACCESS_DECISION:
            data = dict(zip(keys, values, strict=True))
            if data.get("serial") is None and not data.get("allowed"):
                fields = {k: v for k, v in data.items() if k not in ("serial", "detail")}
                fields["claimed"] = subject
                self.tallies.note(kind, UNAUTHENTICATED, time, source=PEER.get(),
                                  fields=fields, detail=str(data.get("detail") or ""))  # fmt: skip
                return
        super().record(time, kind, subject, keys, values)

    def _rotate_when_full(self, event: Event) -> None:
        if not self.rotating.full() or event.kind is EventKind.LOG_ROTATED:
            return
        size = self.rotating.size
        kept = self.rotating.rotate()
        self.emit(event.time, EventKind.LOG_ROTATED, "audit-log", previous=kept.name,
                  previous_bytes=size, segment=self.rotating.segment)  # fmt: skip
