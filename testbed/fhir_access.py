"""The one path of a FHIR request and of a token request, for both transports (issue 11 point 5).

A FHIR request, in order, each hop refusing with its own reason:

    network + TLS (the access point's hops for the EHR service: NAC and zone policy
    from the attempt's source, chain, revocation and site trust of its certificate,
    the certificate's binding to the device, intended services, the service up)
    -> token (:class:`~testbed.smart.verifier.TokenVerifier`: signature, expiry,
    audience, active at introspection, ``cnf`` bound to the presented certificate)
    -> scope -> patient context -> validation -> store -> Provenance + AuditEvent
    (:meth:`~testbed.ehr.ehr.Ehr.handle`, from the token hop on)

The access point writes its ``access-decision`` event (and notifies the metrics and
the oracle) for the network and TLS part; the EHR writes one ``ehr-write`` /
``ehr-read`` event for the rest, including a refused token.  A request refused below
the EHR never reaches it: the answer is a :class:`FhirAnswer` without a response,
carrying the access decision.

A token request (:func:`request_token`) passes the same network and TLS hops for the
IdP's own service name first when the hospital models one; the certificate's
thumbprint goes to the IdP only when the TLS hop accepted the certificate as the
device's (RFC 8705: a token is bound only to a certificate the server verified).

Live mode calls :func:`fhir_request` with the attempt its TLS listener built (peer
address placed in a zone, the client certificate), the bearer token from the
``Authorization`` header, the parsed :class:`~testbed.ehr.messages.FhirRequest`
(with any token check: it is replaced here) and the wall-clock time; the simulation
calls it with its own attempt and the time of the delivery.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from testbed.access import Attempt
from testbed.decisions import Decision, Hop, Reason
from testbed.ehr.authorization import TokenCheck as EhrTokenCheck
from testbed.ehr.messages import FhirRequest, FhirResponse
from testbed.events import UNAUTHENTICATED, EventKind
from testbed.pki.fidelity import LeafCertificate
from testbed.smart.idp import CLAIMED_CHARACTERS, TokenRequest, TokenResponse
from testbed.smart.scopes import format_scopes
from testbed.smart.verifier import TokenCheck
from testbed.standing import Standing

if TYPE_CHECKING:
    from testbed.hospital import Hospital

__all__ = [
    "FhirAnswer",
    "TokenAnswer",
    "certificate_thumbprint",
    "ehr_token_check",
    "fhir_request",
    "request_token",
    "tls_accepts",
]


def certificate_thumbprint(certificate: LeafCertificate | None) -> str | None:
    """RFC 8705 ``x5t#S256`` of a certificate: base64url (no padding) of the SHA-256 of
    its DER.  A modeled certificate (no DER) gets the same kind of value over the
    facts that name it (issuer and serial), so binding decides the same."""
    if certificate is None:
        return None
    if isinstance(certificate, x509.Certificate):
        digest = hashlib.sha256(certificate.public_bytes(Encoding.DER)).digest()
    else:
        name = f"modeled:{certificate.issuer}:{certificate.serial_number:x}"
        digest = hashlib.sha256(name.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def ehr_token_check(check: TokenCheck) -> EhrTokenCheck:
    """The verifier's verdict as the EHR reads it (client id, scopes as text)."""
    if not check.allowed:
        return EhrTokenCheck(False, check.reason, check.client_id or "")
    scopes = tuple(format_scopes(check.scopes).split()) if check.scopes else ()
    return EhrTokenCheck(True, Reason.OK, check.client_id or "", scopes)


@dataclass(frozen=True, slots=True)
class FhirAnswer:
    """How a FHIR request ended: refused below the EHR (``response`` None: the access
    decision says why), or the EHR's answer (``token`` says what the token hop saw)."""

    access: Decision
    token: TokenCheck | None = None
    response: FhirResponse | None = None

    @property
    def status(self) -> int | None:
        """The HTTP status the EHR answered, None when refused below it."""
        return None if self.response is None else self.response.status

    @property
    def reason(self) -> Reason:
        """Why it was refused (``ok`` when the EHR accepted it)."""
        if self.response is None or self.token is None:
            return self.access.reason
        if not self.token.allowed:
            return self.token.reason
        return self.response.reason


