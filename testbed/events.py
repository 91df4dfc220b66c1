"""Identity events: the audit log of a run.

Every decision, enrollment, issuance, token grant, policy change and offboarding
step writes one :class:`Event`.  The log is append-only and serialises to JSON lines
with sorted keys (:meth:`Event.to_json`), so the same scenario and seed give
byte-identical files.

What the log does with an event, besides counting it:

- *notifications*: listeners see every event (metrics, progress, live logging); the
  log never asks them for a decision (after pynetdicom's ``events``);
- *streaming*: with a sink (:class:`~testbed.event_sink.JsonlSink`) every event is
  written to a JSON-lines file in batches as the run goes;
- *keeping*: in memory, every event (the default), none, or those matching some
  :class:`EventFilter` (with a sink, what the reports read: the bulk, allowed access
  decisions, then only goes to the file).  Readers ask for events by filter
  (:meth:`EventLog.select`), which an ``events.jsonl`` read back offers too
  (:class:`EventSource`).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from itertools import islice
from operator import itemgetter
from pathlib import Path
from typing import IO, Protocol

from testbed.clock import isoformat
from testbed.event_json import Row
from testbed.event_sink import JsonlSink

__all__ = [
    "AuditCode",
    "Event",
    "EventFilter",
    "EventKind",
    "EventLog",
    "EventSource",
    "Listener",
    "Value",
]

Value = str | int | float | bool | None


class EventKind(StrEnum):
    """What happened.  Lifecycle kinds carry the DICOM audit code they map to."""

    DEVICE_REGISTERED = "device-registered"
    DEVICE_TRANSITION = "device-transition"
    ENROLLMENT_REFUSED = "enrollment-refused"
    CERTIFICATE_ISSUED = "certificate-issued"
    CERTIFICATE_RENEWED = "certificate-renewed"
    CERTIFICATE_EXPIRED = "certificate-expired"
    CERTIFICATE_REVOKED = "certificate-revoked"
    RENEWAL_MISSED = "renewal-missed"
    CRL_PUBLISHED = "crl-published"
    TRUST_BUNDLE_UPDATED = "trust-bundle-updated"
    CA_KEY_ROTATED = "ca-key-rotated"
    ACCESS_DECISION = "access-decision"
    VALIDATION_TEST = "validation-test"
    DATA_LOST = "data-lost"
    DATA_FORWARDED = "data-forwarded"
    FAULT_STARTED = "fault-started"
    FAULT_HEALED = "fault-healed"
    OFFBOARDING_STEP = "offboarding-step"
    DRIFT_DETECTED = "drift-detected"
    POLICY_CHANGED = "policy-changed"
    RECOVERY_CHECK = "recovery-check"
    UNAUTHORIZED_ACCESS = "unauthorized-access"
    DATA_HELD = "data-held"
    AUDIT_TALLY = "audit-tally"


class AuditCode(StrEnum):
    """DICOM PS3.15 A.5 audit event codes (event ID / event type) the lifecycle events
    carry as ``audit_code``: a device joins the network, or leaves it."""

    ATTACH = "110108/110124"  # Network Entry / Attach: registration (onboarding)
    DETACH = "110108/110125"  # Network Entry / Detach: each offboarding step


@dataclass(frozen=True, slots=True)
class Event:
    """One identity event.  ``subject`` is the device (or service) it concerns."""

    seq: int
    time: datetime
    kind: EventKind
    subject: str
    data: dict[str, Value] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Value]:
        """A flat JSON-ready mapping: fixed keys first, then the event's data."""
        out: dict[str, Value] = {
            "seq": self.seq,
            "time": isoformat(self.time),
            "kind": self.kind.value,
            "subject": self.subject,
        }
        for key, value in self.data.items():
            if key in out:
                raise ValueError(f"event data key {key!r} clashes with a fixed field")
            out[key] = value
        return out

    def to_json(self) -> str:
        """One line of JSON with sorted keys."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))


Listener = Callable[[Event], None]

_ABSENT = object()
_KIND = itemgetter(1)
BATCH = 16384
"""Events a streaming log writes at a time (a few MB of text)."""


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Events of some kinds whose data holds some values.

    ``where`` is a tuple of (data key, value) pairs an event must all have; a value
    matches an equal one, a boolean only a boolean (``False`` is not ``0``).  Readers
    select events with filters; a log keeps in memory the events some filters match.
    """

    kinds: frozenset[EventKind]
    where: tuple[tuple[str, Value], ...] = ()

    @classmethod
    def of(cls, *kinds: EventKind, **where: Value) -> EventFilter:
        """``EventFilter.of(EventKind.ACCESS_DECISION, allowed=False)``."""
        return cls(frozenset(kinds), tuple(where.items()))

    def accepts(self, event: Event) -> bool:
        """Whether ``event`` is one of these."""
        if event.kind not in self.kinds:
            return False
        data = event.data
        return all(_same(data.get(key, _ABSENT), value) for key, value in self.where)

    def matches(self, kind: EventKind, keys: tuple[str, ...], values: tuple[Value, ...]) -> bool:
        """Whether the event of ``kind`` with data ``keys``/``values`` is one of these
        (as :meth:`accepts` says of its :class:`Event`, without building it)."""
        if kind not in self.kinds:
            return False
        for key, wanted in self.where:
            try:
                index = keys.index(key)
            except ValueError:
                return False
            if keys.count(key) > 1:  # the data dict holds a repeated key's last value
                index = len(keys) - 1 - keys[::-1].index(key)
            if not _same(values[index], wanted):
                return False
        return True


