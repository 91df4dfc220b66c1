"""The FHIR suite (issue 15): what the device writes, and that it is never lost or doubled.

The instances are SMART ones (:func:`~testbed.certify.smart_suite.smart_instance`).
Verdicts rest on the EHR's own audit events: ``ehr-write`` (status, ``created``,
reason: the EHR validates each resource, checks its patient is in context at the
device's Location and binds it to the Encounter), ``ehr-read`` and ``ehr-write``
refusals (401 ``token-inactive`` or ``token-key-unknown`` during an IdP key rotation)
and the access point's ``access-decision`` (``device-suspended``: the FHIR API answers
403; ``service-unavailable`` while the EHR is down).
"""

from __future__ import annotations

import time

from testbed.certify.adapter import Action
from testbed.certify.checks import Check, CheckRun, Finding, NotMet, failed, passed
from testbed.certify.evidence import EventRef, Mark
from testbed.certify.session import Instance
from testbed.certify.smart_suite import (
    observation_request,
    smart_instance,
    token_lifetime,
    uses_ehr,
)
from testbed.certify.steps import Enrolled, did, status

__all__ = ["CHECKS", "SUITE"]

SUITE = "fhir"
EHR_OUTAGE = "/faults/ehr-outage"
IDP_OUTAGE = "/faults/idp-outage"
KEY_ROTATION = "/faults/idp-key-rotation"


def _writes(run: CheckRun, mark: Mark, device: str) -> tuple[list[EventRef], list[EventRef]]:
    """The Observations the EHR created for ``device`` since ``mark``, and its refusals."""
    events = run.events(mark, kind="ehr-write", subject=device)
    created = [e for e in events if e.data.get("allowed") and e.data.get("created")
               and e.data.get("resource_type") == "Observation"]  # fmt: skip
    refused = [e for e in events if not e.data.get("allowed")]
    return created, refused


def resources(run: CheckRun) -> Finding:
    """FHIR-01: the Observation validates and is written for the patient in context at
    the device's Location, bound to the Encounter (the EHR refuses it otherwise)."""
    first = smart_instance(run, "resources")
    if not isinstance(first, Enrolled):
        return first
    device = first.instance.device_id
    mark = run.mark()
    sent = run.call(first.instance, Action.SEND_OBSERVATION,
                    **observation_request(run.session, first.instance))  # fmt: skip
    created, refused = _writes(run, mark, device)
    if refused:
        reasons = sorted({str(e.data.get("reason")) for e in refused})
        return failed(f"the EHR refused {len(refused)} write(s) of the device: {reasons}")
    did(sent, "send-observation")
    if len(created) != 1:
        return failed(f"one send-observation created {len(created)} Observation(s)")
    ident = (sent.response or {}).get("id")
    return passed(f"Observation/{created[0].data.get('id')} created (answered id {ident!r}): "
                  "valid, for the patient in context at its Location, bound to the "
                  "Encounter")  # fmt: skip


def _answered(run: CheckRun, mark: Mark, device: str, status: int) -> list[EventRef]:
    """The device's FHIR requests (reads and writes) the EHR answered ``status`` since
    ``mark``."""
    return [e for kind in ("ehr-read", "ehr-write")
            for e in run.events(mark, kind=kind, subject=device)
            if e.data.get("status") == status]  # fmt: skip


def _kept(run: CheckRun, instance: Instance, what: str) -> Finding | None:
    """Failed unless the refused Observation stays queued."""
    held = status(run, instance)
    if not isinstance(held.get("queued"), int) or held["queued"] < 1:
        return failed(f"{what} the device did not keep the Observation (status.queued "
                      f"{held.get('queued')}): data lost")  # fmt: skip
    return None


def _once(run: CheckRun, marks: tuple[Mark, Mark], device: str, sent: int,
          what: str) -> Finding | None:  # fmt: skip
    """Failed unless exactly ``sent`` Observations were created since the first mark
    (the evidence: those created since the second, the phase's)."""
    since, phase = marks
    run.events(phase, kind="ehr-write", subject=device)
    created = [e for e in run.session.trail.since(since, kind="ehr-write", subject=device)
               if e.data.get("allowed") and e.data.get("created")
               and e.data.get("resource_type") == "Observation"]  # fmt: skip
    if len(created) > sent:
        return failed(f"duplicate: {sent} Observations sent, {len(created)} created {what} "
                      "(a resend without If-None-Exist)")  # fmt: skip
    if len(created) < sent:
        return failed(f"{len(created)} of the {sent} Observations reached the EHR {what}: "
                      "data lost")  # fmt: skip
    return None


