"""Incidents as a list: which device, which playbook category, opened and closed when.

The measures count incidents (:class:`~testbed.metrics.Availability`: one per category
of refusal seen in one outage of a device).  A person reading a run wants them one by
one: device, service, category, the reason that opened it, when it opened and closed,
and the playbook's first step (seed §8: is the certificate invalid, is the device out
of network scope, has the token expired, has the endpoint changed?).  An
:class:`IncidentJournal` given to each device's ``Availability`` records them as they
open and close, in the simulation and when a report folds a log alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType

from testbed.diagnosis import IncidentCategory

__all__ = ["PLAYBOOK", "Incident", "IncidentJournal"]

C = IncidentCategory

PLAYBOOK = MappingProxyType({
    C.CERTIFICATE_INVALID: "Is the certificate invalid? Check the presented certificate's "
    "validity, its chain to the site's trust bundle and its revocation status; renew or "
    "re-bootstrap the device, never hand it a shared credential.",
    C.OUT_OF_NETWORK_SCOPE: "Is the device out of network scope? Check its zone's route to "
    "the service and the NAC; restore the change-controlled rule, not a temporary open one.",
    C.TOKEN_EXPIRED: "Has the EHR token expired? Check the device's clock, the token's "
    "expiry and the identity provider; the device must ask for a new token.",
    C.ENDPOINT_CHANGED: "Is the device's calling AE title on the PACS allow-list? Check "
    "the allow-list of the PACS that refused it against the device's registered AE title "
    "(whitelisted at one site, not at the other).",
    C.DICOM_ENDPOINT_CHANGED: "Has the DICOM endpoint changed? Check the PACS's host, port "
    "and called AE title against what the device was given, and distribute the change.",
    C.SERVICE_UNAVAILABLE: "Is the service or the CA down? Check the service's health and "
    "the outage; store-and-forward devices hold their data until it returns.",
    C.DEVICE_NOT_AUTHORIZED: "Is the device registered and active? Check its inventory "
    "state (suspended, retired, not registered) and the approval it is waiting for.",
    C.PATIENT_CONTEXT: "Is the patient where the device is? Check the EHR's encounter and "
    "location for the patient; the EHR is authoritative for patient context.",
    C.DATA_REJECTED: "Is the data valid? Check the resource or dataset the service refused "
    "(its OperationOutcome or DICOM status) and the device's software or mapping.",
})  # fmt: skip
"""The playbook's first step for each category (seed §8)."""


@dataclass(slots=True)
class Incident:
    """One incident: a category of refusal in one outage of one device.

    ``closed`` is when the outage ended (a delivery succeeded with nothing else down,
    or the device left service); None while it is open.  ``open_at_end``: it was still
    open when the run's closing checks ran (``closed`` is then that moment).
    """

    device: str
    service: str
    category: IncidentCategory
    reason: str
    opened: datetime
    closed: datetime | None = None
    open_at_end: bool = False

    @property
    def playbook(self) -> str:
        """The playbook's first step for this incident's category."""
        return PLAYBOOK[self.category]

    def minutes(self) -> float | None:
        """How long it was open, in minutes (None while open)."""
        if self.closed is None:
            return None
        return (self.closed - self.opened).total_seconds() / 60


class IncidentJournal:
    """Every incident of a run, in the order they opened."""

    __slots__ = ("_open", "incidents")

    def __init__(self) -> None:
        self.incidents: list[Incident] = []
        self._open: dict[str, list[Incident]] = {}

    def opened(
        self, device: str, service: str, category: IncidentCategory, reason: str,
        now: datetime,
    ) -> None:  # fmt: skip
        """A device's outage opened an incident of ``category``."""
        incident = Incident(device, service, category, reason, now)
        self.incidents.append(incident)
        self._open.setdefault(device, []).append(incident)

    def closed(self, device: str, now: datetime, *, at_end: bool = False) -> None:
        """A device's outage ended ``now``: its open incidents close."""
        for incident in self._open.pop(device, ()):
            incident.closed = now
            incident.open_at_end = at_end

    def __len__(self) -> int:
        return len(self.incidents)