def _same(found: object, wanted: Value) -> bool:
    return found == wanted and (found.__class__ is bool) == (wanted.__class__ is bool)


class EventSource(Protocol):
    """Events a report reads: all of them in order, or those some filters select."""

    def __iter__(self) -> Iterator[Event]: ...

    def select(self, *filters: EventFilter) -> Iterator[Event]:
        """The events any of ``filters`` accepts, in order."""
        ...


class EventLog:
    """The append-only log of one run, with notification listeners.

    ``keep``: which events to keep in memory: all (``True``, the default), none
    (``False``) or those any of the given filters matches.  ``sink``: where to stream
    every event as JSON lines, ``batch`` events at a time (:meth:`flush` writes what
    is pending, :meth:`close` flushes and closes the sink; the log's owner closes it,
    also when the run raises, so nothing recorded is lost).  Every event is counted
    whatever is kept (``len(log)``).

    Kept events are compact (one slot per field in parallel lists; the data as a tuple
    of values under a shared tuple of keys) and become :class:`Event` objects only
    when read: a year of a large fleet writes millions of access decisions, and a
    dict per event would cost more memory than the rest of the run together.
    """

    def __init__(
        self,
        *,
        keep: bool | Iterable[EventFilter] = True,
        sink: JsonlSink | None = None,
        batch: int = BATCH,
    ) -> None:
        self._times: list[datetime] = []
        self._kinds: list[EventKind] = []
        self._subjects: list[str] = []
        self._keys: list[tuple[str, ...]] = []
        self._values: list[tuple[Value, ...]] = []
        self._schemas: dict[tuple[str, ...], tuple[str, ...]] = {}
        self._listeners: list[Listener] = []
        self._keep_all = keep is True
        filters = () if isinstance(keep, bool) else tuple(keep)
        self._always = frozenset(k for f in filters if not f.where for k in f.kinds)
        self._when: dict[EventKind, tuple[EventFilter, ...]] = {
            kind: tuple(f for f in filters if f.where and kind in f.kinds)
            for kind in {k for f in filters if f.where for k in f.kinds} - self._always
        }
        self._seqs: list[int] = []  # each kept event's number, unless all are kept
        self._sink = sink
        self._pending: list[Row] | None = None if sink is None else []
        self._batch = batch
        self._streamed: Counter[EventKind] = Counter()
        self._count = 0

    def subscribe(self, listener: Listener) -> None:
        """Call ``listener`` with every event from now on."""
        self._listeners.append(listener)

    def emit(self, time: datetime, kind: EventKind, subject: str, **data: Value) -> Event:
        """Record an event and notify the listeners."""
        keys = tuple(data)
        keys = self._schemas.setdefault(keys, keys)
        event = Event(self._count, time, kind, subject, data)
        self._append(time, kind, subject, keys, tuple(data.values()))
        for listener in self._listeners:
            listener(event)
        return event

    def record(
        self,
        time: datetime,
        kind: EventKind,
        subject: str,
        keys: tuple[str, ...],
        values: tuple[Value, ...],
    ) -> None:
        """Record an event given as parallel ``keys`` and ``values`` (the hot path).

        Same result as ``emit(time, kind, subject, **dict(zip(keys, values, strict=True)))``;
        ``keys`` should be a constant tuple shared by every event of its shape.
        """
        self._append(time, kind, subject, keys, values)
        if self._listeners:
            data = dict(zip(keys, values, strict=True))
            event = Event(self._count - 1, time, kind, subject, data)
            for listener in self._listeners:
                listener(event)

    def _append(
        self,
        time: datetime,
        kind: EventKind,
        subject: str,
        keys: tuple[str, ...],
        values: tuple[Value, ...],
    ) -> None:
        seq = self._count
        self._count = seq + 1
        pending = self._pending
        if pending is not None:
            pending.append((time, kind, subject, keys, values))
            if len(pending) >= self._batch:
                self.flush()
        if not self._keep_all:
            if not self._keeps(kind, keys, values):
                return
            self._seqs.append(seq)
        self._times.append(time)
        self._kinds.append(kind)
        self._subjects.append(subject)
        self._keys.append(keys)
        self._values.append(values)

    def _keeps(self, kind: EventKind, keys: tuple[str, ...], values: tuple[Value, ...]) -> bool:
        if kind in self._always:
            return True
        filters = self._when.get(kind)
        return filters is not None and any(f.matches(kind, keys, values) for f in filters)

    def flush(self) -> None:
        """Write the events not yet streamed to the sink (none without a sink)."""
        pending, sink = self._pending, self._sink
        if not pending or sink is None:
            return
        self._pending = []
        self._streamed.update(map(_KIND, pending))
        sink.write(self._count - len(pending), pending)

    def close(self) -> None:
        """Flush and close the sink (once); an event recorded afterwards raises."""
        if self._sink is None or self._sink.closed:
            return
        try:
            self.flush()
        finally:
            self._sink.close()
            self._batch = 0  # the next event is flushed at once, into the closed sink

    @property
    def sink(self) -> JsonlSink | None:
        """Where the log streams its events, if anywhere."""
        return self._sink

    def _event(self, i: int) -> Event:
        data = dict(zip(self._keys[i], self._values[i], strict=True))
        seq = i if self._keep_all else self._seqs[i]
        return Event(seq, self._times[i], self._kinds[i], self._subjects[i], data)

    def __len__(self) -> int:
        return self._count

    @property
    def kept(self) -> int:
        """How many events are kept in memory."""
        return len(self._kinds)

    def kept_of(self, *kinds: EventKind) -> int:
        """How many kept events are of one of ``kinds`` (counted from the log itself)."""
        counts = Counter(self._kinds)
        return sum(counts[kind] for kind in set(kinds))

    def recorded_of(self, *kinds: EventKind) -> int:
        """How many events of ``kinds`` the log's audit trail holds: every one it
        streamed (or will at the next flush) to its sink, or without a sink every
        one it keeps."""
        if self._sink is None:
            return self.kept_of(*kinds)
        counts = self._streamed + Counter(map(_KIND, self._pending or ()))
        return sum(counts[kind] for kind in set(kinds))

    def __iter__(self) -> Iterator[Event]:
        return (self._event(i) for i in range(len(self._kinds)))

    def select(self, *filters: EventFilter) -> Iterator[Event]:
        """The kept events any of ``filters`` matches, in order."""
        wanted = frozenset().union(*(f.kinds for f in filters))
        keys, values = self._keys, self._values
        for i in [i for i, kind in enumerate(self._kinds) if kind in wanted]:
            kind = self._kinds[i]
            if any(f.matches(kind, keys[i], values[i]) for f in filters):
                yield self._event(i)

    def of_kind(self, kind: EventKind) -> list[Event]:
        """Every kept event of one kind, in order."""
        return list(self.select(EventFilter.of(kind)))

    def for_subject(self, subject: str) -> list[Event]:
        """Every kept event about one subject, in order."""
        return [self._event(i) for i, s in enumerate(self._subjects) if s == subject]

    def write_jsonl(self, target: Path | IO[str]) -> None:
        """Write every event as one JSON line (:meth:`Event.to_json`'s text);
        :class:`ValueError` if the log does not keep them all."""
        if self.kept != len(self):
            raise ValueError(
                f"the log keeps {self.kept} of its {len(self)} events in memory; "
                "write them as they come with a sink instead"
            )
        rows: Iterator[Row] = zip(
            self._times, self._kinds, self._subjects, self._keys, self._values, strict=True
        )
        with JsonlSink(target) as sink:
            while batch := list(islice(rows, BATCH)):
                sink.write(sink.events, batch)