def _token_refused(run: CheckRun, instance: Instance, mark: Mark) -> Finding | None:
    """The 401 phase: the IdP rotates its signing key with no overlap while the EHR's
    copy of its JWKS is stale, so the token the device holds is inactive and a new one
    unknown to the EHR: both answered 401 ``invalid_token``; after the heal only a new
    token verifies."""
    session, device = run.session, instance.device_id
    phase = run.mark()
    session.faults.begin(KEY_ROTATION)
    run.note("IdP key rotation without overlap started, the EHR's copy of the IdP's JWKS "
             "held stale (admin API): the token the device holds is inactive")  # fmt: skip
    during = run.call(instance, Action.SEND_OBSERVATION, **observation_request(session, instance))
    run.events(phase, kind="fault-started")
    run.events(phase, kind="idp-key-rotated")
    if during.succeeded:
        return failed("with its token inactive (401 invalid_token) the device reported the "
                      "Observation delivered")  # fmt: skip
    if not _answered(run, phase, device, 401):
        raise NotMet("with its token inactive the device did not try the EHR")
    kept = _kept(run, instance, "refused 401 invalid_token,")
    if kept is not None:
        return kept
    healed = run.mark()
    session.faults.end(KEY_ROTATION)
    run.events(healed, kind="fault-healed")
    did(run.call(instance, Action.FLUSH), "flush after the IdP key rotation healed (a token "
        "signed with the retired key stays invalid: on 401 the device drops it)")  # fmt: skip
    run.events(phase, kind="token-granted", subject=device)
    return _once(run, (mark, healed), device, 2, "after the key rotation healed")


def _forbidden(run: CheckRun, instance: Instance, mark: Mark) -> Finding | None:
    """The 403 phase: the operator suspends the device (an incident): the FHIR API
    refuses it 403 (``device-suspended``) and the IdP grants it no token, until it is
    resumed."""
    hospital, device = run.session.hospital, instance.device_id
    for step in ("validate", "promote"):  # only a device in production can be suspended
        hospital.admin(f"/devices/{device}/{step}")
    phase = run.mark()
    hospital.admin(f"/devices/{device}/suspend")
    run.note("device suspended (admin API): the FHIR API answers it 403, the IdP refuses "
             "it a token")  # fmt: skip
    try:
        during = run.call(instance, Action.SEND_OBSERVATION,
                          **observation_request(run.session, instance))  # fmt: skip
        refused = [e for kind in ("access-decision", "token-refused")
                   for e in run.events(phase, kind=kind, subject=device)
                   if not e.data.get("allowed")]  # fmt: skip
        if during.succeeded:
            return failed("suspended (403) the device reported the Observation delivered")
        if not refused:
            raise NotMet("suspended, the device did not try the EHR")
        kept = _kept(run, instance, "refused 403 (suspended),")
    finally:
        hospital.admin(f"/devices/{device}/resume")
    resumed = run.mark()
    run.events(phase, kind="device-transition", subject=device)
    if kept is not None:
        return kept
    did(run.call(instance, Action.FLUSH), "flush after the device was resumed")
    return _once(run, (mark, resumed), device, 3, "after the device was resumed")


