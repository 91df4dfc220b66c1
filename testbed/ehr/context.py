"""The patient-context authority (seed §3: keep the EHR authoritative for patient
context).

A device may write a clinical resource (Observation, DiagnosticReport,
ServiceRequest, ImagingStudy) only for a patient whose in-progress Encounter is at the
device's location *now*, and the resource must reference that Encounter.  Where a
patient is comes from the Encounter's location history (``Encounter.location``: the
entry with status ``active`` whose period holds the time); where a device is comes
from the EHR's device registry (``Device.location``).

The checks, in order, each with its refusal:

1. the device is in the registry (403 ``not-registered``);
2. ``subject`` references a Patient (422 ``resource-invalid``: the testbed's
   profile, since a clinical write is about a patient) that exists (422
   ``reference-unresolved``);
3. the patient has an in-progress Encounter at the device's location now (403
   ``patient-context-mismatch``);
4. ``encounter`` references that Encounter (422 ``encounter-mismatch``).

:meth:`PatientContext.move_patient` moves a patient: the active location entry ends
now and a new one starts (the same Encounter: a transfer, as FHIR R4 models it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from testbed.clock import isoformat, parse_utc
from testbed.decisions import Reason
from testbed.ehr.outcomes import IssueType, Refusal, Refused
from testbed.ehr.references import split_reference
from testbed.ehr.registry import DeviceRegistry
from testbed.ehr.store import ResourceStore
from testbed.errors import EhrError

__all__ = ["Move", "PatientContext"]


@dataclass(frozen=True, slots=True)
class Move:
    """A patient moved: from one Location id to another, within one Encounter."""

    patient: str
    encounter: str
    from_location: str
    to_location: str


class PatientContext:
    """Decides whether a device's clinical write is in its patient context."""

    def __init__(self, store: ResourceStore, registry: DeviceRegistry) -> None:
        self._store = store
        self._registry = registry
        self._encounters: dict[str, list[dict[str, Any]]] = {}  # Patient/id -> Encounters
        self._indexed = 0

    def check(self, device_id: str, data: dict[str, Any], now: datetime) -> str:
        """The ``Encounter/<id>`` the write belongs to; :class:`Refused` otherwise."""
        location = self._registry.location_of(device_id)
        if location is None:
            raise Refused(
                Refusal(
                    403,
                    Reason.NOT_REGISTERED,
                    IssueType.FORBIDDEN,
                    f"device {device_id!r} is not in the EHR's device registry",
                )
            )
        patient = _subject(data)
        if not self._store.exists("Patient", patient):
            raise Refused(
                Refusal(
                    422,
                    Reason.REFERENCE_UNRESOLVED,
                    IssueType.NOT_FOUND,
                    f"subject references Patient/{patient}, which does not exist",
                    "subject",
                )
            )
        encounter = self.encounter_at(patient, location, now)
        if encounter is None:
            raise Refused(
                Refusal(
                    403,
                    Reason.PATIENT_CONTEXT_MISMATCH,
                    IssueType.FORBIDDEN,
                    f"Patient/{patient} has no in-progress encounter at Location/"
                    f"{location}, where device {device_id!r} is",
                    "subject",
                )
            )
        wanted = f"Encounter/{encounter['id']}"
        given = data.get("encounter")
        if not isinstance(given, dict) or given.get("reference") != wanted:
            raise Refused(
                Refusal(
                    422,
                    Reason.ENCOUNTER_MISMATCH,
                    IssueType.BUSINESS_RULE,
                    f"encounter must reference {wanted}, the patient's current encounter "
                    f"at this location",
                    "encounter",
                )
            )
        return wanted

    def encounter_at(self, patient: str, location: str, now: datetime) -> dict[str, Any] | None:
        """The patient's in-progress Encounter whose active location at ``now`` is
        ``location`` (ids), or None."""
        for encounter in self._of(patient):
            if _active_location(encounter, now) == location:
                return encounter
        return None

    def move_patient(self, patient: str, to_location: str, now: datetime) -> Move:
        """Move ``patient`` to ``to_location`` (ids) at ``now``; :class:`EhrError` if
        the patient, the location or an in-progress encounter is missing, or the
        patient is there already."""
        if not self._store.exists("Location", to_location):
            raise EhrError(f"no Location {to_location!r} in the EHR: use one of the census's")
        current = [(e, loc) for e in self._of(patient) if (loc := _active_location(e, now))]
        if not current:
            raise EhrError(f"Patient {patient!r} has no in-progress encounter to move")
        encounter, from_location = current[0]
        if from_location == to_location:
            raise EhrError(f"Patient {patient!r} is at Location {to_location!r} already")
        for entry in encounter["location"]:
            if entry.get("status") == "active":
                entry["status"] = "completed"
                entry.setdefault("period", {})["end"] = isoformat(now)
        encounter["location"].append(
            {
                "location": {"reference": f"Location/{to_location}"},
                "status": "active",
                "period": {"start": isoformat(now)},
            }
        )
        self._store.touch(encounter, now)
        return Move(patient, encounter["id"], from_location, to_location)

    def _of(self, patient: str) -> list[dict[str, Any]]:
        """The patient's in-progress Encounters (the index catches up with the store)."""
        for encounter in self._store.since("Encounter", self._indexed):
            self._indexed += 1
            subject = encounter.get("subject", {}).get("reference")
            self._encounters.setdefault(str(subject), []).append(encounter)
        found = self._encounters.get(f"Patient/{patient}", [])
        return [e for e in found if e.get("status") == "in-progress"]


def _subject(data: dict[str, Any]) -> str:
    subject = data.get("subject")
    target = split_reference(subject.get("reference") if isinstance(subject, dict) else None)
    if target is None or target[0] != "Patient":
        raise Refused(
            Refusal(
                422,
                Reason.RESOURCE_INVALID,
                IssueType.INVALID,
                "subject must reference a Patient (Patient/id): a device's clinical "
                "write is about one patient",
                "subject",
            )
        )
    return target[1]


def _active_location(encounter: dict[str, Any], now: datetime) -> str | None:
    """The Location id of the encounter's active location entry at ``now``."""
    if encounter.get("status") != "in-progress":
        return None
    for entry in encounter.get("location", []):
        if entry.get("status") != "active" or not _started(entry.get("period", {}), now):
            continue
        target = split_reference(entry.get("location", {}).get("reference"))
        if target is not None and target[0] == "Location":
            return target[1]
    return None


def _started(period: dict[str, Any], now: datetime) -> bool:
    """Whether a period without an end has started by ``now`` (a date without a time
    starts at midnight UTC)."""
    start = period.get("start")
    if start is None:
        return True
    text = str(start)
    return parse_utc(text if "T" in text else f"{text}T00:00:00Z") <= now
