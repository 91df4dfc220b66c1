"""Hypothesis: random sequences of conditional creates with retries never make a
duplicate, and every accepted write has one Provenance."""

from __future__ import annotations

import random
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from testbed.ehr import CensusSize, Ehr
from testbed.events import EventLog

from .conftest import T0, World, observation

# each step: (item number, device index); an item repeated is a retry of the same write
STEPS = st.lists(st.tuples(st.integers(0, 8), st.integers(0, 1)), min_size=1, max_size=40)


@settings(max_examples=60, deadline=None)
@given(STEPS)
def test_retries_never_duplicate(steps: list[tuple[int, int]]) -> None:
    log = EventLog()
    ehr = Ehr(log=log, seed=3)
    census = ehr.admit_census("main", size=CensusSize(locations=2, patients=12),
                              rng=random.Random(3), now=T0)  # fmt: skip
    for index in range(2):
        ehr.register_device(f"mon-{index}", owner="nursing", location=census.locations[index],
                            now=T0)  # fmt: skip
    world = World(ehr, log, census)
    targets = [world.patient_at(location) for location in census.locations]
    statuses: dict[str, set[int]] = {}
    for item, device in steps:
        key = f"mon-{device}-{item}"
        patient, encounter = targets[device]
        data = observation(patient, encounter, identifier=[{"system": "urn:t", "value": key}])
        answer = world.post(data, device=f"mon-{device}", condition=f"identifier=urn:t|{key}")
        statuses.setdefault(key, set()).add(answer.status)
    values = Counter(o["identifier"][0]["value"] for o in ehr.store.all("Observation"))
    assert set(values) == set(statuses)
    assert all(count == 1 for count in values.values())
    assert ehr.store.count("Provenance") == len(values)
    assert all(s <= {200, 201} and 201 in s for s in statuses.values())
