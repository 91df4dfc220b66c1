"""One clock per run.

Every validity check (certificate, CRL, token, exception expiry, maintenance window)
asks the clock.  In simulation the clock maps SimPy's float seconds to UTC datetimes
counted from the scenario's start; in live mode it reads wall time.  The decision
core never reads the wall clock itself: it is handed ``now``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol

import simpy

__all__ = [
    "Clock",
    "ManualClock",
    "SimClock",
    "WallClock",
    "isoformat",
    "parse_utc",
]


class Clock(Protocol):
    """What the decision core needs to know about time."""

    def now(self) -> datetime:
        """The current time as an aware UTC datetime."""
        ...


class SimClock:
    """Simulation time: ``env.now`` seconds after ``start``."""

    def __init__(self, env: simpy.Environment, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError(f"the clock's start must be timezone-aware UTC, got {start!r}")
        self.env = env
        self.start = start.astimezone(UTC)
        self._last: tuple[float, datetime] = (0.0, self.start)

    def now(self) -> datetime:
        """The scenario time that SimPy has reached (many calls come at one instant:
        :meth:`at` builds its datetime once)."""
        return self.at(float(self.env.now))

    def at(self, seconds: float) -> datetime:
        """The UTC datetime ``seconds`` after the start (the same object as the last
        call's for the same ``seconds``: the traffic engine runs many devices' turns at
        one instant, and the audit log writes an instant's text once per object)."""
        last = self._last
        if last[0] == seconds:
            return last[1]
        when = self.start + timedelta(0, seconds)
        self._last = (seconds, when)
        return when

    def seconds(self, when: datetime) -> float:
        """Simulation seconds from the start to ``when``."""
        return (when - self.start).total_seconds()


class ManualClock:
    """Time that moves only when told to: tests, and live runs a test steps through."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError(f"the clock's start must be timezone-aware UTC, got {start!r}")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        """The time last set."""
        return self._now

    def set(self, when: datetime) -> None:
        """Move to ``when`` (forwards or backwards: a clock can be reset)."""
        if when.tzinfo is None:
            raise ValueError(f"the time must be timezone-aware UTC, got {when!r}")
        self._now = when.astimezone(UTC)

    def advance(self, delta: timedelta) -> datetime:
        """Move forward by ``delta``; returns the new time."""
        self._now += delta
        return self._now


class WallClock:
    """Live mode: wall time, optionally shifted (to inject clock skew)."""

    def __init__(self, *, offset: timedelta = timedelta(0)) -> None:
        self.offset = offset

    def now(self) -> datetime:
        """Wall time in UTC plus the offset."""
        return datetime.now(UTC) + self.offset


def isoformat(when: datetime) -> str:
    """UTC ISO 8601 with a ``Z`` suffix and whole-microsecond precision."""
    if when.tzinfo is UTC:  # the common case: already UTC, whose only "+00:00" ends it
        return when.isoformat()[:-6] + "Z"
    text = when.astimezone(UTC).isoformat()
    return text.replace("+00:00", "Z")


def parse_utc(text: str) -> datetime:
    """Parse ISO 8601; a naive value is refused rather than guessed."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError(f"{text!r} has no timezone; write it in UTC, e.g. 2026-01-05T08:00:00Z")
    return value.astimezone(UTC)
