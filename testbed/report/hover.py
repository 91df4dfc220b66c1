"""What the report's plots say on hover: a fault band's fault, a mark's device and why.

The texts are built from the run record alone (its events and the faults' effect
rows, :func:`~testbed.report.story.fault_effects`), and put into the SVG by
:mod:`testbed.report.tooltips`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from testbed.events import Event

__all__ = ["denial_text", "during", "fault_text", "when"]

_NAMED = 8  # devices named in one text; the rest are counted


def when(time: datetime) -> str:
    """A time as the plots' hover texts write it (UTC, to the minute)."""
    return f"{time:%Y-%m-%d %H:%M} UTC"


def fault_text(effect: Mapping[str, Any]) -> str:
    """A fault: kind, target, when, and the devices it hit (or that it hit none)."""
    kind, target = effect.get("kind", "fault"), effect.get("target", "")
    span = f"{_stamp(effect.get('start'))} to {_stamp(effect.get('end'))}"
    devices = [str(d) for d in effect.get("devices", ())]
    if not devices:
        hit = "no effect seen on any device"
    else:
        hit = f"{len(devices):,} device{'s' if len(devices) != 1 else ''} hit: {named(devices)}"
    return f"fault {kind} on {target}, {span}; {hit}"


def named(devices: Sequence[str]) -> str:
    """Up to a few device ids, and how many more."""
    shown = ", ".join(devices[:_NAMED])
    more = len(devices) - _NAMED
    return shown + (f" and {more:,} more" if more > 0 else "")


def during(device: str, time: datetime, effects: Sequence[Mapping[str, Any]]) -> str:
    """The faults that hit ``device`` and whose effect window holds ``time`` (text to
    append, empty if none)."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ")
    kinds = [
        f"{e.get('kind')} ({e.get('target')})" for e in effects
        if device in e.get("devices", ())
        and str(e.get("start", "")) <= stamp <= str(e.get("effect_window_end", ""))
    ]  # fmt: skip
    return f"; during fault {', '.join(kinds)}" if kinds else ""


def denial_text(event: Event, effects: Sequence[Mapping[str, Any]]) -> str:
    """One denied delivery: device, service, reason and its detail, when, and the faults."""
    data = event.data
    detail = f" ({data['detail']})" if data.get("detail") else ""
    return (f"{event.subject} denied {data.get('service')}: {data.get('reason')}{detail}, "
            f"{when(event.time)}" + during(event.subject, event.time, effects))  # fmt: skip


def _stamp(value: object) -> str:
    text = str(value or "")
    return text.replace("T", " ").replace(":00Z", " UTC") if text.endswith(":00Z") else text
