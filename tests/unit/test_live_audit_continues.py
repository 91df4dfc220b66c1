"""A continued hospital's audit log numbers on after its last event (issue 10)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from testbed.events import EventKind, EventLog
from testbed.live.audit import continued_seq

NOW = datetime(2026, 1, 5, tzinfo=UTC)


def _lines(*seqs: int) -> str:
    return "".join(json.dumps({"seq": s, "kind": "x"}) + "\n" for s in seqs)


def test_a_new_log_starts_at_zero(tmp_path: Path) -> None:
    assert continued_seq(tmp_path) == 0


def test_numbers_on_after_the_last_event_and_drops_a_cut_line(tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    log.write_text(_lines(0, 1, 2) + '{"seq": 3, "ki')  # a crash cut the last line
    assert continued_seq(tmp_path) == 3
    assert log.read_text() == _lines(0, 1, 2)


def test_after_a_rotation_the_newest_segment_says_where(tmp_path: Path) -> None:
    (tmp_path / "events-1.jsonl").write_text(_lines(0, 1))
    (tmp_path / "events-2.jsonl").write_text(_lines(2, 3, 4))
    (tmp_path / "events.jsonl").write_text("")  # rotated, nothing written since
    assert continued_seq(tmp_path) == 5


def test_a_log_numbering_on_keeps_no_events() -> None:
    with pytest.raises(ValueError, match="keeps no events"):
        EventLog(first=5)
    log = EventLog(keep=False, first=5)
    assert log.emit(NOW, EventKind.AUDIT_TALLY, "testbed").seq == 5
