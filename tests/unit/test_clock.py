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
