"""LIFE-01's data-keeping half: clinical data refused on a blocked route is kept and delivered.

The instance LIFE-01 works on holds clinical data of the kind its profile sends: a
study to the PACS of its site (``send-study``), else an Observation to the EHR
(``send-observation``, on an instance registered with the device's own SMART keys).
With the route from its zone to that service blocked (the seed's pre-production
test), the send must be refused and reported (``status.last_error``) and the data
kept (``status.queued``); after the heal ``flush`` must deliver it, as the PACS's
``dicom-store`` or the EHR's ``ehr-write`` shows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from testbed.certify.adapter import Action
from testbed.certify.checks import CheckRun, Finding, NotMet, failed
from testbed.certify.dicom_suite import pacs_for, sends_studies, stored_studies, study_request
from testbed.certify.evidence import Mark
from testbed.certify.session import uses_ehr
from testbed.certify.smart_suite import observation_request
from testbed.certify.steps import Enrolled, did, enrolled, smart_enrolled, status
from testbed.errors import Unsupported

__all__ = ["Payload", "data_kept", "fail_safe_instance"]

BLOCKED_ROUTE = "/faults/blocked-route"


@dataclass(frozen=True, slots=True)
class Payload:
    """What the instance sends, where, and how the kit sees it delivered."""

    what: str  # "study" or "Observation"
    service: str
    action: Action
    request: dict[str, Any]
    delivered: Callable[[CheckRun, Mark, str], bool]


def _observations_created(run: CheckRun, mark: Mark, device: str) -> bool:
    return any(e.data.get("created") for e in run.events(mark, kind="ehr-write", subject=device))


def _studies_stored(run: CheckRun, mark: Mark, device: str) -> bool:
    return bool(stored_studies(run, mark, device))


def fail_safe_instance(run: CheckRun, label: str) -> tuple[Enrolled, Payload | None]:
    """An enrolled instance for LIFE-01 and the data it sends (None: it sends none the
    kit can judge here, noted)."""
    session, profile = run.session, run.profile
    if sends_studies(profile):
        first = enrolled(run, label)
        if first.instance.ae_title is not None:
            pacs = pacs_for(session, first.instance)
            return first, Payload("study", pacs.service, Action.SEND_STUDY,
                                  study_request(session, first.instance, pacs),
                                  _studies_stored)  # fmt: skip
        return first, None
    services = dict(session.hospital.endpoints.get("fhir_by_service") or {})
    if uses_ehr(profile) and len(services) == 1:
        try:
            found = smart_enrolled(run, label)
        except Unsupported:
            run.note("the device gives no SMART keys: it sends no Observations")
            found = None
        if found is not None:
            return found, Payload("Observation", next(iter(services)), Action.SEND_OBSERVATION,
                                  observation_request(session, found.instance),
                                  _observations_created)  # fmt: skip
    return enrolled(run, label), None


def data_kept(run: CheckRun, first: Enrolled, payload: Payload | None) -> Finding | None:
    """The data-keeping half (see the module); None when it holds or cannot be judged."""
    if payload is None:
        run.note("data-keeping half not judged: the device sends no clinical data here")
        return None
    instance, session = first.instance, run.session
    route = {"zone": instance.zone, "service": payload.service, "site": instance.site}
    mark = run.mark()
    session.faults.begin(BLOCKED_ROUTE, **route)
    run.note(f"route {instance.zone}->{payload.service} blocked (admin API)")
    try:
        during = run.call(instance, payload.action, **payload.request)
    except Unsupported:
        session.faults.end(BLOCKED_ROUTE, **route)
        run.note(f"data-keeping half not judged: the device does not send a {payload.what}")
        return None
    run.events(mark, kind="fault-started")
    refused = [e for e in run.events(mark, subject=instance.device_id)
               if e.kind in ("dicom-association", "access-decision")
               and not e.data.get("allowed")]  # fmt: skip
    if during.succeeded:
        return failed(f"with the route to {payload.service} blocked the device reported the "
                      f"{payload.what} delivered")  # fmt: skip
    if not refused:
        raise NotMet(f"with the route blocked the device did not try {payload.service}")
    held = status(run, instance)
    if not held.get("last_error") or not held.get("queued"):
        return failed(f"a refused {payload.what} must be reported and kept: status.last_error "
                      f"{held.get('last_error')!r}, status.queued {held.get('queued')!r}")
    healed = run.mark()
    session.faults.end(BLOCKED_ROUTE, **route)
    run.events(healed, kind="fault-healed")
    did(run.call(instance, Action.FLUSH), "flush after the route was unblocked")
    if not payload.delivered(run, healed, instance.device_id):
        return failed(f"after the heal and flush the kept {payload.what} never reached "
                      f"{payload.service}")  # fmt: skip
    return None
