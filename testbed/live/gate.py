"""The connection gate: how many connections are open, per listener, per source, in all.

A listener asks :meth:`ConnectionGate.admit` for each accepted connection; the
answer is None (admitted: the caller releases it once, when it closes) or the cap
that refuses it.  Counts only: memory is one entry per listener and one per source
address with an open connection.  Thread-safe (one lock): the DICOM acceptors
(:mod:`testbed.live.dicom`) admit from their accept threads.
"""

from __future__ import annotations

import threading
from collections import Counter
from enum import StrEnum

from testbed.live.limits import Limits

__all__ = ["Cap", "ConnectionGate"]


class Cap(StrEnum):
    """Which cap refused a connection (the ``reason`` of its audit event)."""

    TOTAL = "connection-cap-total"
    LISTENER = "connection-cap-listener"
    SOURCE = "connection-cap-source"


class ConnectionGate:
    """Open connections counted against :class:`~testbed.live.limits.Limits`' caps."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.open = 0
        self._listeners: Counter[str] = Counter()
        self._sources: Counter[str] = Counter()
        self._lock = threading.Lock()

    def admit(self, listener: str, source: str) -> Cap | None:
        """Count a new connection in, or say which cap refuses it (not counted)."""
        with self._lock:
            return self._admit(listener, source)

    def _admit(self, listener: str, source: str) -> Cap | None:
        if self.open >= self.limits.total:
            return Cap.TOTAL
        if self._listeners[listener] >= self.limits.per_listener:
            return Cap.LISTENER
        if self._sources[source] >= self.limits.per_source:
            return Cap.SOURCE
        self.open += 1
        self._listeners[listener] += 1
        self._sources[source] += 1
        return None

    def release(self, listener: str, source: str) -> None:
        """An admitted connection closed."""
        with self._lock:
            self._release(listener, source)

    def _release(self, listener: str, source: str) -> None:
        self.open -= 1
        self._listeners[listener] -= 1
        self._sources[source] -= 1
        if self._sources[source] <= 0:
            del self._sources[source]  # no entry for a source with nothing open

    def of(self, listener: str) -> int:
        """Open connections of one listener."""
        return self._listeners[listener]
