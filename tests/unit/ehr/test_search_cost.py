"""A search looks only at the resources of its indexed criterion with the fewest
(``identifier``, ``patient``, ``subject``, ``encounter``), finds what a scan of every
resource finds, and is refused (400 ``too-costly``) when it would make more than
``MAX_SEARCH_WORK`` comparisons: one request cannot hold the server's thread."""

from __future__ import annotations

from typing import Any

import pytest
from fhir.resources.R4B.operationoutcome import OperationOutcome

from testbed.ehr.search import parse_query
from testbed.events import EventKind

from .conftest import World, observation


@pytest.fixture
def written(world: World) -> World:
    """Three Observations of a patient at the first ward, seven of one at the second."""
    for ward, count, device in ((0, 3, "mon-1"), (1, 7, "mon-2")):
        patient, encounter = world.patient_at(world.census.locations[ward])
        for n in range(count):
            data = observation(patient, encounter,
                               identifier=[{"system": "urn:t", "value": f"{device}-{n}"}])
            assert world.post(data, device=device).status == 201
    return world


def _total(world: World, kind: str, *query: tuple[str, str]) -> int:
    answer = world.get(kind, query)
    assert answer.status == 200, answer.body
    total: int = answer.json()["total"]
    return total


QUERIES: list[tuple[str, tuple[tuple[str, str], ...]]] = [
    ("Observation", (("status", "final"),)),
    ("Observation", (("identifier", "urn:t|mon-2-4"),)),
    ("Observation", (("identifier", "mon-1-0,mon-2-1,nothing"),)),
    ("Observation", (("identifier", "|mon-2-4"),)),  # no system: none has none
    ("Observation", (("identifier", "urn:t|"),)),  # every value of a system: a scan
    ("Observation", (("identifier", "urn:other|mon-2-4,urn:t|mon-1-2"),)),
    ("Observation", (("date", "ge2026-03-01"), ("status", "final,amended"))),
    ("Encounter", (("status", "in-progress"),)),
    ("Provenance", ()),
]


@pytest.mark.parametrize("by", ["Patient/{p}", "{p}"])
@pytest.mark.parametrize("name", ["patient", "subject"])
def test_an_indexed_search_finds_what_a_scan_finds(written: World, by: str, name: str) -> None:
    store = written.ehr.store
    patient, encounter = written.patient_at(written.census.locations[1])
    queries = [*QUERIES,
               ("Observation", ((name, by.format(p=patient)),)),
               ("Observation", ((name, by.format(p=patient)), ("encounter", encounter))),
               ("Observation", (("encounter", f"Encounter/{encounter}"),)),
               ("Encounter", ((name, by.format(p=patient)),))]  # fmt: skip
    store = written.ehr.store
    observations = [r["id"] for r in store.all("Observation")]
    target = f"Observation/{observations[4]}"
    device = store.all("AuditEvent")[0]["agent"][0]["who"]["reference"]
    queries += [("Observation", (("_id", f"{observations[6]},{observations[1]},nope"),)),
                ("Provenance", (("target", target),)),
                ("AuditEvent", (("entity", target),)),
                ("AuditEvent", (("agent", device), ("entity", target)))]  # fmt: skip
    for kind, pairs in queries:
        query = parse_query(kind, pairs)
        scanned = [r["id"] for r in store.all(kind) if query.matches(r)]
        assert [r["id"] for r in store.search(kind, query)] == scanned, pairs
    assert _total(written, "Observation", (name, by.format(p=patient))) == 7


def test_a_search_beyond_the_work_bound_is_400_too_costly_and_audited(
    written: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("testbed.ehr.store.MAX_SEARCH_WORK", 20)
    patient, _ = written.patient_at(written.census.locations[0])
    assert _total(written, "Observation", ("status", "final")) == 10  # 10 x 1
    answer = written.get("Observation", (("status", "final,amended,cancelled"),))  # 10 x 3
    assert answer.status == 400, answer.body
    outcome: dict[str, Any] = answer.json()
    OperationOutcome.model_validate(outcome)
    issue = outcome["issue"][0]
    assert issue["code"] == "too-costly"
    assert "30 comparisons, at most 20" in issue["diagnostics"]
    assert "identifier, patient, subject, encounter" in issue["diagnostics"]
    event = written.log.of_kind(EventKind.EHR_READ)[-1].data
    assert (event["status"], event["reason"], event["allowed"]) == (400, "search-too-costly", False)
    audit = written.ehr.store.all("AuditEvent")[-1]
    assert audit["outcome"] == "4" and "search-too-costly" in audit["outcomeDesc"]
    # narrowed by patient: 3 resources x 4 values
    narrowed = (("patient", patient), ("status", "final,amended,cancelled"))
    assert _total(written, "Observation", *narrowed) == 3
    assert _total(written, "Observation") == 10  # no criterion: nothing to compare


def test_a_conditional_create_whose_condition_costs_too_much_stores_nothing(
    written: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The condition is a search (the probe that found this held the server 26 s with
    600 dates in one If-None-Exist); an identifier condition stays cheap."""
    monkeypatch.setattr("testbed.ehr.store.MAX_SEARCH_WORK", 20)
    patient, encounter = written.patient_at(written.census.locations[0])
    dates = ",".join(f"eq1990-01-{day:02d}" for day in range(1, 4))
    held = written.ehr.store.held
    answer = written.post(observation(patient, encounter), condition=f"date={dates}")
    assert answer.status == 400 and answer.json()["issue"][0]["code"] == "too-costly"
    assert written.ehr.store.count("Observation") == 10
    assert written.ehr.store.held == held + 1  # the refusal's AuditEvent
    again = written.post(observation(patient, encounter), condition="identifier=urn:t|mon-1-0")
    assert again.status == 200  # matched through the index: nothing created


def test_an_identifier_with_its_system_looks_only_at_that_systems(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another device's resources with the same identifier value under other systems
    cannot make a device's conditional create too costly."""
    patient, encounter = world.patient_at(world.census.locations[0])
    for system in ("urn:a", "urn:b", "urn:c", "urn:victim"):
        data = observation(patient, encounter, identifier=[{"system": system, "value": "1"}])
        assert world.post(data).status == 201
    monkeypatch.setattr("testbed.ehr.store.MAX_SEARCH_WORK", 2)
    assert _total(world, "Observation", ("identifier", "urn:victim|1"), ("status", "final")) == 1
    again = observation(patient, encounter, identifier=[{"system": "urn:victim", "value": "1"}])
    assert world.post(again, condition="identifier=urn:victim|1").status == 200
    assert world.get("Observation", (("identifier", "1"), ("status", "final"))).status == 400
