"""Evidence: the audit events and adapter exchanges a verdict rests on.

The kit reads the hospital's audit log (``DIR/events.jsonl``, written as events
happen) as a device's actions and the kit's faults add to it: a :class:`Mark` is a
place in the log, :meth:`AuditTrail.since` the events after it.  An
:class:`EventRef` names one event by its file, line and ``seq``, so a reader of the
report can find it (``sed -n LINEp DIR/events.jsonl``); the tests check that every
reference points at an event that exists.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from testbed.certify.adapter import Exchange

__all__ = ["AuditTrail", "EventRef", "Evidence", "Mark"]

Event = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Mark:
    """A place in the audit log: how many lines it had."""

    line: int


@dataclass(frozen=True, slots=True)
class EventRef:
    """One audit event: where it is and what it says."""

    file: str
    line: int  # 1-based
    seq: int | None
    kind: str
    subject: str
    data: Mapping[str, Any]

    def to_json(self) -> dict[str, Any]:
        """The reference as the report shows it."""
        return {"file": self.file, "line": self.line, "seq": self.seq, "kind": self.kind,
                "subject": self.subject, "data": dict(self.data)}  # fmt: skip


@dataclass
class Evidence:
    """What one check's verdict rests on."""

    events: list[EventRef] = field(default_factory=list)
    exchanges: list[Exchange] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The evidence as the report shows it."""
        return {"events": [e.to_json() for e in self.events],
                "exchanges": [x.to_json() for x in self.exchanges],
                "notes": list(self.notes)}  # fmt: skip


_FIXED = ("seq", "time", "kind", "subject")


class AuditTrail:
    """The hospital's audit log, read from disk as it grows."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _lines(self) -> list[str]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        lines = text.split("\n")
        return lines[:-1]  # the last piece is unfinished (or empty after a newline)

    def mark(self) -> Mark:
        """The end of the log now."""
        return Mark(len(self._lines()))

    def since(self, mark: Mark, *, kind: str | None = None,
              subject: str | None = None) -> list[EventRef]:  # fmt: skip
        """The events after ``mark`` (of ``kind``, about ``subject``, when given)."""
        found = []
        for number, line in enumerate(self._lines()[mark.line :], start=mark.line + 1):
            event: dict[str, Any] = json.loads(line)
            if kind is not None and event.get("kind") != kind:
                continue
            if subject is not None and event.get("subject") != subject:
                continue
            data = {k: v for k, v in event.items() if k not in _FIXED}
            found.append(EventRef(self.path.name, number, event.get("seq"),
                                  str(event.get("kind")), str(event.get("subject")), data))
        return found

    def exists(self, ref: EventRef) -> bool:
        """Whether the log holds the event ``ref`` names, at its line."""
        lines = self._lines()
        if not 1 <= ref.line <= len(lines):
            return False
        event = json.loads(lines[ref.line - 1])
        return bool(event.get("seq") == ref.seq and event.get("kind") == ref.kind)
