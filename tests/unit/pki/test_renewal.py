"""Renewal times: fraction of lifetime, jitter, change windows."""

from __future__ import annotations

import random
from datetime import UTC, datetime, time, timedelta

import pytest

from testbed.errors import PkiError
from testbed.pki import ChangeWindow, renewal_time

MONDAY = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)  # 2026-01-05 is a Monday
DAY = timedelta(days=1)
NIGHTLY_TUE_THU = ChangeWindow(frozenset({1, 3}), time(22, 0), timedelta(hours=4))


def _renew(**options):
    settings = {
        "not_before": MONDAY,
        "not_after": MONDAY + 30 * DAY,
        "fraction": 2 / 3,
        "jitter": 0.05,
        "rng": random.Random(1),
    }
    settings.update(options)
    return renewal_time(**settings)


def test_without_jitter_renews_at_the_fraction() -> None:
    assert _renew(jitter=0.0) == MONDAY + 20 * DAY


def test_jitter_stays_in_range_and_is_deterministic() -> None:
    rng = random.Random(3)
    times = [_renew(rng=rng) for _ in range(500)]
    assert all(MONDAY + 18.5 * DAY < t <= MONDAY + 20 * DAY for t in times)
    assert len(set(times)) > 400
    again = random.Random(3)
    assert [_renew(rng=again) for _ in range(500)] == times


@pytest.mark.parametrize(("fraction", "jitter"), [(0.0, 0.0), (1.0, 0.1), (0.5, 0.5), (0.5, -0.1)])
def test_bad_fraction_or_jitter(fraction, jitter) -> None:
    with pytest.raises(PkiError, match=r"fraction|jitter"):
        _renew(fraction=fraction, jitter=jitter)


def test_not_after_must_follow_not_before() -> None:
    with pytest.raises(PkiError, match="must come after"):
        _renew(not_after=MONDAY)


def test_window_membership_and_starts() -> None:
    tuesday_night = MONDAY + DAY + timedelta(hours=22)
    assert NIGHTLY_TUE_THU.contains(tuesday_night)
    assert NIGHTLY_TUE_THU.contains(tuesday_night + timedelta(hours=3, minutes=59))
    assert not NIGHTLY_TUE_THU.contains(tuesday_night + timedelta(hours=4))
    assert not NIGHTLY_TUE_THU.contains(MONDAY + timedelta(hours=23))
    assert NIGHTLY_TUE_THU.next_start(MONDAY) == tuesday_night
    assert NIGHTLY_TUE_THU.next_start(tuesday_night) == tuesday_night
    assert (
        NIGHTLY_TUE_THU.next_start(tuesday_night + timedelta(seconds=1)) == tuesday_night + 2 * DAY
    )
    assert NIGHTLY_TUE_THU.previous_start(MONDAY) == MONDAY - 4 * DAY + timedelta(hours=22)


@pytest.mark.parametrize(
    ("weekdays", "duration"),
    [(frozenset(), timedelta(hours=1)), (frozenset({7}), timedelta(hours=1)),
     (frozenset({1}), timedelta(0)), (frozenset({1}), timedelta(days=8))],
)  # fmt: skip
def test_bad_windows(weekdays, duration) -> None:
    with pytest.raises(PkiError):
        ChangeWindow(weekdays, time(1, 0), duration)


def test_moves_to_the_next_window_start() -> None:
    # 20 days after Monday 5 Jan is Sunday 25 Jan; the next window is Tuesday 27 Jan 22:00.
    chosen = _renew(jitter=0.0, windows=[NIGHTLY_TUE_THU])
    assert chosen == datetime(2026, 1, 27, 22, 0, tzinfo=UTC)
    assert NIGHTLY_TUE_THU.contains(chosen)


def test_takes_the_earliest_of_several_windows() -> None:
    sunday_noon = ChangeWindow(frozenset({6}), time(12, 0), timedelta(hours=2))
    chosen = _renew(jitter=0.0, windows=[NIGHTLY_TUE_THU, sunday_noon])
    assert chosen == datetime(2026, 1, 25, 12, 0, tzinfo=UTC)


def test_falls_back_to_the_latest_earlier_window_near_expiry() -> None:
    # Valid Tuesday 00:00 to Thursday 22:30: 2/3 is Wednesday 23:00; the next start
    # (Thursday 22:00) is after expiry - 1 h, so Tuesday 22:00 is chosen.
    tuesday = MONDAY + DAY
    expiry = tuesday + 2 * DAY + timedelta(hours=22, minutes=30)
    chosen = _renew(not_before=tuesday, not_after=expiry, jitter=0.0,
                    windows=[NIGHTLY_TUE_THU])  # fmt: skip
    assert chosen == tuesday + timedelta(hours=22)


def test_no_window_fits() -> None:
    wednesday = MONDAY + 2 * DAY
    with pytest.raises(PkiError, match="no change window"):
        _renew(not_before=wednesday, not_after=wednesday + DAY, windows=[NIGHTLY_TUE_THU])
