"""The simulation clock and how times cross to the helper process."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import simpy
from hypothesis import given
from hypothesis import strategies as st

from testbed.clock import SimClock, aware_utc, naive_utc

START = datetime(2026, 1, 5, tzinfo=UTC)


def test_now_follows_the_environment_and_is_built_once_per_instant() -> None:
    env = simpy.Environment()
    clock = SimClock(env, START)
    first = clock.now()
    assert first == START and clock.now() is first
    env.run(until=90.5)
    assert clock.now() == START + timedelta(seconds=90.5) == clock.at(90.5)
    assert clock.seconds(clock.now()) == 90.5


@given(st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1),
                    timezones=st.sampled_from([UTC, timezone(timedelta(hours=-5))])))
def test_naive_utc_round_trips_exactly(when: datetime) -> None:
    plain = naive_utc(when)
    assert plain.tzinfo is None
    back = aware_utc(plain)
    assert back == when and back.tzinfo is UTC
