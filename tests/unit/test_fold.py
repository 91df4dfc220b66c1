"""The fold's rules on hand-written event streams (the whole runs are in
tests/scenarios/test_record.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from testbed.events import Event, EventKind, Value
from testbed.report.fold import FoldContext, fold_events

T0 = datetime(2026, 1, 5, tzinfo=UTC)
DEVICE = "ct-ai-onbox-north-001"


def _stream(*rows: tuple[int, EventKind, dict[str, Value]]) -> list[Event]:
    return [
        Event(seq, T0 + timedelta(minutes=minute), kind, DEVICE, data)
        for seq, (minute, kind, data) in enumerate(rows)
    ]


def _traffic(minute: int, allowed: bool) -> tuple[int, EventKind, dict[str, Value]]:
    reason = "ok" if allowed else "route-blocked"
    return minute, EventKind.ACCESS_DECISION, {"service": "ehr", "allowed": allowed,
                                               "reason": reason, "purpose": "traffic"}  # fmt: skip


def test_downtime_still_open_is_closed_at_the_closing_and_a_later_outage_counts() -> None:
    events = _stream(_traffic(0, False), _traffic(30, False), _traffic(90, True),
                     _traffic(100, False), _traffic(110, True))  # fmt: skip
    fold = fold_events(events, FoldContext(closing=T0 + timedelta(minutes=60)))
    # 0-60 (closed at the closing, not at the allowance at 90), then 100-110
    assert fold.metrics.downtime_seconds == 70 * 60
    assert fold.metrics.incidents["out-of-network-scope"] == 2  # one per outage


def test_without_a_closing_downtime_ends_with_the_outage() -> None:
    fold = fold_events(_stream(_traffic(0, False), _traffic(90, True)), FoldContext())
    assert fold.metrics.downtime_seconds == 90 * 60


def test_items_delivered_by_an_allowance_and_what_it_forwarded() -> None:
    forwarded = (5, EventKind.DATA_FORWARDED, {"service": "ehr", "items": 4})
    fold = fold_events(_stream(_traffic(0, True), _traffic(5, True), forwarded), FoldContext())
    assert fold.metrics.delivered == 1 + 4


def test_one_operator_revocation_of_two_certificates_is_one_manual_step() -> None:
    def revoked(minute: int, serial: str, why: str) -> tuple[int, EventKind, dict[str, Value]]:
        return minute, EventKind.CERTIFICATE_REVOKED, {"serial": serial, "why": why}

    events = _stream(revoked(0, "a1", "operation"), revoked(0, "a2", "operation"),
                     revoked(5, "a3", "fault"),
                     revoked(9, "a4", "operator revocation"))  # fmt: skip
    fold = fold_events(events, FoldContext())
    assert fold.metrics.manual_steps == 2
    assert fold.certificates.revoked == 4


def test_every_enrollment_answer_for_a_device_without_est_is_a_manual_step() -> None:
    registered = (0, EventKind.DEVICE_REGISTERED, {"profile": "legacy-ultrasound"})
    refused = (1, EventKind.ENROLLMENT_REFUSED, {"endpoint": "manual", "reason": "ca-unavailable"})
    issued = (2, EventKind.CERTIFICATE_ISSUED, {"serial": "b1"})
    context = FoldContext(manual_profiles=frozenset({"legacy-ultrasound"}))
    fold = fold_events(_stream(registered, refused, issued), context)
    assert fold.metrics.manual_steps == 2
    by_est = fold_events(_stream(registered, refused, issued), FoldContext())
    assert by_est.metrics.manual_steps == 0


def test_a_tallied_token_refusal_counts_as_many_refusals_as_it_stands_for() -> None:
    """Live mode writes unauthenticated token refusals as one event with a ``count``
    per source and reason (testbed.live.audit): a report counts each refusal."""
    events = [
        Event(0, T0, EventKind.TOKEN_REFUSED, "(unauthenticated)",
              {"reason": "client-unknown", "status": 401, "count": 250}),
        Event(1, T0, EventKind.TOKEN_REFUSED, DEVICE, {"reason": "scope-not-allowed"}),
    ]  # fmt: skip
    ehr = fold_events(events, FoldContext(ehr=True)).metrics.ehr
    assert ehr is not None
    assert dict(ehr.tokens_refused) == {"client-unknown": 250, "scope-not-allowed": 1}


def test_a_tallied_access_refusal_counts_as_many_decisions_and_no_device_is_down() -> None:
    """Live mode tallies access decisions refused to peers with no certificate
    (testbed.live.audit): a report counts each, and no device stands for them."""
    tallied = {"service": "pacs-north", "allowed": False, "reason": "not-registered",
               "purpose": "traffic", "claimed": "", "count": 40}  # fmt: skip
    events = [Event(0, T0, EventKind.ACCESS_DECISION, "(unauthenticated)", tallied),
              *_stream(_traffic(1, False))]  # fmt: skip
    metrics = fold_events(events, FoldContext()).metrics
    assert (metrics.decisions, metrics.denied) == (41, 41)
    assert dict(metrics.denial_reasons) == {"not-registered": 40, "route-blocked": 1}
    assert metrics.incidents["out-of-network-scope"] == 1  # the device's, not the tally's
