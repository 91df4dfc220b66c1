"""Selecting events from an ``events.jsonl``: lines that cannot be among them are not
parsed; those that might are parsed and checked."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from testbed.errors import RecordError
from testbed.events import Event, EventFilter, EventKind
from testbed.report.jsonl import JsonlEvents

T0 = datetime(2026, 1, 5, tzinfo=UTC)
REFUSED = EventFilter.of(EventKind.ACCESS_DECISION, allowed=False, purpose="traffic")


def _line(seq: int, kind: EventKind, subject: str, **data: object) -> str:
    return Event(seq, T0, kind, subject, data).to_json()  # type: ignore[arg-type]


def test_select_parses_only_lines_that_can_match(tmp_path: Path) -> None:
    lines = [
        _line(0, EventKind.ACCESS_DECISION, "d", allowed=True, purpose="traffic"),
        "not json, and no kind it asks for",
        _line(2, EventKind.ACCESS_DECISION, "d", allowed=False, purpose="traffic"),
        # its text holds the kind and the values, but not as the event's kind and data
        _line(3, EventKind.DATA_LOST, "access-decision", note='"allowed":false traffic'),
        _line(4, EventKind.ACCESS_DECISION, "d", allowed=False, purpose="recovery-check"),
        _line(5, EventKind.ACCESS_DECISION, "é", allowed=False, purpose="traffic"),
    ]
    path = tmp_path / "events.jsonl"
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    assert [e.seq for e in JsonlEvents(path).select(REFUSED)] == [2, 5]
    with pytest.raises(RecordError, match=r"events\.jsonl:2: expected one JSON object"):
        list(JsonlEvents(path))  # read whole, the bad line is found


def test_a_value_spelled_in_more_than_one_way_is_checked_after_parsing(tmp_path: Path) -> None:
    """A writer may escape non-ASCII text or not: no prefilter on such values."""
    path = tmp_path / "events.jsonl"
    raw = '{"kind":"data-lost","reason":"café","seq":0,"subject":"d","time":"2026-01-05T00:00:00Z"}'
    path.write_text(raw + "\n", encoding="utf-8")
    selection = EventFilter.of(EventKind.DATA_LOST, reason="café")
    assert [e.seq for e in JsonlEvents(path).select(selection)] == [0]


def test_a_gzip_log_cut_short_is_a_record_error_not_an_interruption(tmp_path: Path) -> None:
    """gzip's EOFError escaped, and the command line read it as Ctrl-C (exit 130)."""
    import gzip

    lines = "".join(f"{_line(i, EventKind.DATA_LOST, f'device-{i}')}\n" for i in range(2000))
    whole = gzip.compress(lines.encode())
    path = tmp_path / "events.jsonl.gz"
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(RecordError, match=r"events\.jsonl\.gz: expected a whole gzip file"):
        list(JsonlEvents(path))


def test_an_event_written_twice_is_a_record_error(tmp_path: Path) -> None:
    """A line appended twice was folded twice; every log numbers its events upwards."""
    lines = [_line(0, EventKind.DATA_LOST, "a"), _line(1, EventKind.DATA_LOST, "b")]
    path = tmp_path / "events.jsonl"
    path.write_text("".join(f"{line}\n" for line in (*lines, lines[1])), encoding="utf-8")
    with pytest.raises(RecordError, match=r"events\.jsonl:3: expected an event numbered above 1"):
        list(JsonlEvents(path))
