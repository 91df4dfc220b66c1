"""A simulated device's FHIR deliveries: its SMART session and its creates (issue 11 point 6).

A device whose profile uses the EHR gets an :class:`EhrSession` when it is registered:
its client credentials (a P-384 key whose public JWK Set it registered, or its
department's shared secret), the patient it writes for (one whose in-progress
Encounter is at the device's location then), and its cached access token.

Each turn of the device's delivery loop (:mod:`testbed.sim.traffic`) hands the items it
holds for its EHR to :meth:`EhrDelivery.deliver`, which sends them in order, one FHIR
create each, through the hospital's one path (:func:`~testbed.fhir_access.fhir_request`):

- a token on demand: the cached one while the device's clock says it is more than
  ``ehr.token_refresh_margin`` from its ``exp``, else a new one from the IdP (no timer
  event per refresh); a refused or unanswered token request ends the turn;
- each item a create (``Observation``; ``DiagnosticReport`` for a profile that may
  create those, the imaging AI) with ``If-None-Exist: identifier=<device system>|<n>``,
  so a retry after a lost answer finds the stored item (200) instead of storing it
  twice;
- the answer decides: 201/200 delivered; 401 the token is dropped (a new one next
  try) and the item held; any other refusal, or an answer lost, the item held (store
  and forward: beyond the device's capacity it is lost).  Content refusals (400, 404,
  412, 422) are held too: the device cannot fix them, they show as data held at the
  end.

One ``fhir-delivery`` event per turn says what happened (items delivered, held, the
first refusal's reason, and how long the token obtained in this turn was waited for).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from joserfc.jwk import ECKey

from testbed.access import Attempt, Purpose
from testbed.clinical import Clinical, SmartEnrollment
from testbed.clock import isoformat
from testbed.decisions import Reason
from testbed.ehr.authorization import TokenCheck
from testbed.ehr.messages import FHIR_JSON, FhirRequest
from testbed.events import EventKind, EventLog
from testbed.fhir_access import certificate_thumbprint, fhir_request, request_token, tls_accepts
from testbed.smart.client import (
    basic_authorization,
    client_assertion,
    client_key,
    credentials_form,
)
from testbed.smart.settings import ClientAuth
from testbed.standing import Standing

if TYPE_CHECKING:
    from testbed.hospital import Hospital
    from testbed.sim.agent import DeviceAgent

__all__ = ["ITEM_SYSTEM", "EhrDelivery", "EhrSession", "enroll_session", "session_key"]

ITEM_SYSTEM = "urn:testbed:item:"
"""The identifier system of a device's items: this prefix and the device id."""

_UNCHECKED = TokenCheck(False, Reason.TOKEN_INVALID)  # replaced on the path
_LOINC = "http://loinc.org"


@dataclass(slots=True, eq=False)
class EhrSession:
    """What a device holds for the EHR (see the module)."""

    service: str
    client_id: str
    resource: str  # the resource type it creates
    scope: str  # what it asks for
    location: str  # Location id where it is placed
    patient: str
    encounter: str
    key: ECKey | None = None
    secret: str | None = None
    token: str | None = None
    expires: datetime | None = None  # the token's exp (absolute, as the claim says)
    #: the certificate the token was asked for with (a new certificate: a new token,
    #: since a certificate-bound token is good only with its own)
    certificate: object | None = None
    needed_since: datetime | None = None  # a token was needed and not yet granted
    sent: int = 0  # items stored (the next item is sent + 1)
    jti: int = 0
    #: how far the device's token clock is off true time (the token-expired fault)
    token_skew: timedelta = timedelta(0)
    #: the scopes an updated firmware asks for instead (the scope-drift fault)
    drifted_scope: str | None = None
    #: someone else holds the credential (the client-credential-leaked fault), nested
    leaked: int = 0

    @property
    def system(self) -> str:
        """The identifier system of this device's items."""
        return ITEM_SYSTEM + self.client_id


