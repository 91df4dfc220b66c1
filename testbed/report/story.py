"""The story of a run, as data: per-fault effects, the incident list and breakdowns.

Totals say how much went wrong; these say what, where and why, from the run record
alone (so a live run or a run read back from its directory has them too):

- :func:`fault_effects`: for each injected fault, what happened in its *effect window*
  (from its start to its end plus the scenario's recovery window, within the run) to
  the devices it can hit (:func:`in_scope`: those its target names, the zone a route
  fault blocks, else every device): the devices hit, refused clinical deliveries,
  downtime, incidents by category, data lost, renewals missed and unauthorized
  access, or ``"no effect seen"``.  Faults whose windows and scopes overlap share what
  happened in the overlap: each names it.
- :func:`incident_list`: every incident (device, site, category, reason, opened,
  closed, the faults whose effect window covers its opening, the playbook's step).
- :func:`breakdowns`: the same per-device measures summed by site, zone, profile,
  group and issuing CA, each with its top contributing devices.

Downtime per device is the union of its incidents' intervals, which is exactly the
outage time the measures count (tested: the devices' sum equals
``clinical_downtime_minutes``).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from testbed.clock import isoformat
from testbed.events import Event, EventKind
from testbed.expectations import SCOPED_METRICS, Metric, Scope
from testbed.faults import FaultSpec
from testbed.incidents import Incident
from testbed.metrics import CLINICAL_PURPOSES
from testbed.pki.ca import IssuingMode
from testbed.report.needs import STORY_EVENTS
from testbed.report.record import RunRecord

__all__ = [
    "BREAKDOWNS", "DEVICE_MEASURES", "breakdowns", "device_attributes", "fault_effects",
    "incident_list", "outages", "scoped_measure",
]  # fmt: skip

DEVICE_MEASURES = (
    "denials", "downtime_minutes", "incidents", "data_lost", "renewals_missed",
    "unauthorized_access",
)  # fmt: skip
"""The measures a device contributes to, in the order tables show them."""

BREAKDOWNS = ("site", "zone", "profile", "group", "ca")
"""What a breakdown can be by."""

_TOP = 3  # top contributing devices named per measure
NO_EFFECT = "no effect seen"


@dataclass(frozen=True, slots=True)
class _Mark:
    """One device-level happening the story counts: what, who, when, how many."""

    measure: str
    device: str
    time: datetime
    amount: float = 1.0


@dataclass(slots=True)
class _Tally:
    """Per-device sums of :data:`DEVICE_MEASURES`."""

    sums: dict[str, defaultdict[str, float]] = field(
        default_factory=lambda: {m: defaultdict(float) for m in DEVICE_MEASURES}
    )

    def add(self, measure: str, device: str, amount: float) -> None:
        self.sums[measure][device] += amount


def _marks(record: RunRecord) -> list[_Mark]:
    """The device-level events of the record that the story counts."""
    out: list[_Mark] = []
    for event in record.events.select(*STORY_EVENTS):
        out.extend(_marks_of(event))
    return out


def _marks_of(event: Event) -> Iterable[_Mark]:
    kind, data = event.kind, event.data
    if kind is EventKind.ACCESS_DECISION and data.get("allowed") is False \
            and data.get("purpose") in CLINICAL_PURPOSES:  # fmt: skip
        yield _Mark("denials", event.subject, event.time)
    elif kind is EventKind.DATA_LOST:
        yield _Mark("data_lost", event.subject, event.time, float(_number(data.get("items"))))
    elif kind is EventKind.RENEWAL_MISSED:
        yield _Mark("renewals_missed", event.subject, event.time)
    elif kind is EventKind.UNAUTHORIZED_ACCESS:
        yield _Mark("unauthorized_access", event.subject, event.time)


def _number(value: object) -> float:
    return float(value) if isinstance(value, int | float) else 0.0


def outages(incidents: Iterable[Incident]) -> dict[str, list[tuple[datetime, datetime]]]:
    """Each device's outage intervals: the union of its incidents' intervals."""
    spans: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)
    for incident in incidents:
        if incident.closed is not None:
            spans[incident.device].append((incident.opened, incident.closed))
    merged: dict[str, list[tuple[datetime, datetime]]] = {}
    for device, intervals in spans.items():
        intervals.sort()
        out: list[tuple[datetime, datetime]] = []
        for start, end in intervals:
            if out and start <= out[-1][1]:
                out[-1] = (out[-1][0], max(out[-1][1], end))
            else:
                out.append((start, end))
        merged[device] = out
    return merged


def _overlap(spans: list[tuple[datetime, datetime]], start: datetime, end: datetime) -> float:
    """Seconds of ``spans`` within [start, end)."""
    total = 0.0
    for a, b in spans:
        low, high = max(a, start), min(b, end)
        if high > low:
            total += (high - low).total_seconds()
    return total


def _window(fault: FaultSpec, record: RunRecord) -> tuple[datetime, datetime]:
    """A fault's effect window: its start to its end plus the recovery window."""
    sc = record.scenario
    run_end = sc.start + sc.duration + sc.recovery_window
    return sc.start + fault.start, min(sc.start + fault.end + sc.recovery_window, run_end)


