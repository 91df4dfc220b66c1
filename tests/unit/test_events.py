"""The event log: compact storage, the hot ``record`` path, reading back, JSON lines."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from testbed.events import Event, EventKind, EventLog

T0 = datetime(2026, 1, 5, tzinfo=UTC)
KEYS = ("service", "allowed")


def test_emit_and_record_read_back_alike_in_order() -> None:
    log = EventLog()
    first = log.emit(T0, EventKind.CERTIFICATE_ISSUED, "dev-1", serial="ab", endpoint="est")
    log.record(T0 + timedelta(seconds=1), EventKind.ACCESS_DECISION, "dev-1", KEYS, ("ehr", True))
    log.emit(T0 + timedelta(seconds=2), EventKind.ACCESS_DECISION, "dev-2", service="pacs",
             allowed=False)  # fmt: skip
    events = list(log)
    assert [e.seq for e in events] == [0, 1, 2]
    assert events[0] == first
    assert events[1] == Event(1, T0 + timedelta(seconds=1), EventKind.ACCESS_DECISION, "dev-1",
                              {"service": "ehr", "allowed": True})  # fmt: skip
    assert events[2].data == {"service": "pacs", "allowed": False}
    assert len(log) == log.kept == 3


def test_filters_by_kind_and_subject() -> None:
    log = EventLog()
    log.emit(T0, EventKind.CERTIFICATE_ISSUED, "dev-1")
    log.record(T0, EventKind.ACCESS_DECISION, "dev-2", KEYS, ("ehr", True))
    log.record(T0, EventKind.ACCESS_DECISION, "dev-1", KEYS, ("ehr", False))
    assert [e.seq for e in log.of_kind(EventKind.ACCESS_DECISION)] == [1, 2]
    assert [e.seq for e in log.for_subject("dev-1")] == [0, 2]
    assert log.of_kind(EventKind.DATA_LOST) == []


def test_listeners_see_every_event_from_both_paths() -> None:
    log = EventLog()
    seen: list[Event] = []
    log.subscribe(seen.append)
    log.emit(T0, EventKind.FAULT_STARTED, "ca", fault="ca-outage")
    log.record(T0, EventKind.ACCESS_DECISION, "dev-1", KEYS, ("ehr", True))
    assert seen == list(log)


def test_a_log_that_keeps_nothing_still_counts_and_notifies() -> None:
    log = EventLog(keep=False)
    seen: list[Event] = []
    log.subscribe(seen.append)
    log.emit(T0, EventKind.FAULT_STARTED, "ca")
    log.record(T0, EventKind.ACCESS_DECISION, "dev-1", KEYS, ("ehr", True))
    assert (len(log), log.kept, list(log)) == (2, 0, [])
    assert [e.seq for e in seen] == [0, 1]


def test_jsonl_has_sorted_keys_and_utc_times(tmp_path: Path) -> None:
    log = EventLog()
    log.emit(T0 + timedelta(hours=1), EventKind.DATA_LOST, "dev-1", service="ehr", items=3)
    target = tmp_path / "events.jsonl"
    log.write_jsonl(target)
    line = target.read_text(encoding="utf-8")
    assert line.endswith("\n") and line.count("\n") == 1
    data = json.loads(line)
    assert list(data) == sorted(data)
    assert data == {"seq": 0, "time": "2026-01-05T01:00:00Z", "kind": "data-lost",
                    "subject": "dev-1", "service": "ehr", "items": 3}  # fmt: skip
    stream = io.StringIO()
    log.write_jsonl(stream)
    assert stream.getvalue() == line


def test_data_may_not_shadow_a_fixed_field() -> None:
    log = EventLog()
    log.emit(T0, EventKind.POLICY_CHANGED, "dev-1", seq=7)
    with pytest.raises(ValueError, match="'seq' clashes"):
        next(iter(log)).to_dict()