def enroll_session(
    hospital: Hospital, agent: DeviceAgent, enrollment: SmartEnrollment, key: ECKey | None
) -> EhrSession:
    """The device's session after registration: the patient it writes for is the next
    one at its location, round robin among the devices placed there."""
    clinical = _clinical(hospital)
    now = hospital.now()
    location = enrollment.location.partition("/")[2]
    site = agent.record.site
    patients = clinical.patients_at(enrollment.service, site, location, now)
    index = sum(1 for e in clinical.enrollments.values() if e.location == enrollment.location)
    patient = patients[(index - 1) % len(patients)] if patients else ""
    encounter = clinical.encounter_of(enrollment.service, patient, location, now) if patient else ""
    resource = "DiagnosticReport" if "system/DiagnosticReport.c" in enrollment.scopes else (
        "Observation"
    )
    return EhrSession(
        service=enrollment.service, client_id=enrollment.client_id, resource=resource,
        scope=f"system/{resource}.c", location=location, patient=patient,
        encounter=encounter, key=key, secret=enrollment.secret,
    )  # fmt: skip


def session_key(seed: int, device_id: str) -> ECKey:
    """The device's SMART client key, from a generator of its own (not the run's)."""
    return client_key(random.Random(f"{seed}:smart-key:{device_id}").getrandbits(384))


def _clinical(hospital: Hospital) -> Clinical:
    clinical = hospital.clinical
    if clinical is None:
        raise ValueError("this hospital has no EHR: its scenario has no 'ehr' block")
    return clinical


