"""Opening the hospital a state directory keeps, or a new one: what ``testbed serve`` runs.

A state directory holding a hospital (``hospital.db``, :mod:`testbed.live.store`) is
continued: the same CA, devices, certificates, revocations and audit log.  ``new``
(``testbed serve --new``) sets the kept one aside first (``earlier-<time>/``) and
starts a new hospital; so does a directory that holds none.  Either way the caller
is told which, in words it can print.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from testbed.crosscheck import scenario_profiles
from testbed.ehr.store import Capacity
from testbed.events import EventLog
from testbed.live.dicom.serve import disk_instances
from testbed.live.hospital import LiveHospital
from testbed.live.limits import Limits
from testbed.live.store import DATABASE, SqliteStore, set_aside
from testbed.scenario import load_scenario

__all__ = ["Opened", "is_kept", "open_hospital"]


@dataclass(frozen=True, slots=True)
class Opened:
    """A live hospital on its durable store, and what to tell the operator."""

    hospital: LiveHospital
    store: SqliteStore
    message: str


DEFAULT_LIMITS = Limits()


def is_kept(root: Path) -> bool:
    """Whether ``root`` holds a hospital that a restart continues."""
    return (root / DATABASE).exists()


def open_hospital(
    scenario: Path, root: Path, *, new: bool, log: EventLog | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> Opened:
    """The live hospital of ``scenario`` kept in ``root`` (or a new one).

    Raises :class:`~testbed.errors.LiveError` when the kept hospital is of another
    scenario or its store cannot be read, and the scenario's own errors for a bad file.
    """
    loaded = load_scenario(scenario)
    profiles = scenario_profiles(loaded, scenario.parent)
    aside = set_aside(root) if new else None
    capacity = Capacity(limits.stored_resources, limits.stored_resource_bytes)
    store = SqliteStore.open(root, scenario=loaded.name, fhir_capacity=capacity)
    hospital = LiveHospital(
        loaded, profiles=profiles, store=store, log=log,
        instances=disk_instances(root, limits=limits),
    )  # PACS instances kept in root, within the limits' bounds
    identity = store.identity
    if hospital.continued:
        ca = hospital.ca
        message = (
            f"continuing hospital {identity['id']} (scenario {loaded.name!r}, created "
            f"{identity['created']}): {len(hospital.inventory)} devices, "
            f"{len(ca.records)} certificates, {len(ca.revocations)} revocations"
        )
    else:
        message = f"a new hospital {identity['id']} (scenario {loaded.name!r}) in {root}"
        if aside is not None:
            message += f"; the earlier one is set aside in {aside}"
    return Opened(hospital, store, message)
