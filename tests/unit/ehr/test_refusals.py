"""Each refusal class answers its status, OperationOutcome issue code and reason."""

from __future__ import annotations

from typing import Any

import pytest
from fhir.resources.R4B.auditevent import AuditEvent
from fhir.resources.R4B.operationoutcome import OperationOutcome

from testbed.decisions import Reason
from testbed.ehr import FhirResponse, TokenCheck
from testbed.events import EventKind

from .conftest import SCOPES, World, observation


def _refused(world: World, answer: FhirResponse, status: int, code: str, reason: Reason) -> None:
    assert answer.status == status, answer.body
    outcome = answer.json()
    OperationOutcome.model_validate(outcome)
    assert outcome["issue"][0]["code"] == code
    event = world.log.of_kind(EventKind.EHR_WRITE)[-1]
    assert (event.data["status"], event.data["reason"], event.data["allowed"]) == (
        status, reason.value, False)  # fmt: skip
    audits = world.ehr.store.all("AuditEvent")
    assert audits[-1]["outcome"] == "4" and str(status) in audits[-1]["outcomeDesc"]
    AuditEvent.model_validate(audits[-1])
    assert world.ehr.store.count("Observation") == 0
    assert world.ehr.store.count("Provenance") == 0


def _good(world: World, **extra: Any) -> dict[str, Any]:
    patient, encounter = world.patient_at(world.census.locations[0])
    return observation(patient, encounter, **extra)


def test_malformed_json_is_400_structure(world: World) -> None:
    answer = world.post(b'{"resourceType": "Observation",', kind="Observation")
    _refused(world, answer, 400, "structure", Reason.REQUEST_MALFORMED)


def test_json_nested_past_any_resource_is_400_before_it_is_parsed(world: World) -> None:
    """Python's parser recurses per level: 5,000 levels were a RecursionError (500)."""
    deep = b'{"resourceType": "Observation", "note": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    answer = world.post(deep, kind="Observation")
    _refused(world, answer, 400, "structure", Reason.REQUEST_MALFORMED)
    assert "nests 5001 levels deep" in answer.json()["issue"][0]["diagnostics"]


def test_body_of_another_type_is_400(world: World) -> None:
    answer = world.post({**_good(world), "resourceType": "Patient"}, kind="Observation")
    _refused(world, answer, 400, "structure", Reason.REQUEST_MALFORMED)


def test_unknown_element_is_422_structure(world: World) -> None:
    answer = world.post(_good(world, heartRate=72))
    _refused(world, answer, 422, "structure", Reason.RESOURCE_INVALID)
    assert answer.json()["issue"][0]["expression"] == ["heartRate"]


def test_wrong_type_is_422_value(world: World) -> None:
    answer = world.post(_good(world, valueQuantity={"value": "seventy-two"}))
    _refused(world, answer, 422, "value", Reason.RESOURCE_INVALID)


def test_missing_required_element_is_422_required(world: World) -> None:
    data = _good(world)
    del data["status"]
    _refused(world, world.post(data), 422, "required", Reason.RESOURCE_INVALID)


def test_reference_to_a_disallowed_target_type_is_422(world: World) -> None:
    data = _good(world, device={"reference": "Patient/x"})  # Observation.device: Device
    _refused(world, world.post(data), 422, "invalid", Reason.RESOURCE_INVALID)


def test_subject_that_is_not_a_patient_is_422(world: World) -> None:
    data = _good(world, subject={"reference": f"Location/{world.census.locations[0]}"})
    _refused(world, world.post(data), 422, "invalid", Reason.RESOURCE_INVALID)


def test_observation_whose_subject_does_not_exist_is_422(world: World) -> None:
    data = _good(world, subject={"reference": "Patient/nobody"})
    _refused(world, world.post(data), 422, "not-found", Reason.REFERENCE_UNRESOLVED)


def test_reference_to_a_missing_device_is_422(world: World) -> None:
    data = _good(world, device={"reference": "Device/nothere"})
    _refused(world, world.post(data), 422, "not-found", Reason.REFERENCE_UNRESOLVED)


