"""The event log: compact storage, the hot ``record`` path, reading back, JSON lines."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from testbed.errors import OutputError
from testbed.event_sink import JsonlSink
from testbed.events import Event, EventFilter, EventKind, EventLog

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


REFUSED = EventFilter.of(EventKind.ACCESS_DECISION, allowed=False)
ISSUED = EventFilter.of(EventKind.CERTIFICATE_ISSUED)


def _some_events(log: EventLog) -> None:
    log.emit(T0, EventKind.CERTIFICATE_ISSUED, "dev-1", serial="ab")
    log.record(T0, EventKind.ACCESS_DECISION, "dev-1", KEYS, ("ehr", True))
    log.record(T0, EventKind.ACCESS_DECISION, "dev-2", KEYS, ("ehr", False))
    log.record(T0, EventKind.ACCESS_DECISION, "dev-2", KEYS, ("ehr", 0))  # 0 is not False
    log.emit(T0 + timedelta(seconds=1), EventKind.FAULT_STARTED, "ca", fault="ca-outage")


def test_a_streaming_log_writes_every_event_and_keeps_what_its_filters_match(
    tmp_path: Path,
) -> None:
    path = tmp_path / "events.jsonl"
    log = EventLog(keep=[REFUSED, ISSUED], sink=JsonlSink(path), batch=2)
    _some_events(log)
    assert log.sink is not None and log.sink.events == 4  # two batches; one event pending
    assert log.recorded_of(EventKind.ACCESS_DECISION) == 3  # written or about to be
    log.close()
    log.close()  # once
    whole = EventLog()
    _some_events(whole)
    assert path.read_text(encoding="utf-8") == "".join(f"{e.to_json()}\n" for e in whole)
    assert list(log) == [e for e in whole if e.seq in (0, 2)]  # numbered as in the file
    assert (len(log), log.kept, log.kept_of(EventKind.ACCESS_DECISION)) == (5, 2, 1)
    assert log.recorded_of(EventKind.ACCESS_DECISION, EventKind.FAULT_STARTED) == 4
    assert [e.seq for e in log.select(REFUSED)] == [2]
    assert log.sink.seconds > 0 and log.sink.closed


def test_a_closed_log_refuses_new_events(tmp_path: Path) -> None:
    log = EventLog(sink=JsonlSink(tmp_path / "events.jsonl"))
    log.emit(T0, EventKind.FAULT_STARTED, "ca")
    log.close()
    with pytest.raises(ValueError, match="closed"):
        log.emit(T0, EventKind.FAULT_HEALED, "ca")
    assert (tmp_path / "events.jsonl").read_text(encoding="utf-8").count("\n") == 1


def test_without_a_sink_the_audit_trail_is_what_is_kept() -> None:
    kept, none = EventLog(), EventLog(keep=False)
    for log in (kept, none):
        _some_events(log)
    assert kept.recorded_of(EventKind.ACCESS_DECISION) == 3
    assert none.recorded_of(EventKind.ACCESS_DECISION) == 0  # no trail: counted, not held


def test_a_log_keeping_some_events_will_not_write_a_partial_file() -> None:
    log = EventLog(keep=[REFUSED])
    _some_events(log)
    with pytest.raises(ValueError, match="keeps 1 of its 5 events"):
        log.write_jsonl(io.StringIO())


def test_a_filter_reads_the_data_as_the_event_holds_it() -> None:
    """A repeated key holds its last value; a missing key matches nothing; a boolean
    only a boolean; the kinds come first."""
    keys, values = ("allowed", "reason", "allowed"), (True, "x", False)
    event = Event(0, T0, EventKind.ACCESS_DECISION, "d", dict(zip(keys, values, strict=True)))
    access = EventKind.ACCESS_DECISION
    cases = [(REFUSED, True), (EventFilter.of(access, allowed=0), False),
             (EventFilter.of(access, hop="tls"), False),
             (EventFilter.of(EventKind.DATA_LOST, allowed=False), False),
             (EventFilter.of(access, reason="x", allowed=False), True)]  # fmt: skip
    for selection, expected in cases:
        assert selection.accepts(event) is expected
        assert selection.matches(event.kind, keys, values) is expected


def test_an_unwritable_audit_log_is_an_output_error(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match=r"missing/events\.jsonl: the audit log could not"):
        JsonlSink(tmp_path / "missing" / "events.jsonl")
