"""A device's standing allowances given again together (testbed/standing.py: Steady).

:meth:`AccessPoint.again` must write exactly what deciding each attempt with its
standing writes (the same events, the same counts), and nothing at all once any of
its terms ends: the entry's version, the revision, the time, the oracle's epoch (a
revocation at the CA that no CRL lists yet) or the listeners.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from testbed.access import Attempt
from testbed.events import EventLog
from testbed.pki.modeled import ModeledArtefacts
from testbed.revision import Revision
from testbed.standing import Standing, StandingError, Steady

NOW = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
SOURCE = ("north", "imaging")
HOUR = timedelta(hours=1)


def _ready(make_hospital: Callable[..., Any]) -> tuple[Any, Attempt, Standing]:
    """A hospital whose device's allowance was walked (hour 1) and then stood (hour 2:
    its deadlines read, the oracle found it deserved)."""
    hospital = make_hospital(artefacts=ModeledArtefacts())
    cert = hospital.onboard("ct-1")
    hospital.publish_crls(now=NOW)
    attempt, standing = Attempt("ct-1", "pacs-north", cert, SOURCE), Standing()
    for hour in (1, 2):
        assert hospital.access.decide(attempt, now=NOW + hour * HOUR, standing=standing).allowed
    return hospital, attempt, standing


def _settled(make_hospital: Callable[..., Any]) -> tuple[Any, Attempt, Standing, Steady]:
    hospital, attempt, standing = _ready(make_hospital)
    steady = hospital.access.settle(((attempt, standing),), NOW + 2 * HOUR)
    assert steady is not None
    return hospital, attempt, standing, steady


def _log(log: EventLog) -> str:
    out = io.StringIO()
    log.write_jsonl(out)
    return out.getvalue()


def _counts(hospital: Any) -> tuple[int, int, int, int]:
    metrics = hospital.metrics
    return metrics.decisions, metrics.allowed, metrics.unauthorized_access, hospital.access.stood


def test_given_again_together_writes_what_deciding_each_writes(
    make_hospital: Callable[..., Any],
) -> None:
    decided, attempt, standing = _ready(make_hospital)
    together, _, _, steady = _settled(make_hospital)
    for hour in (3, 4, 5):
        decided.access.decide(attempt, now=NOW + hour * HOUR, standing=standing)
        assert together.access.again(steady, NOW + hour * HOUR)
    assert _log(together.log) == _log(decided.log)
    assert _counts(together) == _counts(decided) == (5, 5, 0, 4)


def _end_by_version(hospital: Any, steady: Steady) -> datetime:
    hospital.inventory.add_test_serial("ct-1", 12345)
    return NOW + 3 * HOUR


def _end_by_revision(hospital: Any, steady: Steady) -> datetime:
    hospital.access.revision.bump()
    return NOW + 3 * HOUR


def _end_by_time(hospital: Any, steady: Steady) -> datetime:
    return steady.due


def _end_by_revocation(hospital: Any, steady: Steady) -> datetime:
    # the CA revokes it; no CRL lists it yet, so the hops still pass it, and the
    # allowance still stands: only the oracle (the ground truth) sees it
    [(attempt, _)] = steady.attempts
    assert attempt.certificate is not None
    hospital.ca.revoke(attempt.certificate.serial_number, now=NOW + 2 * HOUR)
    return NOW + 3 * HOUR


def _end_by_subscription(hospital: Any, steady: Steady) -> datetime:
    hospital.access.subscribe(lambda context, decision: None)
    return NOW + 3 * HOUR


@pytest.mark.parametrize(
    "end",
    [_end_by_version, _end_by_revision, _end_by_time, _end_by_revocation, _end_by_subscription],
    ids=lambda f: f.__name__.removeprefix("_end_by_"),
)
def test_once_a_term_ends_nothing_is_given_again(
    make_hospital: Callable[..., Any], end: Callable[[Any, Steady], datetime]
) -> None:
    hospital, _, _, steady = _settled(make_hospital)
    assert hospital.access.again(steady, NOW + 2 * HOUR + timedelta(minutes=1))
    before, counts = _log(hospital.log), _counts(hospital)
    assert not hospital.access.again(steady, end(hospital, steady))
    assert _log(hospital.log) == before
    assert _counts(hospital) == counts


def test_the_oracle_still_judges_after_a_revocation_ends_the_steady_terms(
    make_hospital: Callable[..., Any],
) -> None:
    hospital, attempt, standing, steady = _settled(make_hospital)
    now = _end_by_revocation(hospital, steady)
    assert not hospital.access.again(steady, now)
    assert hospital.access.decide(attempt, now=now, standing=standing).allowed  # it stands
    assert hospital.metrics.unauthorized_access == 1  # and the oracle counts it


def test_the_oracle_bounds_the_terms_by_the_certificate_window(
    make_hospital: Callable[..., Any],
) -> None:
    """Its hook gives the certificate's notAfter as the time its token may end (the
    TLS hop's own limit is no later, so only ``until`` shows the oracle's)."""
    _, attempt, _, steady = _settled(make_hospital)
    assert attempt.certificate is not None
    assert steady.until == attempt.certificate.not_valid_after_utc
    assert steady.due <= steady.until


def test_nothing_settles_while_a_listener_has_no_steady_hook(
    make_hospital: Callable[..., Any],
) -> None:
    hospital, attempt, standing = _ready(make_hospital)
    hospital.access.subscribe(lambda context, decision: None)  # no steady= part
    assert hospital.access.settle(((attempt, standing),), NOW + 2 * HOUR) is None
    # one that only hears walks (again=False) does not stop it
    other, attempt, standing = _ready(make_hospital)
    other.access.subscribe(lambda context, decision: None, again=False)
    assert other.access.settle(((attempt, standing),), NOW + 2 * HOUR) is not None


def _walked(make_hospital: Callable[..., Any]) -> tuple[Any, Attempt, Standing]:
    hospital = make_hospital(artefacts=ModeledArtefacts())
    cert = hospital.onboard("ct-1")
    hospital.publish_crls(now=NOW)
    attempt, standing = Attempt("ct-1", "pacs-north", cert, SOURCE), Standing()
    assert hospital.access.settle(((attempt, standing),), NOW) is None  # never decided
    assert hospital.access.decide(attempt, now=NOW + HOUR, standing=standing).allowed
    return hospital, attempt, standing


def test_a_walked_allowance_settles_at_once_and_is_given_again_as_deciding_would(
    make_hospital: Callable[..., Any],
) -> None:
    """Its deadlines are read when it settles (deciding would read them at the first
    reuse, and finds them no earlier)."""
    decided, attempt, standing = _walked(make_hospital)
    together, _, settling = _walked(make_hospital)
    assert settling.due is None  # not read by the walk
    steady = together.access.settle(((attempt, settling),), NOW + HOUR)
    assert steady is not None
    for hour in (2, 3):
        decided.access.decide(attempt, now=NOW + hour * HOUR, standing=standing)
        assert together.access.again(steady, NOW + hour * HOUR)
    assert _log(together.log) == _log(decided.log)
    assert _counts(together) == _counts(decided)


def test_nothing_settles_after_a_refusal(make_hospital: Callable[..., Any]) -> None:
    hospital, attempt, _ = _walked(make_hospital)
    blocked = Attempt("ct-1", "pacs-north", attempt.certificate, ("north", "datacenter"))
    refused = Standing()
    assert not hospital.access.decide(blocked, now=NOW + HOUR, standing=refused).allowed
    assert hospital.access.settle(((blocked, refused),), NOW + HOUR) is None
    assert hospital.access.settle((), NOW + HOUR) is None


def test_under_check_standing_each_one_given_again_is_walked(
    make_hospital: Callable[..., Any],
) -> None:
    hospital, _, _, steady = _settled(make_hospital)
    hospital.access.check_standing = True
    assert hospital.access.again(steady, NOW + 3 * HOUR)  # the walk agrees
    hospital.policy.revision = Revision()  # a change nothing announces: a bug
    hospital.policy.block("imaging", "pacs-north", "north")
    with pytest.raises(StandingError, match="route-blocked"):
        hospital.access.again(steady, NOW + 4 * HOUR)


def test_a_routine_crl_reissue_moves_the_terms_later(make_hospital: Callable[..., Any]) -> None:
    """The CRL's nextUpdate bounds the terms; a reissue that lists the same serials
    moves it later without moving the revision, and reaching the old bound reads the
    deadlines again (as deciding would) instead of ending the steady turns."""
    decided, attempt, standing = _ready(make_hospital)
    together, _, _, steady = _settled(make_hospital)
    first = steady.due
    revision = together.access.revision.value
    for hospital in (decided, together):
        hospital.publish_crls(now=NOW + 3 * HOUR)
    assert together.access.revision.value == revision
    for when in (first - HOUR, first, first + HOUR):
        decided.access.decide(attempt, now=when, standing=standing)
        assert together.access.again(steady, when)
    assert steady.due > first
    assert _log(together.log) == _log(decided.log)
    assert _counts(together) == _counts(decided)
