"""The fast JSON lines are :meth:`Event.to_json`'s, byte for byte, on arbitrary events.

Events are drawn with shared and odd data keys (unicode, quotes, control characters,
braces, percent signs, repeated keys, keys that clash with a fixed field), values of
every JSON type in any slot (so a shape's first event does not decide the text of the
next), floats at their edges (NaN, infinities, negative zero, the largest and smallest),
huge integers, times in several zones that are shared, equal or distinct objects.
They are written by an in-memory log, by a streaming log in small batches, and read
back by filter from the file.
"""

from __future__ import annotations

import io
import json
import math
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import testbed.event_json as event_json
from testbed.event_json import LineEncoder, Row, value_json
from testbed.event_sink import JsonlSink
from testbed.events import Event, EventFilter, EventKind, EventLog, Value
from testbed.report.jsonl import JsonlEvents

EDGE_FLOATS = (0.0, -0.0, math.nan, math.inf, -math.inf, 5e-324, 1.7976931348623157e308,
               1e16, 1e-7, 0.1, -1.5, 123456789.125)  # fmt: skip
EQUAL_ACROSS_TYPES = (True, 1, 1.0, False, 0, 0.0, -0.0, None, "1", "true", "null")
ODD_TEXT = ("", '"', "\\", "\x00", "\x1f", "\x7f", "é", "\u2028", "😀", "{x}", "%s", "}{",
            "seq", "time", "kind", "subject", "allowed")  # fmt: skip

texts = st.one_of(st.sampled_from(ODD_TEXT), st.text(max_size=12))
floats = st.one_of(st.sampled_from(EDGE_FLOATS), st.floats(allow_nan=True, allow_infinity=True))
values: st.SearchStrategy[Value] = st.one_of(
    st.sampled_from(EQUAL_ACROSS_TYPES),  # equal values of other types share no cached text
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**300), max_value=10**300),
    floats,
    texts,
    st.sampled_from(list(EventKind)),  # a str subclass, as enum values written as data are
)
data_keys = st.one_of(st.sampled_from(("service", "allowed", "reason", "items")), texts)
shapes = st.lists(data_keys, max_size=6).map(tuple)
zones = st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)),
                         timezone(timedelta(hours=-8)), timezone(timedelta(0))])  # fmt: skip
instants = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=zones
)


@st.composite
def rows(draw: st.DrawFn) -> list[Row]:
    """Events over a few shared shapes and a few shared times."""
    keys = draw(st.lists(shapes, min_size=1, max_size=3))
    times = draw(st.lists(instants, min_size=1, max_size=3))
    out = []
    for _ in range(draw(st.integers(min_value=0, max_value=25))):
        shape = draw(st.sampled_from(keys))
        when = draw(st.sampled_from(times))
        if draw(st.booleans()):  # an equal time, another object
            when = when + timedelta(0) if when.tzinfo is UTC else when.astimezone(UTC)
        kind = draw(st.sampled_from(list(EventKind)))
        subject = draw(texts)
        if out and draw(st.booleans()):  # an earlier event's very values tuple, again
            _, _, _, shape, same = draw(st.sampled_from(out))
            out.append((when, kind, subject, shape, same))
            continue
        out.append((when, kind, subject, shape, tuple(draw(values) for _ in shape)))
    return out


def _reference(first: int, batch: list[Any]) -> list[str]:
    """What Event.to_json writes (the definition of the format)."""
    return [
        Event(seq, when, kind, subject, dict(zip(keys, vals, strict=True))).to_json()
        for seq, (when, kind, subject, keys, vals) in enumerate(batch, first)
    ]


def _outcome(make: Any) -> tuple[str, Any]:
    try:
        return ("ok", make())
    except ValueError as error:  # a key that clashes with a fixed field
        return ("clash", "clashes with a fixed field" in str(error))


@settings(max_examples=400, deadline=None)
@given(batch=rows(), first=st.integers(min_value=0, max_value=2**40))
def test_lines_are_to_json_byte_for_byte(batch: list[Any], first: int) -> None:
    assert _outcome(lambda: LineEncoder().lines(first, batch)) == _outcome(
        lambda: _reference(first, batch)
    )


@settings(max_examples=150, deadline=None)
@given(batches=st.lists(rows(), min_size=1, max_size=4))
def test_one_encoder_over_many_batches_keeps_its_caches_exact(batches: list[list[Any]]) -> None:
    """Caches (shapes, the last minute, the last time) carry over between calls."""
    encoder = LineEncoder()
    first = 0
    for batch in batches:
        assert _outcome(lambda b=batch, f=first: encoder.lines(f, b)) == _outcome(
            lambda b=batch, f=first: _reference(f, b)
        )
        first += len(batch)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(batch=rows(), size=st.integers(min_value=1, max_value=7))
