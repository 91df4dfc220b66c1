"""A site's census: its locations, its patients and their in-progress encounters.

Deterministic from the run's seeded generator: the same seed, site and size give the
same census (names, birth dates, admissions), and resource ids come from the store's
seeded counter.  Each patient has one in-progress inpatient Encounter whose active
location (``Encounter.location`` with status ``active``) says where the patient is;
the patient-context authority (context.py) reads it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from testbed.clock import isoformat
from testbed.ehr.store import ResourceStore

__all__ = ["LOCATION_SYSTEM", "MRN_SYSTEM", "Census", "CensusSize", "build_census"]

LOCATION_SYSTEM = "urn:testbed:location"
MRN_SYSTEM = "urn:testbed:mrn"
_FAMILY = (
    "Okafor",
    "Lindqvist",
    "Moreau",
    "Tanaka",
    "Silva",
    "Novak",
    "Haddad",
    "Kowalski",
    "Nguyen",
    "Brennan",
    "Rossi",
    "Adeyemi",
    "Fischer",
    "Costa",
    "Ivanova",
    "Mensah",
)
_GIVEN = (
    "Ada",
    "Ben",
    "Chidi",
    "Dana",
    "Emil",
    "Farah",
    "Goran",
    "Hana",
    "Ines",
    "Jon",
    "Kira",
    "Luis",
    "Mina",
    "Noor",
    "Omar",
    "Pia",
)
_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
_PHYSICAL = "http://terminology.hl7.org/CodeSystem/location-physical-type"


@dataclass(frozen=True, slots=True)
class CensusSize:
    """How big a site's census is: wards (Locations) and patients (each admitted)."""

    locations: int = 4
    patients: int = 20

    def __post_init__(self) -> None:
        if self.locations < 1 or self.patients < 0:
            raise ValueError(
                f"a census needs at least one location and no negative patient count "
                f"(got locations={self.locations}, patients={self.patients})"
            )


@dataclass(frozen=True, slots=True)
class Census:
    """The ids of a site's census: locations, patients, each patient's encounter."""

    site: str
    locations: tuple[str, ...]
    patients: tuple[str, ...]
    encounters: dict[str, str]  # patient id -> in-progress Encounter id


def build_census(
    store: ResourceStore, *, site: str, size: CensusSize, rng: random.Random, now: datetime
) -> Census:
    """Create a census for ``site`` in ``store`` (see the module)."""
    locations = tuple(
        store.create(_location(site, index), now).resource["id"]
        for index in range(1, size.locations + 1)
    )
    patients: list[str] = []
    encounters: dict[str, str] = {}
    for index in range(1, size.patients + 1):
        patient = store.create(_patient(site, index, rng), now).resource["id"]
        admitted = now - timedelta(minutes=rng.randrange(30, 14 * 24 * 60))
        ward = rng.choice(locations)
        encounters[patient] = store.create(_encounter(patient, ward, admitted), now).resource["id"]
        patients.append(patient)
    return Census(site, locations, tuple(patients), encounters)


def _location(site: str, index: int) -> dict[str, Any]:
    return {
        "resourceType": "Location",
        "identifier": [{"system": LOCATION_SYSTEM, "value": f"{site}/ward-{index}"}],
        "status": "active",
        "name": f"{site} ward {index}",
        "mode": "instance",
        "physicalType": {"coding": [{"system": _PHYSICAL, "code": "wa"}]},
    }


def _patient(site: str, index: int, rng: random.Random) -> dict[str, Any]:
    born = datetime(1930, 1, 1) + timedelta(days=rng.randrange(0, 365 * 90))
    return {
        "resourceType": "Patient",
        "identifier": [{"system": MRN_SYSTEM, "value": f"{site}-{index:06d}"}],
        "active": True,
        "name": [{"family": rng.choice(_FAMILY), "given": [rng.choice(_GIVEN)]}],
        "gender": rng.choice(("female", "male", "other", "unknown")),
        "birthDate": born.date().isoformat(),
    }


def _encounter(patient: str, location: str, admitted: datetime) -> dict[str, Any]:
    start = isoformat(admitted)
    return {
        "resourceType": "Encounter",
        "status": "in-progress",
        "class": {"system": _ACT_CODE, "code": "IMP", "display": "inpatient encounter"},
        "subject": {"reference": f"Patient/{patient}"},
        "period": {"start": start},
        "location": [
            {
                "location": {"reference": f"Location/{location}"},
                "status": "active",
                "period": {"start": start},
            }
        ],
    }
