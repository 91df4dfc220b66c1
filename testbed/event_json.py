"""The JSON line of an event, fast: byte for byte what :meth:`Event.to_json` writes.

:meth:`Event.to_json <testbed.events.Event.to_json>` is the definition of the audit
log's format: ``json.dumps`` of the event's flat mapping with sorted keys, compact
separators and ASCII escapes (Python's ``repr`` of floats, ``NaN`` and ``Infinity``
as ``json`` writes them, the time by :func:`testbed.clock.isoformat`).  It builds an
:class:`Event`, a dict and a sorted list per event: ~10 µs.  A year of a large fleet
writes tens of millions of events, so :class:`LineEncoder` writes the same text from
the log's compact fields (time, kind, subject, a tuple of data keys shared by every
event of its shape, a tuple of values) without building any of them:

- per kind and shape (tuple of data keys) one line function is compiled, once: the
  ``"key":`` texts and the kind written in sorted order, each value encoded by the
  cheapest exact path for the type the shape's first event had there, and by the
  general encoding (:func:`value_json`) for any other type, so the text is exact
  whatever comes;
- a string is escaped each time it is written (``encode_basestring_ascii``, in C).
  A cache of strings' texts was faster only while it stayed in the processor's
  cache: in a run, the simulation evicts it between two batches, and its lookups cost
  more than escaping (a 10k-device year's ``events.jsonl``: 9.05 s with the cache,
  6.2 s without, paired runs, 2026-12-07);
- the time's text is made once per time object (events at one instant share one),
  from its minute's text, made when the time leaves the last minute's bounds (a
  log's times go forward, so mostly once per minute), and table lookups for the
  seconds.

``tests/property/test_event_json.py`` checks the equality on arbitrary events.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from enum import Enum
from json.encoder import encode_basestring_ascii
from typing import Any

from testbed.clock import isoformat

__all__ = ["FIXED_FIELDS", "LineEncoder", "Row", "value_json"]

FIXED_FIELDS = ("seq", "time", "kind", "subject")
"""The fields every event has, before its data (``Event.to_dict``'s order)."""

Row = tuple[datetime, Enum, str, tuple[str, ...], tuple[Any, ...]]
"""One event as the log keeps it: time, kind, subject, data keys, data values."""

_Line = Callable[[int, str, str, tuple[Any, ...]], str]
"""A compiled line function: ``(seq, time text, subject, values) -> line``."""
_MINUTE = timedelta(minutes=1)
_SECONDS = tuple(f"{second:02d}" for second in range(60))
_LAST_INSTANT = datetime.max.replace(tzinfo=UTC)
_LAST_MINUTE = _LAST_INSTANT.replace(second=0, microsecond=0)


def value_json(value: object) -> str:
    """``json.dumps(value)`` as :meth:`Event.to_json` writes a value (what the C encoder
    does, in its order: None, booleans, strings, integers, floats, anything else)."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return encode_basestring_ascii(value)
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        if value != value:
            return "NaN"
        if value == math.inf:
            return "Infinity"
        if value == -math.inf:
            return "-Infinity"
        return float.__repr__(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


class LineEncoder:
    """Writes events' JSON lines; keeps its caches between calls (one per log or file)."""

    def __init__(self) -> None:
        self._shapes: dict[tuple[Enum, tuple[str, ...]], _Line] = {}
        self._time: tuple[datetime | None, str] = (None, "")
        # the minute of the last UTC time written: [start, end) and its text
        self._minute: tuple[datetime, datetime, str] | None = None
        self._names = {
            "J": encode_basestring_ascii,
            "E": value_json,
            "I": int.__repr__,
            "TRUE": "true",
            "FALSE": "false",
            "NULL": "null",
        }

    def lines(self, first: int, rows: Iterable[Row]) -> list[str]:
        """The JSON line of each row (no newline), numbered from ``first``.

        :class:`ValueError` if a data key is one of :data:`FIXED_FIELDS` or a row has
        not one value per key (as :meth:`Event.to_json` and the log's readers refuse).
        """
        out: list[str] = []
        append = out.append
        shapes = self._shapes
        last_time, time_text = self._time
        last_keys: tuple[str, ...] | None = None
        last_kind: Enum | None = None
        line: _Line | None = None
        try:
            for seq, (time, kind, subject, keys, values) in enumerate(rows, first):
                if keys is not last_keys or kind is not last_kind:
                    line = shapes.get((kind, keys)) or self._compile(kind, keys, values)
                    last_keys, last_kind = keys, kind
                if time is not last_time:
                    time_text = self._time_text(time)
                    last_time = time
                append(line(seq, time_text, subject, values))  # type: ignore[misc]
        finally:
            self._time = (last_time, time_text)
        return out

    def _time_text(self, when: datetime) -> str:
        """The time's JSON text: :func:`~testbed.clock.isoformat`'s, quoted.  A UTC
        time's date, hour and minute (``"YYYY-MM-DDTHH:MM:``, the first 17 characters
        of ``isoformat()``: a year has four digits) are made again only when the time
        is outside the last one's minute."""
        if when.tzinfo is not UTC:
            return f'"{isoformat(when)}"'
        minute = self._minute
        if minute is None or not minute[0] <= when < minute[1]:
            start = when.replace(second=0, microsecond=0)
            # the last minute there is ends at datetime.max, which it then misses: made again
            end = start + _MINUTE if start != _LAST_MINUTE else _LAST_INSTANT
            minute = self._minute = (start, end, f'"{when.isoformat()[:17]}')
        micro = when.microsecond
        if micro:  # isoformat() writes the fraction only when there is one
            # %06d pads faster than an f-string's :06d (a hot path)
            return '%s%s.%06dZ"' % (minute[2], _SECONDS[when.second], micro)  # noqa: UP031
        return f'{minute[2]}{_SECONDS[when.second]}Z"'

    def _compile(self, kind: Enum, keys: tuple[str, ...], sample: tuple[Any, ...]) -> _Line:
        """The line function of one kind and shape (see the module docstring)."""
        if len(keys) != len(sample):
            raise ValueError(f"{len(sample)} values for the {len(keys)} keys {keys!r}")
        for key in keys:
            if key in FIXED_FIELDS:
                raise ValueError(f"event data key {key!r} clashes with a fixed field")
        fields = (*FIXED_FIELDS, *keys)
        last = {name: index for index, name in enumerate(fields)}  # a repeated key: its last value
        texts = []
        for name in sorted(last):
            index = last[name]
            if index < len(FIXED_FIELDS):
                slot = ("seq", "tt", "KIND", _slot("s", ""))[index]
            else:
                slot = _slot(f"v{index - len(FIXED_FIELDS)}", sample[index - len(FIXED_FIELDS)])
            key_text = encode_basestring_ascii(name).replace("{", "{{").replace("}", "}}")
            texts.append(f"{key_text}:{{{slot}}}")
        template = "{{" + ",".join(texts) + "}}"
        unpack = "".join(f"v{i}, " for i in range(len(keys)))
        source = f"def line(seq, tt, s, v):\n    ({unpack}) = v\n    return f{template!r}\n"
        names = {**self._names, "KIND": value_json(kind.value)}
        scope: dict[str, Any] = {}
        exec(compile(source, f"<event line {kind.value} {keys!r}>", "exec"), names, scope)
        line: _Line = scope["line"]
        self._shapes[kind, keys] = line
        return line


def _slot(name: str, sample: object) -> str:
    """The expression for one value: exact for any value, fastest for ``sample``'s type."""
    if sample is True or sample is False:
        return f"(TRUE if {name} is True else FALSE if {name} is False else E({name}))"
    if type(sample) is int:
        return f"(I({name}) if {name}.__class__ is int else E({name}))"
    if sample is None:
        return f"(NULL if {name} is None else E({name}))"
    if type(sample) is str:
        return f"(J({name}) if {name}.__class__ is str else E({name}))"
    return f"E({name})"
