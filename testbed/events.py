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
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from itertools import islice
from pathlib import Path
from typing import IO, Literal, Protocol

from mypy_extensions import mypyc_attr

from testbed.clock import isoformat
from testbed.event_json import Row
from testbed.event_sink import JsonlSink

__all__ = [
    "UNAUTHENTICATED",
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

UNAUTHENTICATED = "(unauthenticated)"
"""The subject of a refusal of a client no credential identified (an enrollment with
no or wrong bootstrap credentials, a token request naming no registered client)."""


class EventKind(StrEnum):
    """What happened.  Lifecycle kinds carry the DICOM audit code they map to."""

    DEVICE_REGISTERED = "device-registered"
    DEVICE_TRANSITION = "device-transition"
    ENROLLMENT_REFUSED = "enrollment-refused"
    CERTIFICATE_ISSUED = "certificate-issued"
    CERTIFICATE_RENEWED = "certificate-renewed"
    CERTIFICATE_REDELIVERED = "certificate-redelivered"  # a lost re-enrollment answer, again
    CERTIFICATE_EXPIRED = "certificate-expired"
    CERTIFICATE_REVOKED = "certificate-revoked"
    # credentials: shared: an operator revoked a device whose department credential stays valid
    SHARED_CREDENTIAL_KEPT = "shared-credential-kept"
    SHARED_CREDENTIAL_ROTATED = "shared-credential-rotated"  # a department's, by an operator
    SHARED_CREDENTIAL_HANDED = "shared-credential-handed"  # the new one, to one device by hand
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
    REQUEST_REFUSED = "request-refused"  # live transport: refused below the core (aggregated)
    REQUESTS_SERVED = "requests-served"  # live: CRL and OCSP answers (aggregated)
    LOG_ROTATED = "log-rotated"  # live: the audit log moved on to a new file
    # SMART backend services (testbed/smart/): the identity provider's answers and clients
    TOKEN_GRANTED = "token-granted"
    TOKEN_REFUSED = "token-refused"
    TOKEN_INTROSPECTED = "token-introspected"
    SMART_CLIENT_CHANGED = "smart-client-changed"
    IDP_KEY_ROTATED = "idp-key-rotated"
    # the EHR (testbed/ehr/): FHIR writes and reads answered, patients moved
    EHR_WRITE = "ehr-write"
    EHR_READ = "ehr-read"
    PATIENT_MOVED = "patient-moved"
    # the EHR in a hospital (issue 11): a device's turn of FHIR deliveries (simulation),
    # a write the oracle finds stored twice
    FHIR_DELIVERY = "fhir-delivery"
    DUPLICATE_WRITE = "duplicate-write"
    # the PACS (testbed/pacs/): one event per association, echo and store decision
    DICOM_ASSOCIATION = "dicom-association"
    DICOM_ECHO = "dicom-echo"
    DICOM_STORE = "dicom-store"
    # network designs (issue 13): a rule added outside change control was removed,
    # with how long it was in force and whether a drift scan had found it
    POLICY_EXPOSURE = "policy-exposure"
    # simulated imaging traffic (testbed/sim/imaging.py, issue 12): a study kept on the
    # device after its first refusal, and a study whose every instance the PACS stored
    STUDY_QUEUED = "study-queued"
    STUDY_STORED = "study-stored"
    # the live PACS (testbed/live/dicom/, pacs-check): a C-FIND decision
    DICOM_FIND = "dicom-find"


class AuditCode(StrEnum):
    """DICOM PS3.15 A.5 audit event codes (event ID / event type) the lifecycle events
    carry as ``audit_code``: a device joins the network, or leaves it; a PACS refuses
    a node's authentication, or receives instances."""

    ATTACH = "110108/110124"  # Network Entry / Attach: registration (onboarding)
    DETACH = "110108/110125"  # Network Entry / Detach: each offboarding step
    # the PACS (testbed/pacs/)
    NODE_AUTHENTICATION = "110113/110126"  # Security Alert / Node Authentication: TLS refused
    INSTANCES_TRANSFERRED = "110104"  # DICOM Instances Transferred: a C-STORE


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

BATCH = 4096
"""Events a streaming log writes at a time: about 1 MB of text (larger batches were
measured slower to join and write, smaller ones no faster)."""


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
        return self.matches(event.kind, tuple(event.data), tuple(event.data.values()))

    def matches(self, kind: EventKind, keys: tuple[str, ...], values: tuple[Value, ...]) -> bool:
        """Whether the event of ``kind`` with data ``keys``/``values`` is one of these
        (as :meth:`accepts` says of its :class:`Event`, without building it)."""
        if kind not in self.kinds:
            return False
        positions = self.places(keys)
        return positions is not None and _holds(values, positions)

    def places(self, keys: tuple[str, ...]) -> _Positions | None:
        """Where each value asked for is among data ``keys`` (a repeated key's last
        place, whose value the data dict holds), with the value; None if one is absent."""
        last = {key: index for index, key in enumerate(keys)}
        if any(key not in last for key, _ in self.where):
            return None
        return tuple((last[key], wanted) for key, wanted in self.where)


_Positions = tuple[tuple[int, Value], ...]
"""(index among the data values, value asked for) pairs: a filter's ``where`` for one shape."""


def _plan(
    filters: Sequence[EventFilter], kind: EventKind, keys: tuple[str, ...]
) -> list[_Positions]:
    """The places each filter that can match events of ``kind`` with data ``keys``
    asks of their values (none: no filter can; an empty one: that filter matches all)."""
    return [
        places for f in filters if kind in f.kinds and (places := f.places(keys)) is not None
    ]


def _holds(values: tuple[Value, ...], positions: _Positions) -> bool:
    """Whether ``values`` has each value asked for at its place (equal; a boolean only
    a boolean)."""
    for index, wanted in positions:
        found = values[index]
        if found is not wanted and (
            found != wanted or (found.__class__ is bool) is not (wanted.__class__ is bool)
        ):
            return False
    return True


@dataclass(frozen=True, slots=True)
class _Shapes:
    """The filters that keep some events of one kind, by the values they ask for; the
    places of those values, per shape (tuple of data keys), found when first seen."""

    filters: tuple[EventFilter, ...]
    shapes: dict[tuple[str, ...], tuple[_Positions, ...]] = field(default_factory=dict)

    def place(self, keys: tuple[str, ...]) -> tuple[_Positions, ...]:
        """The places of each filter's values among ``keys`` (those it can match)."""
        found = (f.places(keys) for f in self.filters)
        shape = self.shapes[keys] = tuple(p for p in found if p is not None)
        return shape


_Rule = Literal[True] | _Shapes
"""How a log keeps the events of one kind: all, or those some filters match."""


def _rules(filters: tuple[EventFilter, ...]) -> dict[EventKind, _Rule]:
    """Per kind that some filter selects: True if one asks for no value, else its filters."""
    rules: dict[EventKind, _Rule] = {}
    for kind in {k for f in filters for k in f.kinds}:
        mine = tuple(f for f in filters if kind in f.kinds)
        rules[kind] = True if any(not f.where for f in mine) else _Shapes(mine)
    return rules


class _Columns:
    """Events in parallel lists, one per field (the log's compact form)."""

    __slots__ = ("keys", "kinds", "subjects", "times", "values")

    def __init__(self) -> None:
        self.times: list[datetime] = []
        self.kinds: list[EventKind] = []
        self.subjects: list[str] = []
        self.keys: list[tuple[str, ...]] = []
        self.values: list[tuple[Value, ...]] = []

    def rows(self) -> Iterator[Row]:
        """Each event as a :data:`~testbed.event_json.Row`, in order."""
        return zip(self.times, self.kinds, self.subjects, self.keys, self.values, strict=True)


class EventSource(Protocol):
    """Events a report reads: all of them in order, or those some filters select."""

    def __iter__(self) -> Iterator[Event]: ...

    def select(self, *filters: EventFilter) -> Iterator[Event]:
        """The events any of ``filters`` accepts, in order."""
        ...


# live mode's audit log (testbed.live.audit.AuditLog) extends it: compiled with mypyc
# (benchmarks.compiled), a class interpreted code derives from must say so
@mypyc_attr(allow_interpreted_subclasses=True)
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
        first: int = 0,
    ) -> None:
        """``first``: the ``seq`` of the first event (a continued log numbers on); only
        with ``keep=False``, since kept events are found by their position."""
        if first and keep is not False:
            raise ValueError("a log that numbers from first > 0 keeps no events (keep=False)")
        self._kept = _Columns()
        self._seqs: list[int] = []  # each kept event's number, unless all are kept
        self._keep_all = keep is True
        self._rules = _rules(() if isinstance(keep, bool) else tuple(keep))
        self._sink = sink
        self._pending = None if sink is None else _Columns()  # not streamed yet
        self._batch = batch
        self._streamed: Counter[EventKind] = Counter()
        self._schemas: dict[tuple[str, ...], tuple[str, ...]] = {}
        self._listeners: list[Listener] = []
        self._count = first

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
        if pending is not None:  # parallel lists, not a tuple per event: less for the GC
            pending.times.append(time)
            pending.kinds.append(kind)
            pending.subjects.append(subject)
            pending.keys.append(keys)
            pending.values.append(values)
            if len(pending.kinds) >= self._batch:
                self.flush()
        if not self._keep_all:
            rule = self._rules.get(kind)
            if rule is None:
                return
            if rule is not True:  # kept if a filter's values are there (inline: hot path)
                shape = rule.shapes.get(keys)
                if shape is None:
                    shape = rule.place(keys)
                for positions in shape:
                    if _holds(values, positions):
                        break
                else:
                    return
            self._seqs.append(seq)
        kept = self._kept
        kept.times.append(time)
        kept.kinds.append(kind)
        kept.subjects.append(subject)
        kept.keys.append(keys)
        kept.values.append(values)

    def flush(self) -> None:
        """Write the events not yet streamed to the sink (none without a sink)."""
        pending, sink = self._pending, self._sink
        if pending is None or sink is None or not pending.kinds:
            return
        self._pending = _Columns()  # a batch that fails to be written is not tried again
        sink.write(self._count - len(pending.kinds), pending.rows())
        self._streamed.update(pending.kinds)

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
        kept = self._kept
        data = dict(zip(kept.keys[i], kept.values[i], strict=True))
        seq = i if self._keep_all else self._seqs[i]
        return Event(seq, kept.times[i], kept.kinds[i], kept.subjects[i], data)

    def __len__(self) -> int:
        return self._count

    @property
    def kept(self) -> int:
        """How many events are kept in memory."""
        return len(self._kept.kinds)

    def kept_of(self, *kinds: EventKind) -> int:
        """How many kept events are of one of ``kinds`` (counted from the log itself)."""
        counts = Counter(self._kept.kinds)
        return sum(counts[kind] for kind in set(kinds))

    def recorded_of(self, *kinds: EventKind) -> int:
        """How many events of ``kinds`` the log's audit trail holds: every one it
        streamed (or will at the next flush) to its sink, or without a sink every
        one it keeps."""
        if self._sink is None:
            return self.kept_of(*kinds)
        counts = self._streamed + Counter(self._pending.kinds if self._pending else ())
        left_out = self._sink.left_out  # a sink that writes only some events
        return sum(counts[kind] - left_out[kind.value] for kind in set(kinds))

    def __iter__(self) -> Iterator[Event]:
        return (self._event(i) for i in range(self.kept))

    def select(self, *filters: EventFilter) -> Iterator[Event]:
        """The kept events any of ``filters`` matches, in order.

        What :meth:`EventFilter.matches` says, with each filter's places worked out
        once per kind and shape of data (a report reads millions of events of a few
        shapes)."""
        wanted = frozenset().union(*(f.kinds for f in filters))
        kinds, keys, values = self._kept.kinds, self._kept.keys, self._kept.values
        plans: dict[tuple[EventKind, tuple[str, ...]], list[_Positions]] = {}
        for i in [i for i, kind in enumerate(kinds) if kind in wanted]:
            kind, shape = kinds[i], keys[i]
            plan = plans.get((kind, shape))
            if plan is None:
                plan = plans[kind, shape] = _plan(filters, kind, shape)
            if any(_holds(values[i], places) for places in plan):
                yield self._event(i)

    def of_kind(self, kind: EventKind) -> list[Event]:
        """Every kept event of one kind, in order."""
        return list(self.select(EventFilter.of(kind)))

    def for_subject(self, subject: str) -> list[Event]:
        """Every kept event about one subject, in order."""
        return [self._event(i) for i, s in enumerate(self._kept.subjects) if s == subject]

    def write_jsonl(self, target: Path | IO[str]) -> None:
        """Write every event as one JSON line (:meth:`Event.to_json`'s text);
        :class:`ValueError` if the log does not keep them all."""
        if self.kept != len(self):
            raise ValueError(
                f"the log keeps {self.kept} of its {len(self)} events in memory; "
                "write them as they come with a sink instead"
            )
        rows = self._kept.rows()
        with JsonlSink(target, background=True) as sink:
            while batch := list(islice(rows, BATCH)):
                sink.write(sink.events, batch)
