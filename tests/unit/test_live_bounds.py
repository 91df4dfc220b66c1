"""Live mode's bounds, piece by piece: caps, tallies, rate limit, JSON bodies, identifiers,
and the audit log on disk, rotated."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from testbed.errors import LiveError
from testbed.events import EventKind
from testbed.live.audit import PEER, UNAUTHENTICATED, AuditLog, RotatingSink
from testbed.live.gate import Cap, ConnectionGate
from testbed.live.identifiers import DEVICE_ID, NAME, OWNER, checked
from testbed.live.jsonbody import nesting, parse_object
from testbed.live.limits import Limits
from testbed.live.ratelimit import RateLimiter
from testbed.live.refusals import OTHER_SOURCE, Tallies
from testbed.report.jsonl import JsonlEvents

T0 = datetime(2026, 1, 5, tzinfo=UTC)


def test_the_gate_refuses_above_each_cap_and_gives_places_back() -> None:
    gate = ConnectionGate(Limits(total=4, per_listener=3, per_source=2))
    assert gate.admit("est", "a") is None and gate.admit("est", "a") is None
    assert gate.admit("est", "a") is Cap.SOURCE
    assert gate.admit("est", "b") is None
    assert gate.admit("est", "c") is Cap.LISTENER
    assert gate.admit("pki", "c") is None
    assert gate.admit("pki", "d") is Cap.TOTAL
    gate.release("est", "a")
    assert gate.admit("pki", "d") is None and gate.open == 4


@pytest.mark.parametrize(
    ("field", "option"),
    [("total", "--max-connections"), ("per_source", "--max-connections-per-source"),
     ("header_timeout", "--header-timeout"), ("body_bytes", "--max-body"),
     ("stored_instances", "--max-stored-instances")],
)  # fmt: skip
@pytest.mark.parametrize("value", [0, -1, float("nan"), float("inf")])
def test_limits_must_be_positive_and_finite_and_name_their_option(
    field: str, option: str, value: float
) -> None:
    with pytest.raises(LiveError, match=rf"^{option} \(limit {field}\): expected a positive"):
        Limits(**{field: value})


def test_tallies_write_one_event_per_key_with_a_count(tmp_path: Path) -> None:
    log = AuditLog(RotatingSink(tmp_path, max_bytes=1 << 20))
    tallies = Tallies(log, max_keys=2)
    for i in range(1000):
        tallies.note(EventKind.REQUEST_REFUSED, "est", T0 + timedelta(seconds=i),
                     source=f"127.0.0.{i % 5}", fields={"reason": "x"}, detail="why")  # fmt: skip
    assert len(tallies) == 3  # two sources and everything else under (other)
    assert tallies.flush(T0) == 3 and len(tallies) == 0
    log.close()
    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert [e["source"] for e in events] == ["127.0.0.0", "127.0.0.1", OTHER_SOURCE]
    assert [e["count"] for e in events] == [200, 200, 600]
    assert events[0]["first"] == "2026-01-05T00:00:00Z" and events[0]["detail"] == "why"


def test_beyond_the_cap_what_a_client_chose_is_counted_as_other_too(tmp_path: Path) -> None:
    """A client that writes a new value into each request (a CRL's site in the path)
    gets no new key per value beyond ``max_keys``; the closed fields stay."""
    log = AuditLog(RotatingSink(tmp_path, max_bytes=1 << 20))
    tallies = Tallies(log, max_keys=4)
    for i in range(1000):
        tallies.note(EventKind.REQUESTS_SERVED, "crl", T0, source=f"127.0.0.{i % 3}",
                     fields={"status": 404, "site": f"site-{i}"})  # fmt: skip
    assert len(tallies) == 5  # four keys, then everything else under one
    tallies.flush(T0)
    log.close()
    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert events[-1]["source"] == OTHER_SOURCE and events[-1]["site"] == OTHER_SOURCE
    assert events[-1]["status"] == 404 and events[-1]["count"] == 996
    assert sum(e["count"] for e in events) == 1000


def test_unauthenticated_enrollment_refusals_are_tallied_not_written_each(tmp_path: Path) -> None:
    log = AuditLog(RotatingSink(tmp_path, max_bytes=1 << 20))
    PEER.set("127.0.0.9")
    for _ in range(20_000):
        log.emit(T0, EventKind.ENROLLMENT_REFUSED, UNAUTHENTICATED, endpoint="simpleenroll",
                 status=401, reason="bootstrap-auth-failed", detail="wrong")  # fmt: skip
    log.emit(T0, EventKind.ENROLLMENT_REFUSED, "ct-1", status=403, reason="cert-revoked")
    assert len(log) == 1 and log.kept == 0  # one written (the identified device), none kept
    log.tallies.flush(T0)
    log.close()
    lines = (tmp_path / "events.jsonl").read_text().splitlines()
    aggregated = json.loads(lines[1])
    assert len(lines) == 2 and aggregated["count"] == 20_000
    assert aggregated["source"] == "127.0.0.9" and aggregated["subject"] == UNAUTHENTICATED


def test_unauthenticated_token_refusals_are_tallied_not_written_each(
    tmp_path: Path,
) -> None:
    """A token request naming no registered client is refused without a credential to
    tie it to: tallied per source and reason like an unauthenticated enrollment, with
    every client id the peer made up beyond the keys counted as ``(other)``."""
    log = AuditLog(RotatingSink(tmp_path, max_bytes=1 << 20), max_keys=2)
    PEER.set("127.0.0.7")
    for i in range(5_000):
        log.emit(T0, EventKind.TOKEN_REFUSED, UNAUTHENTICATED, client_id=f"made-up-{i}",
                 authenticated=False, error="invalid_client", reason="client-unknown",
                 status=401, detail="no such client")  # fmt: skip
    log.emit(T0, EventKind.TOKEN_REFUSED, "ct-1", client_id="ct-1", authenticated=True,
             error="invalid_scope", reason="scope-not-allowed", status=400)  # fmt: skip
    assert len(log) == 1  # only the identified client's refusal is written at once
    log.tallies.flush(T0)
    log.close()
    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    tallied = [e for e in events if e["subject"] == UNAUTHENTICATED]
    assert len(tallied) == 3 and sum(e["count"] for e in tallied) == 5_000
    assert tallied[-1]["client_id"] == OTHER_SOURCE and tallied[-1]["count"] == 4_998
    assert {(e["error"], e["reason"], e["status"]) for e in tallied} == {
        ("invalid_client", "client-unknown", 401)}  # closed fields kept beyond the keys


def test_the_audit_log_rotates_by_size_with_an_event_and_reports_read_every_segment(
    tmp_path: Path,
) -> None:
    log = AuditLog(RotatingSink(tmp_path, max_bytes=2000))
    for i in range(100):
        log.emit(T0, EventKind.POLICY_CHANGED, f"device-{i}", change="x" * 20)
    log.close()
    segments = sorted(tmp_path.glob("events-*.jsonl"), key=lambda p: int(p.stem[7:]))
    assert len(segments) >= 3
    assert all(p.stat().st_size < 2000 + 300 for p in segments)
    first_of_current = json.loads((tmp_path / "events.jsonl").read_text().splitlines()[0])
    assert first_of_current["kind"] == "log-rotated"
    assert first_of_current["previous"] == segments[-1].name
    read = list(JsonlEvents(tmp_path / "events.jsonl", before=tuple(segments)))
    assert [e.seq for e in read] == list(range(len(read)))  # seq runs on across segments
    assert sum(e.kind is EventKind.POLICY_CHANGED for e in read) == 100
    assert sum(e.kind is EventKind.LOG_ROTATED for e in read) == len(segments)


def test_the_rate_limiter_gives_a_burst_then_the_rate_and_says_how_long_to_wait() -> None:
    limiter = RateLimiter(rate=2.0, burst=3, max_sources=2)
    assert [limiter.take("a", 0.0) for _ in range(4)] == [None, None, None, 1]
    assert limiter.take("a", 0.5) is None  # one token back after half a second
    assert limiter.take("b", 0.5) is None and limiter.take("c", 0.5) is None
    assert len(limiter) == 2  # "a" forgotten, the least recently used


@pytest.mark.parametrize(
    ("raw", "depth"),
    [(b"{}", 1), (b'{"a": [1, {"b": []}]}', 4), (b'{"a": "[[[[["}', 1), (b"[" * 50, 50),
     # an unterminated string runs to the end (its escaped quotes made the scan quadratic)
     (b'[["x\\"[[' + b'\\"' * 5000, 2)],
)  # fmt: skip
def test_nesting_ignores_brackets_in_strings(raw: bytes, depth: int) -> None:
    assert nesting(raw) == depth


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"[" * 10_000, "nests 10000 levels deep"),
        (b'{"a":' * 9 + b"1" + b"}" * 9, "nests 9 levels deep"),
        (b"[]", "is JSON list"),
        (b"{not json", "is not JSON"),
        (b"\xff", "is not JSON"),
        (b'{"a": "' + b"x" * 20_000 + b'"}', "at most 16384 bytes"),
    ],
)
def test_a_bad_json_body_is_an_error_naming_what_was_expected(raw: bytes, message: str) -> None:
    with pytest.raises(LiveError, match=message):
        parse_object(raw, what="a JSON object")


@pytest.mark.parametrize(
    ("pattern", "good"),
    [(DEVICE_ID, "ct-ai-onbox-north-sn1"), (OWNER, "radiology team"), (NAME, "north")],
)
def test_identifiers_are_matched_whole(pattern: object, good: str) -> None:
    assert checked("field", good, pattern) == good  # type: ignore[arg-type]
    for bad in (good + "\n", "\n" + good, good + "\r", good + "\x00", "", 7):
        with pytest.raises(LiveError, match="field: expected"):
            checked("field", bad, pattern)  # type: ignore[arg-type]
