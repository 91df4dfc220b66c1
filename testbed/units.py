"""Durations as people write them in scenario files (``30d``, ``12h``, ``1d12h``, ``90s``),
and the start a run's durations are added to."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, PlainSerializer, WithJsonSchema

__all__ = [
    "LATEST_START", "MAX_DURATION", "Duration", "PositiveDuration", "format_duration",
    "parse_duration", "run_start",
]

_PART = re.compile(r"(\d+(?:\.\d+)?)(w|d|h|m|s)")
_WHOLE = re.compile(r"(?:\d+(?:\.\d+)?(?:w|d|h|m|s))+")
_SECONDS = {"w": 604800.0, "d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}
PATTERN = r"^(\d+(\.\d+)?(w|d|h|m|s))+$"
MAX_DURATION = timedelta(days=36525)
"""The longest duration anything takes (a run, a certificate's life, a fault): a
hundred years, far inside what dates can hold after any scenario's start."""
LATEST_START = datetime(9000, 1, 1, tzinfo=UTC)
"""The latest a run may start: its durations (each at most :data:`MAX_DURATION`) must
end within what dates can hold (year 9999)."""


def parse_duration(value: Any) -> timedelta:
    """``"1d12h"`` -> 36 hours.  Numbers are refused: a unit must be written."""
    if isinstance(value, timedelta):
        return value
    if not isinstance(value, str) or not _WHOLE.fullmatch(value.strip()):
        raise ValueError(
            f"a duration like '30d', '12h', '1d12h', '90m' or '45s' (w, d, h, m, s), got {value!r}"
        )
    total = sum(float(n) * _SECONDS[u] for n, u in _PART.findall(value.strip()))
    if total > MAX_DURATION.total_seconds():
        raise ValueError(f"a duration of at most {MAX_DURATION.days}d (100 years), got {value!r}")
    return timedelta(seconds=total)


def format_duration(value: timedelta) -> str:
    """The shortest ``NdNhNmNs`` spelling of a duration."""
    seconds = int(value.total_seconds())
    if seconds == 0:
        return "0s"
    out = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            out.append(f"{count}{unit}")
    return "".join(out)


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema({"type": "string", "pattern": PATTERN, "examples": ["30d", "12h", "1d12h"]}),
]


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("a duration greater than zero (such as 30d, 12h or 1d12h)")
    return value


PositiveDuration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    AfterValidator(_positive),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": PATTERN,
            "examples": ["30d", "12h", "1d12h"],
            "description": "greater than zero",
        }
    ),
]
"""A :data:`Duration` that must be longer than zero (an interval, a lifetime)."""


def run_start(value: datetime) -> datetime:
    """A run's start: a UTC time (another time zone is refused, not quietly converted),
    early enough for every date the run computes."""
    offset = value.utcoffset()
    if offset is None:
        raise ValueError("a UTC time such as 2026-01-05T00:00:00Z (this one has no time zone)")
    if offset:
        raise ValueError(f"a UTC time such as 2026-01-05T00:00:00Z (this one is at UTC"
                         f"{value.strftime('%z')}; write it in UTC with a Z, it is not "
                         "converted)")  # fmt: skip
    if value >= LATEST_START:
        raise ValueError(f"a start before {LATEST_START:%Y-%m-%d} (a run's dates, its "
                         "durations added, must stay within year 9999)")  # fmt: skip
    return value
