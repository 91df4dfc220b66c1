"""How long ``fhir.resources`` (R4B) takes to validate one Observation, and what the
EHR's whole create costs around it (the simulation will do one per delivery at full
fidelity).  ``python -m benchmarks.fhir_validation``; prints medians in microseconds."""

from __future__ import annotations

import json
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime

from fhir.resources.R4B import get_fhir_model_class

from testbed.decisions import Reason
from testbed.ehr import CensusSize, Ehr, FhirRequest, TokenCheck
from testbed.events import EventLog

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def _median_us(action: Callable[[], object], *, repeat: int = 7, number: int = 500) -> float:
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            action()
        runs.append((time.perf_counter() - start) / number * 1e6)
    return statistics.median(runs)


def main() -> None:
    log = EventLog(keep=False)
    ehr = Ehr(log=log, seed=1)
    census = ehr.admit_census("main", size=CensusSize(locations=2, patients=20),
                              rng=random.Random(1), now=T0)  # fmt: skip
    ward = census.locations[0]
    ehr.register_device("mon-1", owner="nursing", location=ward, now=T0)
    patient = next(p for p in census.patients if ehr.context.encounter_at(p, ward, T0))
    encounter = ehr.context.encounter_at(patient, ward, T0)
    assert encounter is not None
    data = {
        "resourceType": "Observation", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "subject": {"reference": f"Patient/{patient}"},
        "encounter": {"reference": f"Encounter/{encounter['id']}"},
        "effectiveDateTime": "2026-03-01T07:55:00Z",
        "valueQuantity": {"value": 72, "unit": "/min"},
    }  # fmt: skip
    body = json.dumps(data).encode()
    model = get_fhir_model_class("Observation")
    token = TokenCheck(True, Reason.OK, "c", ("system/Observation.c",))
    request = FhirRequest("POST", "Observation", token, "mon-1", body=body)
    parse = _median_us(lambda: json.loads(body))
    validate = _median_us(lambda: model.model_validate(data))
    create = _median_us(lambda: ehr.create(request, T0), number=200)
    print(f"json.loads of the body:                  {parse:8.1f} µs")
    print(f"fhir.resources R4B Observation validate: {validate:8.1f} µs")
    print(f"the EHR's whole create (201, Provenance, AuditEvent): {create:8.1f} µs")


if __name__ == "__main__":
    main()