def kept_and_delivered(run: CheckRun) -> Finding:
    """FHIR-02: refused 401 (its token inactive after an IdP key rotation), 403 (the
    device suspended), 503 (an EHR outage, then the IdP's, its token expired meanwhile),
    the device keeps each Observation and delivers it once the fault heals, with no
    duplicate."""
    first = smart_instance(run, "ehr-outage")
    if not isinstance(first, Enrolled):
        return first
    instance, session = first.instance, run.session
    device = instance.device_id
    request = observation_request(session, instance)
    mark = run.mark()
    did(run.call(instance, Action.SEND_OBSERVATION, **request), "send-observation, EHR up")
    run.events(mark, kind="ehr-write", subject=device)
    for phase in (_token_refused, _forbidden):
        found = phase(run, instance, mark)
        if found is not None:
            return found
    outage = run.mark()
    session.faults.begin(EHR_OUTAGE)
    run.note("EHR outage started (admin API)")
    during = run.call(instance, Action.SEND_OBSERVATION, **request)
    run.events(outage, kind="fault-started")
    down = [e for e in run.events(outage, kind="access-decision", subject=device)
            if e.data.get("reason") == "service-unavailable"]  # fmt: skip
    if during.succeeded:
        return failed("during the EHR outage the device reported the Observation delivered")
    if not down:
        raise NotMet("during the EHR outage the device did not try the EHR")
    held = status(run, instance)
    if not isinstance(held.get("queued"), int) or held["queued"] < 1:
        return failed(f"the refused Observation is not kept (status.queued "
                      f"{held.get('queued')}): data lost")  # fmt: skip
    wait = token_lifetime(session) + 1.0
    run.note(f"the outage lasts {wait:.0f} s: the device's access token expires meanwhile")
    time.sleep(wait)
    healed = run.mark()
    session.faults.end(EHR_OUTAGE)
    session.faults.begin(IDP_OUTAGE)
    run.note("EHR outage healed; identity provider outage started (admin API)")
    no_token = run.call(instance, Action.FLUSH)
    session.hospital.admin("/audit/flush")  # refusals naming no client are tallied
    run.events(healed, kind="token-refused")
    if no_token.succeeded and (no_token.response or {}).get("delivered"):
        return failed("with the identity provider down (its token expired) the device "
                      "reported the Observation delivered")  # fmt: skip
    kept = status(run, instance)
    if not isinstance(kept.get("queued"), int) or kept["queued"] < 1:
        return failed(f"refused a token (503), the device did not keep the Observation "
                      f"(status.queued {kept.get('queued')}): data lost")  # fmt: skip
    session.faults.end(IDP_OUTAGE)
    run.events(healed, kind="fault-healed")
    did(run.call(instance, Action.FLUSH), "flush after the EHR and IdP outages healed")
    after = status(run, instance)
    lost_or_doubled = _once(run, (mark, healed), device, 4,
                            "after the EHR and IdP outages healed")  # fmt: skip
    if lost_or_doubled is not None:
        return lost_or_doubled
    if after.get("queued") != 0:
        return failed(f"after the flush status.queued is {after.get('queued')}, not 0")
    return passed("refused 401 invalid_token (an IdP key rotation: its token inactive), 403 "
                  "(suspended), 503 (an EHR outage) and without a token during an IdP "
                  "outage, the device kept each Observation and delivered it by flush after "
                  "each heal (with a new token after the 401): all four created once")  # fmt: skip


CHECKS: tuple[Check, ...] = (
    Check("FHIR-01", "Resources validate and respect patient context and encounter binding",
          SUITE, ("FHIR R4 Observation", "SMART App Launch 2.2 §Backend Services",
                  "seed §5"),
          "An instance sends one Observation (send-observation). Pass: the EHR created "
          "exactly one Observation (ehr-write 201) and refused none of the device's "
          "requests: it validates the resource, requires its patient to be in an "
          "in-progress Encounter at the device's Location and the encounter to be that "
          "one.", resources, uses_ehr),
    Check("FHIR-02", "On 401, 403 or 5xx the data is kept and delivered once after the heal",
          SUITE, ("FHIR R4 §3.1.0.8.1 conditional create (If-None-Exist)", "seed §6",
                  "RFC 6750 §3.1 (401 invalid_token)", "RFC 9110 §15.5.4 (403)",
                  "RFC 9110 §15.6.4 (503)"),
          "An Observation is sent with the EHR up; then three faults, each healed before "
          "the next, each with one more Observation the device must not report delivered "
          "and must keep (status.queued >= 1) and flush must deliver after the heal: 401 "
          "(idp-key-rotation: the IdP signs with a new key, the old one gone at once, the "
          "EHR's copy of its JWKS stale, so the token the device holds is inactive and a "
          "new one unknown: 401 invalid_token; after the heal only a new token verifies), "
          "403 (the operator suspends the device: the FHIR API answers 403, the IdP grants "
          "no token; then resumes it) and 503 (ehr-outage: 503 with Retry-After; the outage "
          "outlasts the access token and at its heal the identity provider goes down, "
          "idp-outage: the token endpoint answers 503, and flush must not deliver). Pass: "
          "after each heal the EHR created exactly one Observation per one sent (none "
          "twice) and at the end nothing stays queued.", kept_and_delivered, uses_ehr),
)  # fmt: skip
