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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import IO

from testbed.clock import isoformat

__all__ = ["Event", "EventKind", "EventLog", "Listener", "Value"]

Value = str | int | float | bool | None


class EventKind(StrEnum):
    """What happened.  Lifecycle kinds carry the DICOM audit code they map to."""

    DEVICE_REGISTERED = "device-registered"
    DEVICE_TRANSITION = "device-transition"
    ENROLLMENT_REQUESTED = "enrollment-requested"
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
    DATA_BUFFERED = "data-buffered"
    DATA_LOST = "data-lost"
    DATA_FORWARDED = "data-forwarded"
    FAULT_STARTED = "fault-started"
    FAULT_HEALED = "fault-healed"
    OFFBOARDING_STEP = "offboarding-step"
    DRIFT_DETECTED = "drift-detected"
    POLICY_CHANGED = "policy-changed"
    RECOVERY_CHECK = "recovery-check"


#: DICOM PS3.15 A.5 audit event codes for the kinds that have one.
DICOM_AUDIT_CODES: dict[EventKind, str] = {
    EventKind.DEVICE_REGISTERED: "110108 Network Entry / 110124 Attach",
    EventKind.OFFBOARDING_STEP: "110108 Network Entry / 110125 Detach",
    EventKind.ACCESS_DECISION: "110113 Security Alert / 110126 Node Authentication",
    EventKind.ENROLLMENT_REFUSED: "110113 Security Alert / 110126 Node Authentication",
}


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
    """The append-only log of one run, with notification listeners."""

    def __init__(self, *, keep: bool = True) -> None:
        self._events: list[Event] = []
        self._listeners: list[Listener] = []
        self._keep = keep
        self._count = 0

    def subscribe(self, listener: Listener) -> None:
        """Call ``listener`` with every event from now on."""
        self._listeners.append(listener)

    def emit(self, time: datetime, kind: EventKind, subject: str, **data: Value) -> Event:
        """Record an event and notify the listeners."""
        event = Event(self._count, time, kind, subject, data)
        self._count += 1
        if self._keep:
            self._events.append(event)
        for listener in self._listeners:
            listener(event)
        return event

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[Event]:
        return iter(self._events)

    def of_kind(self, kind: EventKind) -> list[Event]:
        """Every kept event of one kind, in order."""
        return [e for e in self._events if e.kind is kind]

    def for_subject(self, subject: str) -> list[Event]:
        """Every kept event about one subject, in order."""
        return [e for e in self._events if e.subject == subject]

    def write_jsonl(self, target: Path | IO[str]) -> None:
        """Write every kept event as one JSON line."""
        if isinstance(target, Path):
            with target.open("w", encoding="utf-8", newline="\n") as handle:
                self.write_jsonl(handle)
            return
        for event in self._events:
            target.write(event.to_json())
            target.write("\n")
