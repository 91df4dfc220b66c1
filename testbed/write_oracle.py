"""Ground truth for FHIR writes and token grants: was an accepted write deserved?

The EHR decides on what it knows (its token check, its device registry, its patient
context); :class:`WriteOracle` judges every accepted create against the facts as the
hospital knows them, apart from the EHR's own records:

- the device is registered and active in the inventory (not suspended, not retired);
- the token was issued to that device's client;
- the patient is truly at the device's location at that moment (the true whereabouts,
  kept by :class:`Whereabouts` from the census and every move);
- the item was not stored before (its identifier: a second stored copy is a
  duplicate, counted apart).

It also counts a token granted to someone who is not the device (the simulation
knows when a leaked credential is used: :meth:`WriteOracle.impostor_granted`).  Each
unauthorized write or grant is counted into ``unauthorized_access`` (and
``unauthorized_writes``) with an ``unauthorized-access`` event; each duplicate writes a
``duplicate-write`` event.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from testbed.access import Attempt, Purpose
from testbed.ehr.messages import FhirRequest, FhirResponse
from testbed.events import EventKind, EventLog
from testbed.inventory import Inventory
from testbed.lifecycle import ACTIVE_STATES
from testbed.metrics import EhrMeasures, Metrics
from testbed.smart.verifier import TokenCheck

__all__ = ["Whereabouts", "WriteOracle"]


@dataclass(slots=True)
class Whereabouts:
    """Where each patient and each device truly is (Location ids), per EHR service."""

    patients: dict[tuple[str, str], str] = field(default_factory=dict)
    devices: dict[str, str] = field(default_factory=dict)

    def patient(self, service: str, patient: str) -> str | None:
        """The Location id where ``patient`` of EHR ``service`` is."""
        return self.patients.get((service, patient))


@dataclass(slots=True)
class WriteOracle:
    """Judges accepted FHIR creates and impostors' token grants (see the module)."""

    inventory: Inventory
    metrics: Metrics
    measures: EhrMeasures
    log: EventLog
    truth: Whereabouts = field(default_factory=Whereabouts)
    _stored: set[tuple[str, str]] = field(default_factory=set)  # (service, identifier)

    def judge(
        self,
        attempt: Attempt,
        check: TokenCheck,
        request: FhirRequest,
        response: FhirResponse,
        now: datetime,
    ) -> None:
        """Judge one answer of the EHR (only accepted creates can be wrong)."""
        if request.method != "POST" or response.status not in (200, 201):
            return
        resource = json.loads(response.body)
        why = self._misallowance(attempt, check, resource, now)
        if why is not None:
            self.metrics.unauthorized_access += 1
            self.measures.unauthorized_writes += 1
            self.log.emit(now, EventKind.UNAUTHORIZED_ACCESS, attempt.device_id,
                          service=attempt.service, purpose=Purpose.FHIR_REQUEST.value,
                          write=True, why=why)  # fmt: skip
        if response.status == 201:
            for key in _identifiers(resource):
                if (attempt.service, key) in self._stored:
                    self.measures.duplicates += 1
                    self.log.emit(now, EventKind.DUPLICATE_WRITE, attempt.device_id,
                                  service=attempt.service, identifier=key,
                                  id=str(resource.get("id")))  # fmt: skip
                self._stored.add((attempt.service, key))

    def impostor_granted(self, device_id: str, client_id: str, now: datetime) -> None:
        """A token was granted to a party that is not the device (a leaked credential)."""
        self.metrics.unauthorized_access += 1
        self.log.emit(now, EventKind.UNAUTHORIZED_ACCESS, device_id, service="idp",
                      purpose="token-request", write=False,
                      why=f"a token for client {client_id!r} went to someone else "
                      "holding its credential")  # fmt: skip

    def _misallowance(
        self, attempt: Attempt, check: TokenCheck, resource: dict[str, Any], now: datetime
    ) -> str | None:
        device = attempt.device_id
        entry = self.inventory.get(device)
        if entry is None or entry.lifecycle.state not in ACTIVE_STATES:
            return "the device is not registered or not active"
        if check.client_id != device:
            return f"the token was issued to {check.client_id!r}, not to this device"
        subject = resource.get("subject")
        reference = subject.get("reference") if isinstance(subject, dict) else None
        if not isinstance(reference, str) or not reference.startswith("Patient/"):
            return None  # not a clinical write about a patient
        patient = reference.partition("/")[2]
        where = self.truth.patient(attempt.service, patient)
        here = self.truth.devices.get(device)
        if where is None or where != here:
            return (f"Patient/{patient} is at Location/{where}, not at Location/{here} "
                    "where the device is")  # fmt: skip
        return None


def _identifiers(resource: dict[str, Any]) -> list[str]:
    """``system|value`` of each identifier of a resource."""
    found = resource.get("identifier")
    if not isinstance(found, list):
        return []
    return [f"{i.get('system', '')}|{i.get('value', '')}" for i in found if isinstance(i, dict)]
