"""A small EHR: one site's census, two devices placed at two wards."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from testbed.decisions import Reason
from testbed.ehr import Census, CensusSize, Ehr, FhirRequest, FhirResponse, TokenCheck
from testbed.events import EventLog

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
SCOPES = ("system/Observation.crs", "system/DiagnosticReport.crs", "system/ImagingStudy.crs",
          "system/ServiceRequest.crs", "system/Encounter.rs", "system/Provenance.rs",
          "system/AuditEvent.rs", "system/Patient.rs")  # fmt: skip
GOOD = TokenCheck(True, Reason.OK, "client-mon-1", SCOPES)


@dataclass
class World:
    ehr: Ehr
    log: EventLog
    census: Census

    def patient_at(self, location: str) -> tuple[str, str]:
        """A patient in ``location`` and their encounter id."""
        for patient in self.census.patients:
            encounter = self.ehr.context.encounter_at(patient, location, T0)
            if encounter is not None:
                return patient, encounter["id"]
        raise AssertionError(f"nobody at {location}")

    def post(
        self, resource: dict[str, Any] | bytes, *, device: str = "mon-1", token: TokenCheck = GOOD,
        condition: str | None = None, now: datetime = T0, kind: str | None = None,
    ) -> FhirResponse:  # fmt: skip
        body = resource if isinstance(resource, bytes) else json.dumps(resource).encode()
        kind = kind or (resource["resourceType"] if isinstance(resource, dict) else "Observation")
        headers = () if condition is None else (("If-None-Exist", condition),)
        request = FhirRequest("POST", kind, token, device, body=body, headers=headers,
                              peer="127.0.0.5")  # fmt: skip
        return self.ehr.handle(request, now)

    def get(
        self, path: str, query: tuple[tuple[str, str], ...] = (), *, token: TokenCheck = GOOD
    ) -> FhirResponse:
        return self.ehr.handle(FhirRequest("GET", path, token, "mon-1", query=query), T0)


def observation(patient: str, encounter: str, **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "subject": {"reference": f"Patient/{patient}"},
        "encounter": {"reference": f"Encounter/{encounter}"},
        "effectiveDateTime": "2026-03-01T07:55:00Z",
        "valueQuantity": {"value": 72, "unit": "/min"},
        **extra,
    }


@pytest.fixture
def world() -> World:
    log = EventLog()
    ehr = Ehr(log=log, seed=7)
    census = ehr.admit_census("main", size=CensusSize(locations=3, patients=30),
                              rng=random.Random(7), now=T0)  # fmt: skip
    ehr.register_device("mon-1", owner="nursing", location=census.locations[0], now=T0)
    ehr.register_device("mon-2", owner="nursing", location=census.locations[1], now=T0)
    return World(ehr, log, census)