def _target(fault: FaultSpec) -> str:
    source, to = getattr(fault, "source", None), getattr(fault, "to", None)
    if source is not None and to is not None:
        site = getattr(fault, "site", None)
        return f"{source}->{to}" + (f" at {site}" if site else "")
    return str(getattr(fault, "target", "ca"))


def in_scope(fault: FaultSpec, device: str, attrs: dict[str, str] | None) -> bool:
    """Whether ``device`` is among those ``fault`` can hit: the devices its target names
    (a group, a device, a site's devices), the zone a route fault blocks, else every
    device (a CA, a service, a kind of fault whose reach the target does not bound)."""
    source = getattr(fault, "source", None)
    if isinstance(source, str):  # a route: the zone it blocks, at its site or everywhere
        site = getattr(fault, "site", None)
        return attrs is not None and attrs["zone"] == source and (
            not isinstance(site, str) or attrs["site"] == site
        )
    target = getattr(fault, "target", None)
    if isinstance(target, str):
        form, _, name = target.partition(":")
        if form == "device":
            return device == name
        if attrs is None:
            return False
        if form == "group":
            return attrs["group"] == name
        if form == "site":
            return attrs["site"] == name
    return True


def fault_effects(record: RunRecord) -> list[dict[str, Any]]:
    """What happened in each fault's effect window to the devices it can hit (see the
    module)."""
    marks = _marks(record)
    down = outages(record.incidents)
    sites = device_attributes(record)
    rows = []
    for fault in record.faults:
        start, end = _window(fault, record)

        def scoped(device: str, fault: FaultSpec = fault) -> bool:
            return in_scope(fault, device, sites.get(device))

        hit: set[str] = set()
        counts: defaultdict[str, float] = defaultdict(float)
        for mark in marks:
            if start <= mark.time < end and scoped(mark.device):
                counts[mark.measure] += mark.amount
                hit.add(mark.device)
        categories: Counter[str] = Counter()
        for incident in record.incidents:
            if start <= incident.opened < end and scoped(incident.device):
                categories[incident.category.value] += 1
                hit.add(incident.device)
        seconds = 0.0
        for device, spans in down.items():
            inside = _overlap(spans, start, end) if scoped(device) else 0.0
            if inside > 0:
                seconds += inside
                hit.add(device)
        seen = bool(hit) or any(counts.values())
        devices = sorted(hit)
        row: dict[str, Any] = {
            "kind": str(fault.kind), "target": _target(fault),
            "start": isoformat(record.scenario.start + fault.start),
            "end": isoformat(record.scenario.start + fault.end),
            "effect_window_end": isoformat(end),
            "devices_hit": len(devices), "devices": devices,
            "sites": sorted({sites[d]["site"] for d in devices if d in sites}),
            "denials": int(counts["denials"]),
            "downtime_minutes": round(seconds / 60, 3),
            "incidents": dict(sorted(categories.items())),
            "data_lost": int(counts["data_lost"]),
            "renewals_missed": int(counts["renewals_missed"]),
            "unauthorized_access": int(counts["unauthorized_access"]),
        }  # fmt: skip
        row["effect"] = "seen" if seen else NO_EFFECT
        rows.append(row)
    return rows


