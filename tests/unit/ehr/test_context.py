"""The patient-context authority: a device writes only for patients at its location."""

from __future__ import annotations

from datetime import timedelta

import pytest

from testbed.ehr.outcomes import Refused
from testbed.errors import EhrError
from testbed.events import EventKind

from .conftest import T0, World, observation


def test_write_for_a_patient_elsewhere_is_refused_with_the_reason(world: World) -> None:
    patient, encounter = world.patient_at(world.census.locations[1])  # mon-2's ward
    answer = world.post(observation(patient, encounter), device="mon-1")
    assert answer.status == 403
    assert answer.json()["issue"][0]["code"] == "forbidden"
    assert world.log.of_kind(EventKind.EHR_WRITE)[-1].data["reason"] == "patient-context-mismatch"
    assert world.post(observation(patient, encounter), device="mon-2").status == 201


def test_the_current_encounter_must_be_referenced(world: World) -> None:
    patient, _ = world.patient_at(world.census.locations[0])
    answer = world.post(observation(patient, "not-the-current-one"))
    assert answer.status == 422 and answer.json()["issue"][0]["code"] == "business-rule"
    assert world.log.of_kind(EventKind.EHR_WRITE)[-1].data["reason"] == "encounter-mismatch"


def test_after_a_move_the_old_location_is_refused_and_the_new_accepted(world: World) -> None:
    old, new = world.census.locations[0], world.census.locations[1]
    patient, encounter = world.patient_at(old)
    later = T0 + timedelta(hours=1)
    assert world.post(observation(patient, encounter), device="mon-1", now=later).status == 201
    move = world.ehr.move_patient(patient, new, later)
    assert (move.from_location, move.to_location, move.encounter) == (old, new, encounter)
    after = later + timedelta(minutes=1)
    refused = world.post(observation(patient, encounter), device="mon-1", now=after)
    assert refused.status == 403
    assert world.post(observation(patient, encounter), device="mon-2", now=after).status == 201
    moved = world.log.of_kind(EventKind.PATIENT_MOVED)
    assert [(e.subject, e.data["to_location"]) for e in moved] == [(f"Patient/{patient}", new)]


def test_context_is_decided_at_the_time_asked(world: World) -> None:
    patient, _ = world.patient_at(world.census.locations[0])
    ctx = world.ehr.context
    assert ctx.encounter_at(patient, world.census.locations[0], T0 - timedelta(days=30)) is None


def test_move_patient_refuses_what_it_does_not_hold(world: World) -> None:
    patient, _ = world.patient_at(world.census.locations[0])
    with pytest.raises(EhrError, match="no Location"):
        world.ehr.move_patient(patient, "nowhere", T0)
    with pytest.raises(EhrError, match="already"):
        world.ehr.move_patient(patient, world.census.locations[0], T0)
    with pytest.raises(EhrError, match="no in-progress encounter"):
        world.ehr.move_patient("nobody", world.census.locations[1], T0)


def test_context_check_raises_refused_directly(world: World) -> None:
    patient, encounter = world.patient_at(world.census.locations[1])
    with pytest.raises(Refused):
        world.ehr.context.check("mon-1", observation(patient, encounter), T0)