@pytest.mark.parametrize("reason", [Reason.TOKEN_EXPIRED, Reason.NOT_REGISTERED])
def test_unusable_token_is_401_invalid_token(world: World, reason: Reason) -> None:
    answer = world.post(_good(world), token=TokenCheck(False, reason))
    code = "expired" if reason is Reason.TOKEN_EXPIRED else "login"
    _refused(world, answer, 401, code, reason)
    assert answer.header("WWW-Authenticate") == 'Bearer error="invalid_token"'


def test_scope_not_covering_create_is_403_insufficient_scope(world: World) -> None:
    token = TokenCheck(True, Reason.OK, "c", ("system/Observation.rs", "system/Patient.cruds"))
    answer = world.post(_good(world), token=token)
    _refused(world, answer, 403, "forbidden", Reason.SCOPE_INSUFFICIENT)
    assert 'error="insufficient_scope"' in (answer.header("WWW-Authenticate") or "")


def test_unknown_resource_type_is_404(world: World) -> None:
    answer = world.post({"resourceType": "Medication"}, kind="Medication")
    _refused(world, answer, 404, "not-supported", Reason.RESOURCE_NOT_FOUND)


def test_unknown_id_is_404_not_found(world: World) -> None:
    answer = world.get("Observation/nothere")
    assert answer.status == 404 and answer.json()["issue"][0]["code"] == "not-found"
    event = world.log.of_kind(EventKind.EHR_READ)[-1]
    assert event.data["reason"] == Reason.RESOURCE_NOT_FOUND.value


def test_if_none_exist_matching_two_is_412(world: World) -> None:
    ident = {"identifier": [{"system": "urn:x", "value": "1"}]}
    assert world.post(_good(world, **ident)).status == 201
    assert world.post(_good(world, **ident)).status == 201  # no condition: a second one
    answer = world.post(_good(world, **ident), condition="identifier=urn:x|1")
    assert answer.status == 412 and answer.json()["issue"][0]["code"] == "multiple-matches"
    assert world.log.of_kind(EventKind.EHR_WRITE)[-1].data["reason"] == "condition-ambiguous"
    assert world.ehr.store.count("Observation") == 2


def test_unknown_search_parameter_is_400(world: World) -> None:
    answer = world.get("Observation", (("colour", "blue"),))
    assert answer.status == 400 and answer.json()["issue"][0]["code"] == "invalid"


def test_unregistered_device_is_403(world: World) -> None:
    answer = world.post(_good(world), device="stranger")
    _refused(world, answer, 403, "forbidden", Reason.NOT_REGISTERED)


def test_scope_helper_reads_v2_and_v1() -> None:
    from testbed.ehr.scopes import Interaction, permits

    assert permits(SCOPES, "Observation", Interaction.CREATE)
    assert permits(["system/Observation.write"], "Observation", Interaction.CREATE)
    assert not permits(["system/Observation.read"], "Observation", Interaction.CREATE)
    assert not permits(["system/Observation.sc"], "Observation", Interaction.CREATE)  # order
    assert not permits(["patient/Observation.c"], "Observation", Interaction.CREATE)
    assert permits(["system/*.cruds"], "ImagingStudy", Interaction.SEARCH)


def test_an_interaction_the_ehr_does_not_offer_is_405(world: World) -> None:
    from testbed.ehr import FhirRequest

    from .conftest import GOOD, T0

    answer = world.ehr.handle(FhirRequest("DELETE", "Observation/x", GOOD, "mon-1"), T0)
    assert answer.status == 405 and answer.json()["issue"][0]["code"] == "not-supported"


@pytest.mark.parametrize("date", ["2026-13-01", "ge2026-03-01T08:00:00", "soon"])
def test_a_malformed_search_date_is_400(world: World, date: str) -> None:
    answer = world.get("Observation", (("date", date),))
    assert answer.status == 400 and answer.json()["issue"][0]["code"] == "invalid"