def incident_list(record: RunRecord) -> list[dict[str, Any]]:
    """Every incident with its site, its causes (faults active) and the playbook step."""
    where = device_attributes(record)
    windows = [(_window(f, record), f) for f in record.faults]
    rows = []
    for incident in record.incidents:
        attrs = where.get(incident.device)
        causes = [f"{f.kind} {_target(f)}" for (start, end), f in windows
                  if start <= incident.opened < end
                  and in_scope(f, incident.device, attrs)]  # fmt: skip
        minutes = incident.minutes()
        rows.append({
            "device": incident.device,
            "site": where.get(incident.device, {}).get("site"),
            "service": incident.service,
            "category": incident.category.value,
            "reason": incident.reason,
            "opened": isoformat(incident.opened),
            "closed": None if incident.closed is None else isoformat(incident.closed),
            "open_at_end": incident.open_at_end,
            "minutes": None if minutes is None else round(minutes, 3),
            "faults": causes,
            "playbook": incident.playbook,
        })  # fmt: skip
    return rows


def device_attributes(record: RunRecord) -> dict[str, dict[str, str]]:
    """Each device's site, zone, profile, group and issuing CA (from its fleet group)."""
    sc = record.scenario
    by_group = {g.group: g for g in sc.fleet}
    central = sc.pki.issuing is IssuingMode.CENTRAL
    out: dict[str, dict[str, str]] = {}
    for device, group_name in record.groups.items():
        group = by_group.get(group_name)
        if group is None:
            continue
        ca = "central issuing CA" if central else f"issuing CA {group.site}"
        out[device] = {"site": group.site, "zone": group.zone, "profile": group.profile,
                       "group": group.group, "ca": ca}  # fmt: skip
    return out


def per_device(record: RunRecord) -> dict[str, dict[str, float]]:
    """Each device's contribution to :data:`DEVICE_MEASURES` (devices with none left out)."""
    tally = _Tally()
    for mark in _marks(record):
        tally.add(mark.measure, mark.device, mark.amount)
    for incident in record.incidents:
        tally.add("incidents", incident.device, 1)
    for device, spans in outages(record.incidents).items():
        seconds = sum((b - a).total_seconds() for a, b in spans)
        tally.add("downtime_minutes", device, seconds / 60)
    devices = sorted({d for counts in tally.sums.values() for d in counts})
    return {d: {m: float(tally.sums[m][d]) for m in DEVICE_MEASURES} for d in devices}


def breakdowns(record: RunRecord) -> dict[str, list[dict[str, Any]]]:
    """The per-device measures summed by each of :data:`BREAKDOWNS`, with every value
    of the fleet listed (also those with nothing to show) and the top devices."""
    attributes = device_attributes(record)
    contributions = per_device(record)
    out: dict[str, list[dict[str, Any]]] = {}
    for by in BREAKDOWNS:
        members: dict[str, list[str]] = defaultdict(list)
        for device, attrs in attributes.items():
            members[attrs[by]].append(device)
        rows = []
        for value in sorted(members):
            devices = members[value]
            row: dict[str, Any] = {by: value, "devices": len(devices)}
            top: dict[str, list[str]] = {}
            for measure in DEVICE_MEASURES:
                amounts = {d: contributions.get(d, {}).get(measure, 0.0) for d in devices}
                total = sum(amounts.values())
                row[measure] = _rounded(total)
                ranked = sorted((d for d in devices if amounts[d] > 0),
                                key=lambda d: (-amounts[d], d))  # fmt: skip
                if ranked:
                    top[measure] = [f"{d} ({_rounded(amounts[d]):,})" for d in ranked[:_TOP]]
            row["top"] = top
            rows.append(row)
        out[by] = rows
    return out


def scoped_measure(record: RunRecord) -> Callable[[str, Scope], float]:
    """A measure over the devices of a scope: the sum of their per-device contributions
    (:func:`per_device`; :data:`~testbed.expectations.SCOPED_METRICS` says which), what a
    scoped expectation is checked on.  The story is read once, on the first call."""
    story: list[tuple[dict[str, dict[str, str]], dict[str, dict[str, float]]]] = []

    def measure(metric: str, scope: Scope) -> float:
        if not story:
            story.append((device_attributes(record), per_device(record)))
        attributes, contributions = story[0]
        key = SCOPED_METRICS[Metric(metric)]
        total = sum(counts.get(key, 0.0) for device, counts in contributions.items()
                    if scope.matches(device, attributes.get(device, {})))  # fmt: skip
        return float(_rounded(total))

    return measure


def _rounded(value: float) -> float | int:
    return int(value) if float(value).is_integer() else round(value, 3)
