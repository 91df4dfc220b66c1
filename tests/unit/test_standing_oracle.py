"""The oracle judges an allowance that stands afresh (testbed/standing.py, testbed/oracle.py).

It keeps, on the standing allowance, the epoch at which it found it deserved; these
tests move the ground truth without anything the access point reads moving (a CA
revocation before any CRL lists it, a shared credential revoked, the certificate's
window passing) and check the next allowance counts as unauthorized access.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from testbed.access import Attempt
from testbed.decisions import ALLOW
from testbed.events import EventKind, EventLog
from testbed.metrics import Metrics
from testbed.network.shared import SharedCredentials
from testbed.oracle import Oracle
from testbed.pki.modeled import ModeledArtefacts
from testbed.standing import Standing

NOW = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
SOURCE = ("north", "imaging")


def _ready(make_hospital: Callable[..., Any]) -> Any:
    hospital = make_hospital(artefacts=ModeledArtefacts())
    hospital.cert = hospital.onboard("ct-1")
    hospital.publish_crls(now=NOW)
    return hospital


def _deliveries(hospital: Any, standing: Standing | None) -> list[bool]:
    """Three deliveries an hour apart, the serial revoked at the CA (no CRL published)
    before the third; whether each was allowed."""
    attempt = Attempt("ct-1", "pacs-north", hospital.cert, SOURCE)
    allowed, revoked_at = [], NOW + timedelta(hours=2, minutes=30)
    for hour in (1, 2, 3):
        if hour == 3:
            hospital.ca.revoke(hospital.cert.serial_number, now=revoked_at)
        decision = hospital.access.decide(attempt, now=NOW + timedelta(hours=hour),
                                          standing=standing)  # fmt: skip
        allowed.append(decision.allowed)
    return allowed


def _log(log: EventLog) -> str:
    out = io.StringIO()
    log.write_jsonl(out)
    return out.getvalue()


def test_a_revocation_at_the_ca_while_an_allowance_stands_is_unauthorized_access(
    make_hospital: Callable[..., Any],
) -> None:
    walked, stood = _ready(make_hospital), _ready(make_hospital)
    standing = Standing()
    assert _deliveries(walked, None) == _deliveries(stood, standing) == [True, True, True]
    assert stood.access.stood == 2  # the CRL does not list it yet: the allowance stood
    assert standing.deserved >= 0  # and the oracle had noted it deserved
    assert stood.metrics.unauthorized_access == walked.metrics.unauthorized_access == 1
    assert stood.metrics.decisions == walked.metrics.decisions == 3  # the measures too
    assert stood.metrics.allowed == walked.metrics.allowed == 3
    [event] = stood.log.of_kind(EventKind.UNAUTHORIZED_ACCESS)
    assert event.data["why"] == "the certificate was revoked at the CA"
    assert _log(stood.log) == _log(walked.log)


def _judged(oracle: Oracle, context: Any) -> int:
    before = oracle.metrics.unauthorized_access
    oracle(context, ALLOW)
    return oracle.metrics.unauthorized_access - before


def test_a_noted_allowance_is_judged_again_past_the_certificate_window(
    make_hospital: Callable[..., Any],
) -> None:
    hospital = _ready(make_hospital)
    oracle = Oracle(hospital.ca, Metrics(), EventLog())
    attempt = Attempt("ct-1", "pacs-north", hospital.cert, SOURCE)
    context = hospital.access.context(attempt, now=NOW)
    context.standing = Standing()
    assert _judged(oracle, context) == 0
    assert context.standing.deserved == hospital.ca.revocation_count  # noted
    context.now = hospital.cert.not_valid_after_utc + timedelta(seconds=1)
    assert _judged(oracle, context) == 1


def test_a_shared_credential_revoked_while_its_allowance_stands_counts(
    make_hospital: Callable[..., Any],
) -> None:
    hospital = _ready(make_hospital)
    shared = SharedCredentials("hospital.example")
    oracle = Oracle(hospital.ca, Metrics(), EventLog(), shared)
    credential = shared.give("ct-1", "radiology")
    attempt = Attempt("ct-1", "pacs-north", None, SOURCE, shared_credential=credential)
    context = hospital.access.context(attempt, now=NOW)
    context.standing = Standing()
    assert _judged(oracle, context) == 0
    assert _judged(oracle, context) == 0  # given again from the note
    shared.revoke("ct-1", now=NOW)
    assert _judged(oracle, context) == 1


def test_a_standing_allowance_reads_its_deadlines_again_only_past_the_earliest(
    make_hospital: Callable[..., Any],
) -> None:
    hospital = _ready(make_hospital)
    entry = hospital.inventory.get("ct-1")
    reads: list[datetime] = []
    deadline = [NOW + timedelta(days=7)]  # a CRL's nextUpdate, moved later by a reissue

    def next_update() -> datetime:
        reads.append(deadline[0])
        return deadline[0]

    standing = Standing(decision=ALLOW, entry=entry, version=entry.version, revision=0,
                        until=NOW + timedelta(days=30), deadlines=(next_update,))  # fmt: skip
    for day in range(7):
        assert standing.holds(entry, 0, NOW + timedelta(days=day))
    assert len(reads) == 1  # before the earliest value read, nothing to read again
    assert not standing.holds(entry, 0, NOW + timedelta(days=7))
    deadline[0] = NOW + timedelta(days=14)  # reissued
    assert standing.holds(entry, 0, NOW + timedelta(days=7))
    assert standing.holds(entry, 0, NOW + timedelta(days=13))
    assert len(reads) == 3
    assert not standing.holds(entry, 0, NOW + timedelta(days=30))  # until
    assert not standing.holds(entry, 1, NOW)  # another revision