def fhir_request(
    hospital: Hospital,
    attempt: Attempt,
    bearer: str | None,
    request: FhirRequest,
    now: datetime,
    *,
    standing: Standing | None = None,
) -> FhirAnswer:
    """One FHIR request through the whole path (see the module).

    ``attempt``: who (the device the TLS hop must bind the certificate to), which EHR
    service, from where, with which certificate; ``bearer``: the access token as
    presented (None: none); ``request``: the parsed request (its ``token`` and
    ``device_id`` are set here from the checks); ``standing``: the simulation's
    standing allowance for the certificate part (:mod:`testbed.standing`).
    """
    clinical = hospital.clinical
    if clinical is None:
        raise ValueError("this hospital has no EHR: its scenario has no 'ehr' block")
    decision = hospital.access.decide(attempt, now=now, standing=standing)
    if not decision.allowed:
        return FhirAnswer(decision)
    check = clinical.verifier.verify(
        bearer, now=now, certificate_thumbprint=certificate_thumbprint(attempt.certificate)
    )
    checked = replace(request, token=ehr_token_check(check), device_id=attempt.device_id)
    response = clinical.ehrs[attempt.service].handle(checked, now)
    if checked.method == "POST":
        if response.status < 400:
            clinical.measures.writes_accepted += 1
        else:
            clinical.measures.writes_refused[response.reason.value] += 1
    clinical.oracle.judge(attempt, check, checked, response, now)
    return FhirAnswer(decision, check, response)


def tls_accepts(hospital: Hospital, attempt: Attempt, now: datetime) -> bool:
    """Whether the registration and TLS hops of the attempt's service accept its
    certificate as the device's now (no event: what a token endpoint's TLS listener
    checks before it passes the certificate's thumbprint on)."""
    if attempt.certificate is None:
        return False
    access = hospital.access
    context = access.context(attempt, now=now)
    kind = hospital.system.service(attempt.service).kind
    return all(
        hop.check(context) is None
        for hop in access.chains[kind]
        if hop.hop in (Hop.REGISTRATION, Hop.TLS)
    )


@dataclass(frozen=True, slots=True)
class TokenAnswer:
    """How a token request ended: the IdP's answer (None when the IdP is down)."""

    response: TokenResponse | None
    reason: Reason

    @property
    def granted(self) -> bool:
        """Whether a token was issued."""
        return self.response is not None and self.response.granted


def request_token(
    hospital: Hospital,
    form: Mapping[str, str] | Iterable[tuple[str, str]],
    *,
    now: datetime,
    certificate: LeafCertificate | None = None,
    certificate_accepted: bool = False,
    authorization: str | None = None,
) -> TokenAnswer:
    """One token request to the hospital's IdP.

    ``certificate_accepted``: the transport's TLS hop accepted ``certificate`` as the
    requesting device's (only then is its thumbprint passed, so the token can be
    bound to it).  An IdP that is down (``clinical.idp_down``) answers nothing:
    ``service-unavailable``, counted and audited as a ``token-refused`` event (the
    transport answers 503).
    """
    clinical = hospital.clinical
    if clinical is None:
        raise ValueError("this hospital has no identity provider: no 'ehr' block")
    if clinical.idp_down:  # refused before the IdP: audited here, for both transports
        reason = Reason.SERVICE_UNAVAILABLE
        clinical.measures.tokens_refused[reason.value] += 1
        claimed = dict(form).get("client_id", "")[:CLAIMED_CHARACTERS]
        hospital.log.emit(now, EventKind.TOKEN_REFUSED, UNAUTHENTICATED, client_id=claimed,
                          authenticated=False, error="temporarily_unavailable",
                          reason=reason.value, status=503,
                          detail="the identity provider is down")  # fmt: skip
        return TokenAnswer(None, reason)
    thumbprint = certificate_thumbprint(certificate) if certificate_accepted else None
    request = TokenRequest.of(
        form, token_url=clinical.urls.token_url, authorization=authorization,
        certificate_thumbprint=thumbprint,
    )  # fmt: skip
    response = clinical.idp.token(request, now=now)
    if response.granted:
        clinical.measures.tokens_granted += 1
    else:
        clinical.measures.tokens_refused[response.reason.value] += 1
    return TokenAnswer(response, response.reason)
