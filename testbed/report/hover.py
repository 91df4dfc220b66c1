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

__all__ = ["FaultWindows", "denial_text", "fault_text", "when"]

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


class FaultWindows:
    """The faults' effect windows by device, read once for a plot's many marks: a
    mark asks only of the faults that hit its device (an effect row lists its devices,
    which at a large fleet is thousands for each of tens of thousands of marks)."""

    def __init__(self, effects: Sequence[Mapping[str, Any]]) -> None:
        self._by_device: dict[str, list[tuple[str, str, str]]] = {}
        for effect in effects:
            label = f"{effect.get('kind')} ({effect.get('target')})"
            start = str(effect.get("start", ""))
            end = str(effect.get("effect_window_end", ""))
            for device in dict.fromkeys(effect.get("devices", ())):
                self._by_device.setdefault(device, []).append((start, end, label))

    def during(self, device: str, time: datetime) -> str:
        """The faults that hit ``device`` and whose effect window holds ``time`` (text
        to append, empty if none), in the order of the effect rows."""
        windows = self._by_device.get(device)
        if not windows:
            return ""
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ")
        kinds = [label for start, end, label in windows if start <= stamp <= end]
        return f"; during fault {', '.join(kinds)}" if kinds else ""


def denial_text(event: Event, windows: FaultWindows) -> str:
    """One denied delivery: device, service, reason and its detail, when, and the faults."""
    data = event.data
    detail = f" ({data['detail']})" if data.get("detail") else ""
    return (f"{event.subject} denied {data.get('service')}: {data.get('reason')}{detail}, "
            f"{when(event.time)}" + windows.during(event.subject, event.time))  # fmt: skip


def _stamp(value: object) -> str:
    text = str(value or "")
    return text.replace("T", " ").replace(":00Z", " UTC") if text.endswith(":00Z") else text
