"""A bounded store (live mode's ``--max-stored-resources`` and
``--max-stored-resource-bytes``) refuses a write it has no room for with 507
``storage-full``; an accepted write always has room for its Provenance and
AuditEvent, and refusals cannot fill a full store further."""

from __future__ import annotations

import pytest
from fhir.resources.R4B.auditevent import AuditEvent
from fhir.resources.R4B.operationoutcome import OperationOutcome

from testbed.decisions import Reason
from testbed.diagnosis import IncidentCategory, diagnose
from testbed.ehr import TokenCheck
from testbed.ehr.store import RESERVED_SIZE, Capacity
from testbed.events import EventKind

from .conftest import T0, World, observation


def _obs(world: World) -> dict[str, object]:
    patient, encounter = world.patient_at(world.census.locations[0])
    return observation(patient, encounter)


def _last_write(world: World) -> dict[str, object]:
    return world.log.of_kind(EventKind.EHR_WRITE)[-1].data


def test_a_write_beyond_the_count_is_507_storage_full_and_stores_nothing(world: World) -> None:
    store = world.ehr.store
    store.bound(Capacity(resources=store.held + 6, size=1 << 30))
    for _ in range(2):  # each takes three: the Observation, its Provenance and AuditEvent
        assert world.post(_obs(world)).status == 201
    held, issued = store.held, store.ids_issued
    answer = world.post(_obs(world))
    assert answer.status == 507, answer.body
    outcome = answer.json()
    OperationOutcome.model_validate(outcome)
    assert outcome["issue"][0]["code"] == "no-store"
    assert f"holds {held} resources" in outcome["issue"][0]["diagnostics"]
    event = _last_write(world)
    assert (event["status"], event["reason"], event["allowed"]) == (507, "storage-full", False)
    assert event["audit_kept"] is False  # no room for the refusal's AuditEvent either
    assert (store.held, store.ids_issued) == (held, issued)  # not even an id spent
    assert store.count("Observation") == 2 and store.count("Provenance") == 2
    assert diagnose(Reason.STORAGE_FULL) is IncidentCategory.SERVICE_UNAVAILABLE


def test_refusals_are_audited_while_there_is_room_and_never_fill_it_further(
    world: World,
) -> None:
    store = world.ehr.store
    store.bound(Capacity(resources=store.held + 2, size=1 << 30))
    no_scope = TokenCheck(True, Reason.OK, "client-mon-1", ("system/Patient.rs",))
    for expected in (True, True, False, False, False):
        answer = world.post(_obs(world), token=no_scope)
        assert answer.status == 403
        event = _last_write(world)
        assert event["reason"] == "scope-insufficient"
        assert ("audit_kept" not in event) is expected
    assert store.held == store.capacity.resources  # type: ignore[union-attr]
    # a write needs room for three: refused, though one more resource would fit nowhere
    assert world.post(_obs(world)).status == 507


def test_a_write_needs_room_for_its_provenance_and_audit_event(world: World) -> None:
    store = world.ehr.store
    store.bound(Capacity(resources=store.held + 2, size=1 << 30))
    assert world.post(_obs(world)).status == 507  # room for two, a write takes three
    audit = store.all("AuditEvent")[-1]  # the refusal's, in the room left
    AuditEvent.model_validate(audit)
    assert (audit["outcome"], audit["outcomeDesc"][:16]) == ("8", "507 storage-full")
    store.bound(Capacity(resources=store.held + 3, size=1 << 30))
    assert world.post(_obs(world)).status == 201
    assert store.held == store.capacity.resources  # type: ignore[union-attr]


def test_the_bytes_bound_counts_compact_json_and_keeps_room_for_what_follows(
    world: World,
) -> None:
    store = world.ehr.store
    store.bound(Capacity(resources=10**6, size=1 << 30))
    before = store.size
    assert world.post(_obs(world)).status == 201
    one_write = store.size - before  # the Observation, its Provenance and AuditEvent
    assert 0 < one_write < 3 * RESERVED_SIZE
    store.bound(Capacity(resources=10**6, size=store.size + 2 * RESERVED_SIZE + 200))
    answer = world.post(_obs(world))  # the Observation and the reserve do not fit
    assert answer.status == 507 and "bytes" in answer.json()["issue"][0]["diagnostics"]
    big_room = store.size + 2 * RESERVED_SIZE + 1000
    store.bound(Capacity(resources=10**6, size=big_room))
    assert world.post(_obs(world)).status == 201


def test_a_kept_store_bound_again_counts_what_it_holds(world: World) -> None:
    store = world.ehr.store
    for _ in range(3):
        assert world.post(_obs(world)).status == 201
    kept = [r for kind in ("Location", "Patient", "Encounter", "Organization", "Device",
                           "Observation", "Provenance", "AuditEvent") for r in store.all(kind)]
    store.bound(Capacity(resources=10**6, size=1 << 30))
    size, held = store.size, store.held
    world.ehr.restore(kept, ids_issued=store.ids_issued)  # as a restart gives it back
    assert (store.size, store.held) == (size, held)


def test_a_conditional_create_that_matches_in_a_full_store_answers_200(world: World) -> None:
    store = world.ehr.store
    data = {**_obs(world), "identifier": [{"system": "urn:x", "value": "v1"}]}
    assert world.post(data, condition="identifier=urn:x|v1").status == 201
    store.bound(Capacity(resources=store.held, size=1 << 30))
    again = world.post(data, condition="identifier=urn:x|v1")
    assert again.status == 200  # nothing to store but its AuditEvent, which has no room
    assert _last_write(world)["audit_kept"] is False


@pytest.mark.parametrize("room", [None, 0, 2])
def test_an_unbounded_store_sizes_nothing(world: World, room: int | None) -> None:
    """The simulation's stores are not bounded: no size is computed."""
    store = world.ehr.store
    assert store.capacity is None
    store.create(_obs(world), T0, room=room)
    assert store.size == 0


def test_the_operators_writes_are_not_bounded(world: World) -> None:
    """Registering a device or moving a patient in a full store works (the review that
    found it: a registration on a full store failed with a 500 half-way, its inventory
    entry and SMART client made and its EHR Device not); clients' writes stay refused."""
    store = world.ehr.store
    store.bound(Capacity(resources=store.held, size=store.size + 1))
    held = store.held
    world.ehr.register_device("mon-3", owner="nursing", location=world.census.locations[2],
                              now=T0)  # fmt: skip
    patient, _ = world.patient_at(world.census.locations[0])
    world.ehr.move_patient(patient, world.census.locations[1], T0)
    assert store.held > held and world.ehr.registry.find("mon-3") is not None
    assert world.post(_obs(world)).status == 507
