"""The simulation clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import simpy

from testbed.clock import SimClock

START = datetime(2026, 1, 5, tzinfo=UTC)


def test_now_follows_the_environment_and_is_built_once_per_instant() -> None:
    env = simpy.Environment()
    clock = SimClock(env, START)
    first = clock.now()
    assert first == START and clock.now() is first
    env.run(until=90.5)
    assert clock.now() == START + timedelta(seconds=90.5) == clock.at(90.5)
    assert clock.seconds(clock.now()) == 90.5


def test_at_gives_the_time_after_the_start_and_one_object_per_instant_in_a_row() -> None:
    clock = SimClock(simpy.Environment(), START)
    first = clock.at(3600.25)
    assert first == START + timedelta(hours=1, microseconds=250_000)
    assert clock.at(3600.25) is first  # many turns at one instant share one datetime
    assert clock.at(7200) == START + timedelta(hours=2)
    assert clock.at(3600.25) == first  # built again after another instant, the same time
    assert clock.at(0) == START and clock.now() == START
