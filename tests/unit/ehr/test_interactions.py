"""Round trips through create, read and search; conditional create; Provenance and
AuditEvent for every accepted write."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class

from testbed.events import EventKind

from .conftest import T0, World, observation


def _report(patient: str, encounter: str, result: str) -> dict[str, Any]:
    return {
        "resourceType": "DiagnosticReport",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "36643-5"}]},
        "subject": {"reference": f"Patient/{patient}"},
        "encounter": {"reference": f"Encounter/{encounter}"},
        "effectiveDateTime": "2026-03-01T07:58:00Z",
        "result": [{"reference": result}],
        "conclusion": "No acute findings (AI triage)",
    }


def _study(patient: str, encounter: str) -> dict[str, Any]:
    return {
        "resourceType": "ImagingStudy",
        "status": "available",
        "identifier": [{"system": "urn:dicom:uid", "value": "urn:oid:1.2.826.0.1.3680043.8.1"}],
        "subject": {"reference": f"Patient/{patient}"},
        "encounter": {"reference": f"Encounter/{encounter}"},
        "started": "2026-03-01T07:40:00Z",
        "modality": [{"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "CT"}],
        "numberOfSeries": 1,
    }


def _round_trip(world: World, resource: dict[str, Any], query: tuple[tuple[str, str], ...]) -> str:
    kind = resource["resourceType"]
    created = world.post(resource)
    assert created.status == 201, created.body
    body = created.json()
    ident = body["id"]
    assert created.header("Location") == f"{world.ehr.base}/{kind}/{ident}/_history/1"
    read = world.get(f"{kind}/{ident}")
    assert read.status == 200 and read.json() == body
    get_fhir_model_class(kind).model_validate(read.json())
    found = world.get(kind, query)
    assert found.status == 200
    bundle = found.json()
    get_fhir_model_class("Bundle").model_validate(bundle)
    assert [e["resource"]["id"] for e in bundle["entry"]] == [ident]
    return f"{kind}/{ident}"


def test_observation_report_and_study_round_trip(world: World) -> None:
    patient, encounter = world.patient_at(world.census.locations[0])
    obs = _round_trip(world, observation(patient, encounter),
                      (("patient", f"Patient/{patient}"), ("code", "http://loinc.org|8867-4"),
                       ("date", "ge2026-03-01"), ("encounter", encounter)))  # fmt: skip
    _round_trip(world, _report(patient, encounter, obs),
                (("patient", patient), ("code", "36643-5"), ("date", "2026-03-01")))
    _round_trip(world, _study(patient, encounter),
                (("patient", patient), ("encounter", f"Encounter/{encounter}")))
    # search narrows: another date, another code, _count
    assert world.get("Observation", (("date", "lt2026-03-01"),)).json()["total"] == 0
    assert world.get("Observation", (("code", "other|8867-4"),)).json()["total"] == 0
    assert world.get("Observation", (("_count", "0"),)).json()["entry"] == []


def test_encounter_search_by_location_and_status(world: World) -> None:
    ward = world.census.locations[0]
    bundle = world.get("Encounter", (("location", f"Location/{ward}"),
                                     ("status", "in-progress"))).json()  # fmt: skip
    expected = {e for p, e in world.census.encounters.items()
                if world.ehr.context.encounter_at(p, ward, T0) is not None}  # fmt: skip
    assert {e["resource"]["id"] for e in bundle["entry"]} == expected and expected


def test_conditional_create_is_idempotent(world: World) -> None:
    patient, encounter = world.patient_at(world.census.locations[0])
    data = observation(patient, encounter, identifier=[{"system": "urn:mon-1", "value": "42"}])
    first = world.post(data, condition="identifier=urn:mon-1|42")
    again = world.post(data, condition="identifier=urn:mon-1|42")
    assert (first.status, again.status) == (201, 200)
    assert again.json() == first.json()
    assert world.ehr.store.count("Observation") == 1
    assert world.ehr.store.count("Provenance") == 1
    writes = world.log.of_kind(EventKind.EHR_WRITE)
    assert [(e.data["status"], e.data["created"]) for e in writes] == [(201, True), (200, False)]


def test_every_accepted_write_has_one_provenance_and_one_audit_event(world: World) -> None:
    written: list[str] = []
    for index, ward in enumerate(world.census.locations[:2]):
        patient, encounter = world.patient_at(ward)
        device = f"mon-{index + 1}"
        for n in range(3):
            ident = [{"system": "urn:t", "value": f"{device}-{n}"}]
            data = observation(patient, encounter, identifier=ident)
            answer = world.post(data, device=device)
            assert answer.status == 201
            written.append(f"Observation/{answer.json()['id']}")
    provenance = world.ehr.store.all("Provenance")
    targets = Counter(p["target"][0]["reference"] for p in provenance)
    assert targets == Counter(written)
    audits = Counter(e["what"]["reference"] for a in world.ehr.store.all("AuditEvent")
                     for e in a.get("entity", []) if "type" in e and "what" in e)  # fmt: skip
    assert audits == Counter(written)
    registry = world.ehr.registry
    for record in provenance:
        agent = record["agent"][0]
        assert agent["who"]["reference"].startswith("Device/")
        assert agent["onBehalfOf"]["reference"] == registry.owner_of("mon-1")
        get_fhir_model_class("Provenance").model_validate(record)
    for record in world.ehr.store.all("AuditEvent"):
        get_fhir_model_class("AuditEvent").model_validate(record)


@pytest.mark.parametrize("seed", [1, 2])
def test_census_is_deterministic(seed: int) -> None:
    import random

    from testbed.ehr import CensusSize, Ehr
    from testbed.events import EventLog

    def build() -> list[Any]:
        ehr = Ehr(log=EventLog(), seed=seed)
        ehr.admit_census("east", size=CensusSize(locations=5, patients=40),
                         rng=random.Random(seed), now=T0)  # fmt: skip
        return [ehr.store.all(kind) for kind in ("Location", "Patient", "Encounter")]

    first, second = build(), build()
    assert first == second
    assert len(first[1]) == 40 and len(first[0]) == 5
    for kind, resources in zip(("Location", "Patient", "Encounter"), first, strict=True):
        for resource in resources:
            get_fhir_model_class(kind).model_validate(resource)


def test_an_audit_event_keeps_a_bounded_part_of_what_the_client_chose() -> None:
    """A refused search stored its whole query (8 KB a request, found by a review):
    an AuditEvent keeps 1,024 characters of it, and 512 of its outcome."""
    import base64
    from datetime import UTC, datetime

    from testbed.ehr.audit import MAX_OUTCOME_DESC, MAX_QUERY, AuditRecord, audit_event

    record = AuditRecord("search-type", "Device/1", "client-1", "127.0.0.5", "ehr",
                         query="identifier=" + "x" * 8000, refused=True,
                         outcome_desc="401 token-missing: " + "y" * 4000)  # fmt: skip
    event = audit_event(record, datetime(2026, 1, 5, tzinfo=UTC))
    get_fhir_model_class("AuditEvent").model_validate(event)
    query = base64.b64decode(event["entity"][0]["query"]).decode()
    assert query.startswith("identifier=xxx") and query.endswith("(6987 more characters)")
    assert len(query) < MAX_QUERY + 40 and len(event["outcomeDesc"]) < MAX_OUTCOME_DESC + 40
