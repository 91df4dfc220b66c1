"""What made a measure what it is: the devices, sites and faults behind its events.

A failing expectation says "data_lost measured 17,640, expected 0"; a person then
wants to know who lost it, where, and under which fault.  :func:`contributors` reads
the events that make up a measure (:data:`RELATED`: denied access decisions only),
counts them by device and by site, and names each fault whose window (from its
``fault-started`` event to its ``ends``) covers one of them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from testbed.events import Event, EventKind

__all__ = ["DEFAULT_RELATED", "RELATED", "Contributors", "FaultWindow", "contributors"]

#: Event kinds related to each measure (access decisions count only when denied).
RELATED: dict[str, tuple[str, ...]] = {
    "unauthorized_access": ("unauthorized-access", "certificate-revoked", "offboarding-step"),
    "stale_access_after_offboarding": ("offboarding-step", "certificate-revoked"),
    "data_lost": ("data-lost",),
    "clinical_downtime_minutes": ("access-decision", "renewal-missed", "fault-started"),
    "incidents": ("access-decision", "renewal-missed", "fault-started"),
    "renewals_done": ("certificate-renewed", "renewal-missed"),
    "renewals_missed": ("renewal-missed", "certificate-expired"),
    "manual_steps": ("enrollment-refused", "device-transition"),
    "onboarding_minutes_max": ("enrollment-refused", "certificate-issued"),
    "devices_in_production": ("device-transition",),
    "devices_offboarded": ("offboarding-step",),
    "audit_coverage": ("access-decision",),
    "fail_safe": ("validation-test",),
    "drift_alerts": ("drift-detected",),
    "recovered": ("recovery-check", "access-decision"),
    "data_held_at_end": ("data-lost", "access-decision", "recovery-check"),
}
DEFAULT_RELATED = ("access-decision", "renewal-missed", "data-lost", "certificate-revoked")

_SHOWN = 5  # devices, sites and faults named


@dataclass(frozen=True, slots=True)
class FaultWindow:
    """One fault as the log shows it: kind, target and window."""

    fault: str
    target: str
    start: datetime
    end: datetime | None

    def covers(self, time: datetime) -> bool:
        """Whether ``time`` falls within the fault's window."""
        return self.start <= time and (self.end is None or time < self.end)

    def __str__(self) -> str:
        return f"{self.fault} {self.target}"


@dataclass(frozen=True, slots=True)
class Contributors:
    """The events behind one measure, counted by device, site and fault."""

    metric: str
    kinds: tuple[str, ...]
    events: int
    devices: tuple[tuple[str, int], ...]  # the most events first
    sites: tuple[tuple[str, int], ...]
    faults: tuple[tuple[str, int], ...]  # events in the fault's window

    def lines(self) -> list[str]:
        """A few lines for a person: counts, then the top contributors of each kind."""
        if not self.events:
            return [f"no related events ({', '.join(self.kinds)}) in the log"]
        out = [f"contributors ({self.events:,} related events: {', '.join(self.kinds)}):"]
        for title, counts in (("devices", self.devices), ("sites", self.sites),
                              ("faults active", self.faults)):  # fmt: skip
            if counts:
                shown = ", ".join(f"{name} ({n:,})" for name, n in counts[:_SHOWN])
                more = len(counts) - _SHOWN
                out.append(f"  {title}: {shown}" + (f" and {more} more" if more > 0 else ""))
        if not self.faults:
            out.append("  faults active: none")
        return out


def related(metric: str) -> tuple[str, ...]:
    """The event kinds that make up ``metric``."""
    return RELATED.get(metric, DEFAULT_RELATED)


def is_related(event: Event, kinds: frozenset[EventKind]) -> bool:
    """Whether ``event`` counts: one of ``kinds``, and a denied decision if a decision."""
    if event.kind not in kinds:
        return False
    return event.kind is not EventKind.ACCESS_DECISION or event.data.get("allowed") is False


def contributors(
    metric: str, events: Iterable[Event], *, sites: Mapping[str, str]
) -> Contributors:
    """Count ``metric``'s related events by device (``sites``: device -> its site),
    by site and by the faults active at each event."""
    kinds = related(metric)
    wanted = frozenset(EventKind(k) for k in kinds)
    faults: list[FaultWindow] = []
    by_device: Counter[str] = Counter()
    by_site: Counter[str] = Counter()
    by_fault: Counter[str] = Counter()
    total = 0
    for event in events:
        if event.kind is EventKind.FAULT_STARTED:
            faults.append(_window(event))
        if not is_related(event, wanted) or event.kind is EventKind.FAULT_STARTED:
            continue
        total += 1
        site = sites.get(event.subject)
        if site is not None:
            by_device[event.subject] += 1
            by_site[site] += 1
        for fault in faults:
            if fault.covers(event.time):
                by_fault[str(fault)] += 1
    return Contributors(metric, kinds, total, _ranked(by_device), _ranked(by_site),
                        _ranked(by_fault))  # fmt: skip


def _window(event: Event) -> FaultWindow:
    ends = event.data.get("ends")
    end = datetime.fromisoformat(str(ends).replace("Z", "+00:00")) if ends else None
    return FaultWindow(str(event.data.get("fault", "fault")), event.subject, event.time, end)


def _ranked(counts: Counter[str]) -> tuple[tuple[str, int], ...]:
    return tuple(sorted(counts.items(), key=lambda item: (-item[1], item[0])))
