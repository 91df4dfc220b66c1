"""Where a plot draws each injected fault: its time span and the rows it hit.

A fault is drawn over the rows (device groups) of the devices it hit, as the run's
story found them (:func:`testbed.report.story.fault_effects`: its ``devices``), not
over every row; a fault that hit nothing is drawn as an outline only.  A fault too
short to see at the run's scale (4 hours in 90 days is a hair's width) is widened
around its middle to :data:`MIN_WIDTH` of the axis and marked ``widened``, so the
plot can say how long it really lasted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from testbed.units import format_duration

if TYPE_CHECKING:
    from testbed.report.record import RunRecord

__all__ = ["MIN_WIDTH", "Band", "fault_bands"]

MIN_WIDTH = 0.006
"""The narrowest band drawn, as a share of the axis' span (about 5 pixels)."""

_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Band:
    """One fault as drawn: days since the plot's start, the rows hit (empty: none)."""

    kind: str
    target: str
    start: float
    end: float
    length: timedelta
    widened: bool
    rows: tuple[int, ...]

    @property
    def label(self) -> str:
        """How long the fault really lasted (``4h``): written beside a widened band."""
        return format_duration(self.length)


def fault_bands(
    record: RunRecord, effects: Sequence[Mapping[str, Any]], rows: Mapping[str, int]
) -> list[Band]:
    """The bands of ``record``'s faults; ``effects`` are their effect rows in the same
    order (:func:`~testbed.report.story.fault_effects`), ``rows`` each group's row."""
    total = max(record.span, timedelta(minutes=1)) / _DAY
    offset = (record.scenario.start - record.start) / _DAY
    bands = []
    for fault, effect in zip(record.faults, effects, strict=True):
        start, end = offset + fault.start / _DAY, offset + fault.end / _DAY
        widened = end - start < MIN_WIDTH * total
        if widened:
            middle, half = (start + end) / 2, MIN_WIDTH * total / 2
            start, end = middle - half, middle + half
        groups = {record.groups.get(str(d), "") for d in effect.get("devices", ())}
        hit = {rows[g] for g in groups if g in rows}
        bands.append(Band(str(fault.kind), str(effect.get("target", "")), start, end,
                          fault.length, widened, tuple(sorted(hit))))  # fmt: skip
    return bands