@dataclass(slots=True)
class EhrDelivery:
    """Delivers devices' items to the EHR (see the module); one per run."""

    hospital: Hospital
    log: EventLog
    #: EHR services whose answers are lost now (the ehr-outage fault's first phase)
    answers_lost: set[str] = field(default_factory=set)

    @property
    def clinical(self) -> Clinical:
        """The hospital's IdP and EHRs."""
        return _clinical(self.hospital)

    def deliver(
        self, agent: DeviceAgent, attempt: Attempt, standing: Standing | None, now: datetime
    ) -> tuple[int, Reason]:
        """Send what the device holds for its EHR, in order (see the module): how many
        items were delivered, and why the turn stopped (``ok``: all of them).  Writes
        the turn's ``fhir-delivery`` event; the caller keeps or loses the rest."""
        session = agent.ehr
        assert session is not None
        service = attempt.service
        held = agent.buffers[service]
        delivered, reason, waited = 0, Reason.OK, None
        while delivered < held:
            token, reason, wait = self._token(agent, session, attempt, now)
            waited = wait if wait is not None else waited
            if token is None:
                break
            reason = self._create(agent, session, attempt, token, standing, now)
            if reason is not Reason.OK:
                break
            delivered += 1
            session.sent += 1
        data: dict[str, str | int | float] = {
            "service": service, "delivered": delivered, "held": held - delivered,
            "reason": reason.value,
        }  # fmt: skip
        if waited is not None:
            data["token_wait_s"] = waited
        self.log.emit(now, EventKind.FHIR_DELIVERY, agent.device_id, **data)
        return delivered, reason

    def recovers(self, agent: DeviceAgent, now: datetime) -> bool:
        """The closing recovery check's EHR part: the device gets a new token now and
        the EHR's token check accepts it with the device's certificate."""
        session = agent.ehr
        assert session is not None
        record = agent.record
        attempt = Attempt(agent.device_id, session.service, agent.certificate,
                          (record.site, record.zone), Purpose.RECOVERY_CHECK)  # fmt: skip
        form, authorization = self._credentials(session, now)
        answer = request_token(
            self.hospital, form, now=now, certificate=agent.certificate,
            certificate_accepted=tls_accepts(self.hospital, attempt, now),
            authorization=authorization,
        )  # fmt: skip
        if answer.response is None or not answer.granted:
            return False
        token = str(answer.response.body["access_token"])
        thumbprint = certificate_thumbprint(agent.certificate)
        return self.clinical.verifier.verify(
            token, now=now, certificate_thumbprint=thumbprint
        ).allowed

    # -- the token ------------------------------------------------------------------

    def _token(
        self, agent: DeviceAgent, session: EhrSession, attempt: Attempt, now: datetime
    ) -> tuple[str | None, Reason, float | None]:
        """The token to present: cached, or new; else why not.  Also how long a new
        token was waited for."""
        margin = self.clinical.settings.token_refresh_margin
        expires = session.expires
        fresh = expires is not None and now + session.token_skew < expires - margin
        if session.token is not None and fresh and session.certificate is agent.certificate:
            return session.token, Reason.OK, None
        session.token = session.expires = None
        if session.needed_since is None:
            session.needed_since = now
        form, authorization = self._credentials(session, now)
        accepted = tls_accepts(self.hospital, attempt, now)
        answer = request_token(
            self.hospital, form, now=now, certificate=agent.certificate,
            certificate_accepted=accepted, authorization=authorization,
        )  # fmt: skip
        if session.leaked:
            self._impostor(session, form, authorization, now)
        response = answer.response
        if response is None or not response.granted:
            return None, answer.reason, None
        session.token = str(response.body["access_token"])
        session.certificate = agent.certificate
        session.expires = now + timedelta(seconds=int(str(response.body["expires_in"])))
        wait = (now - session.needed_since).total_seconds()
        session.needed_since = None
        self.clinical.measures.token_waits.append(wait)
        return session.token, Reason.OK, wait

    def _credentials(self, session: EhrSession, now: datetime) -> tuple[dict[str, str], str | None]:
        scope = session.drifted_scope or session.scope
        if self.clinical.client_auth is ClientAuth.CLIENT_SECRET_BASIC:
            assert session.secret is not None
            return credentials_form(None, scope), basic_authorization(
                session.client_id, session.secret
            )
        assert session.key is not None
        session.jti += 1
        assertion = client_assertion(
            session.key, client_id=session.client_id, token_url=self.clinical.urls.token_url,
            now=now, jti=f"{session.client_id}-{session.jti}", jose=self.clinical.jose,
        )  # fmt: skip
        return credentials_form(assertion, scope), None

    def _impostor(
        self, session: EhrSession, form: dict[str, str], authorization: str | None, now: datetime
    ) -> None:
        """Someone else sends the device's credential as it was sent (no certificate of
        the device: it has none); a grant goes to the oracle."""
        answer = request_token(self.hospital, form, now=now, authorization=authorization)
        if answer.granted:
            self.clinical.oracle.impostor_granted(session.client_id, session.client_id, now)

    # -- the create -----------------------------------------------------------------

    def _create(
        self,
        agent: DeviceAgent,
        session: EhrSession,
        attempt: Attempt,
        token: str,
        standing: Standing | None,
        now: datetime,
    ) -> Reason:
        item = session.sent + 1
        request = FhirRequest(
            "POST", session.resource, _UNCHECKED, agent.device_id,
            body=_body(session, item, now),
            headers=(("Content-Type", FHIR_JSON),
                     ("If-None-Exist", f"identifier={session.system}|{_item(session, item)}")),
        )  # fmt: skip
        answer = fhir_request(self.hospital, attempt, token, request, now, standing=standing)
        if answer.response is None:
            return answer.reason  # refused below the EHR: network, TLS, service down
        status = answer.response.status
        if status in (200, 201):
            if attempt.service in self.answers_lost:
                self.clinical.measures.answers_lost += 1
                return Reason.SERVICE_UNAVAILABLE  # stored, but the device never heard
            return Reason.OK
        if status == 401:
            session.token = session.expires = None
        return answer.reason


def _item(session: EhrSession, item: int) -> str:
    """The identifier value of the device's ``item``-th item (unique in the EHR)."""
    return f"{session.client_id}/{item}"


def _body(session: EhrSession, item: int, now: datetime) -> bytes:
    """The item as a FHIR resource (JSON)."""
    when = isoformat(now)
    resource: dict[str, object] = {
        "resourceType": session.resource,
        "identifier": [{"system": session.system, "value": _item(session, item)}],
        "status": "final",
        "code": {"coding": [{"system": _LOINC, "code": "8867-4" if session.resource ==
                             "Observation" else "18748-4"}]},
        "subject": {"reference": f"Patient/{session.patient}"},
        "encounter": {"reference": f"Encounter/{session.encounter}"},
        "effectiveDateTime": when,
    }  # fmt: skip
    if session.resource == "Observation":
        resource["valueQuantity"] = {
            "value": 60 + item % 40, "unit": "/min", "system": "http://unitsofmeasure.org",
            "code": "/min",
        }  # fmt: skip
    else:
        resource["issued"] = when
    return json.dumps(resource, separators=(",", ":")).encode()