def test_a_streaming_log_writes_what_to_json_gives(
    batch: list[Any], size: int, tmp_path: Path
) -> None:
    """emit and record, in batches of ``size``, to a file; read back by filter."""
    path = tmp_path / "events.jsonl"
    log = EventLog(sink=JsonlSink(path), batch=size)
    try:
        try:
            for when, kind, subject, keys, vals in batch:
                log.record(when, kind, subject, keys, vals)
        finally:
            log.close()
    except ValueError as error:
        assert "clashes with a fixed field" in str(error)
        with pytest.raises(ValueError, match="clashes"):
            _reference(0, batch)
        return
    lines = _reference(0, batch)
    assert path.read_text(encoding="utf-8") == "".join(f"{line}\n" for line in lines)
    memory = io.StringIO()
    kept = EventLog()
    for row in batch:
        kept.record(*row)
    kept.write_jsonl(memory)
    assert memory.getvalue() == path.read_text(encoding="utf-8")
    _select_alike(path, kept)


def _select_alike(path: Path, log: EventLog) -> None:
    """Selecting from the file (prefiltered lines) gives what the log selects."""
    parsed = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    asked: list[EventFilter] = [EventFilter.of(EventKind.ACCESS_DECISION, allowed=False)]
    for record in parsed[:3]:  # filters on values the file does hold
        extra = {k: v for k, v in record.items() if k not in event_json.FIXED_FIELDS}
        if not any(isinstance(v, float) and math.isnan(v) for v in extra.values()):
            asked.append(EventFilter(frozenset({EventKind(record["kind"])}),
                                     tuple(extra.items())[:2]))  # fmt: skip
    for selection in asked:
        from_file = [(e.seq, e.kind) for e in JsonlEvents(path).select(selection)]
        every = [(e.seq, e.kind) for e in JsonlEvents(path) if selection.accepts(e)]
        assert from_file == every == [(e.seq, e.kind) for e in log.select(selection)]


def test_equal_values_of_other_types_in_one_slot_keep_their_own_text() -> None:
    when = datetime(2026, 1, 5, tzinfo=UTC)
    batch = [(when, EventKind.DATA_LOST, "dev", ("items",), (v,)) for v in EQUAL_ACROSS_TYPES * 2]
    assert LineEncoder().lines(0, batch) == _reference(0, batch)


@given(value=values)
def test_a_value_is_written_as_json_dumps_writes_it(value: Value) -> None:
    assert value_json(value) == json.dumps(value)


def test_a_values_tuple_written_again_is_written_alike_and_equal_tuples_apart() -> None:
    """A values tuple written again (a standing allowance's) is written alike; an equal
    tuple of other types (``True == 1``) keeps its own text."""
    when = datetime(2026, 1, 5, tzinfo=UTC)
    again = (True, "x")
    batch = [(when + timedelta(seconds=i), EventKind.ACCESS_DECISION, subject, ("a", "b"), v)
             for i, (subject, v) in enumerate([("d", again), ("d", again), ("e", again),
                                               ("d", (1, "x")), ("d", (1.0, "x")), ("d", again)])]
    assert LineEncoder().lines(7, batch) == _reference(7, batch)


def test_times_in_one_hour_or_one_minute_keep_their_own_minute_and_second() -> None:
    """The minute's text is kept per minute: neighbouring minutes, seconds and whole
    seconds (no fraction) each get their own, in UTC and in another zone."""
    start = datetime(2026, 1, 5, 10, 59, tzinfo=UTC)
    offsets = (0, 0.5, 59, 59.25, 60, 61.000001, 3600, 3659.999999, 86400 * 366, 59.5, 0)
    times = [start + timedelta(seconds=s) for s in offsets]  # forward, then back
    times.append(times[2].astimezone(timezone(timedelta(hours=2))))
    last = datetime.max.replace(tzinfo=UTC)  # the last minute there is, and the one before
    times += [last, last - timedelta(seconds=59.5), last - timedelta(seconds=60), last]
    batch = [(when, EventKind.DATA_LOST, "dev", ("items",), (1,)) for when in times]
    assert LineEncoder().lines(0, batch) == _reference(0, batch)


@given(batch=rows())
def test_select_with_several_filters_gives_what_each_accepts(batch: list[Any]) -> None:
    """``select(*filters)``: the kept events that any filter accepts, in order, whatever
    the mix of kinds, shapes and filters that ask something or nothing."""
    log = EventLog()
    try:
        for row in batch:
            log.record(*row)
    except ValueError:
        return  # a clashing key: refused at record, nothing to select
    events = list(log)
    asked: list[EventFilter] = [EventFilter.of(EventKind.ACCESS_DECISION, allowed=False)]
    for event in events[:3]:
        extra = tuple((k, v) for k, v in event.data.items()
                      if not (isinstance(v, float) and math.isnan(v)))  # fmt: skip
        asked.append(EventFilter(frozenset({event.kind}), extra[:2]))
        if extra:  # of the same kind and shape, one that this event does not match
            asked.append(EventFilter(frozenset({event.kind}), ((extra[0][0], "\x00never"),)))
        asked.append(EventFilter.of(event.kind))
    for n in range(len(asked)):
        filters = asked[n : n + 3] + asked[: max(0, n + 3 - len(asked))]
        expected = [e.seq for e in events if any(f.accepts(e) for f in filters)]
        assert [e.seq for e in log.select(*filters)] == expected
        assert [e.seq for e in log.select(*filters[:1])] == [
            e.seq for e in events if filters[0].accepts(e)]  # fmt: skip
