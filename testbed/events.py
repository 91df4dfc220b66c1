"""Identity events: the audit log of a run.

Every decision, enrollment, issuance, token grant, policy change and offboarding
step writes one :class:`Event`.  The log is append-only and serialises to JSON lines
with sorted keys, so the same scenario and seed give byte-identical files.

Two kinds of hooks (after pynetdicom's ``events``): *notifications* are listeners
that see every event (metrics, progress, live logging); the log never asks them for
a decision.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import IO

from testbed.clock import isoformat

__all__ = ["AuditCode", "Event", "EventKind", "EventLog", "Listener", "Value"]

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


class EventLog:
    """The append-only log of one run, with notification listeners.

    Events are kept compactly (one slot per field in parallel lists; the data as a
    tuple of values under a shared tuple of keys) and become :class:`Event` objects
    only when read: a year of a large fleet writes millions of access decisions, and a
    dict per event would cost more memory than the rest of the run together.
    """

    def __init__(self, *, keep: bool = True) -> None:
        self._times: list[datetime] = []
        self._kinds: list[EventKind] = []
        self._subjects: list[str] = []
        self._keys: list[tuple[str, ...]] = []
        self._values: list[tuple[Value, ...]] = []
        self._schemas: dict[tuple[str, ...], tuple[str, ...]] = {}
        self._listeners: list[Listener] = []
        self._keep = keep
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
        self._count += 1
        if self._keep:
            self._times.append(time)
            self._kinds.append(kind)
            self._subjects.append(subject)
            self._keys.append(keys)
            self._values.append(values)

    def _event(self, i: int) -> Event:
        data = dict(zip(self._keys[i], self._values[i], strict=True))
        return Event(i, self._times[i], self._kinds[i], self._subjects[i], data)

    def __len__(self) -> int:
        return self._count

    @property
    def kept(self) -> int:
        """How many events are kept (all of them, or none with ``keep=False``)."""
        return len(self._kinds)

    def kept_of(self, *kinds: EventKind) -> int:
        """How many kept events are of one of ``kinds`` (counted from the log itself)."""
        counts = Counter(self._kinds)
        return sum(counts[kind] for kind in set(kinds))

    def __iter__(self) -> Iterator[Event]:
        return (self._event(i) for i in range(len(self._kinds)))

    def of_kind(self, kind: EventKind) -> list[Event]:
        """Every kept event of one kind, in order."""
        return [self._event(i) for i, k in enumerate(self._kinds) if k is kind]

    def for_subject(self, subject: str) -> list[Event]:
        """Every kept event about one subject, in order."""
        return [self._event(i) for i, s in enumerate(self._subjects) if s == subject]

    def write_jsonl(self, target: Path | IO[str]) -> None:
        """Write every kept event as one JSON line."""
        if isinstance(target, Path):
            with target.open("w", encoding="utf-8", newline="\n") as handle:
                self.write_jsonl(handle)
            return
        for event in self:
            target.write(event.to_json())
            target.write("\n")
