"""The identity provider and the EHR on loopback: one HTTPS listener for both.

Started by :class:`~testbed.live.server.LiveServer` when the scenario has an ``ehr:``
block (the hospital has a :class:`~testbed.clinical.Clinical`).  The listener, like
the services', asks for a client certificate without requiring one and lets OpenSSL
check only its chain (:func:`~testbed.live.server.tls_context`); the hospital's clock
and hops decide the rest.  Its routes:

- the IdP (:mod:`testbed.live.smart_app`): ``/auth/token``, ``/auth/jwks``,
  ``/auth/introspect``, and ``{fhir}/.well-known/smart-configuration``;
- the FHIR API (:mod:`testbed.live.fhir_app`) under ``/fhir/{service}`` for each EHR
  service (``fhir`` in ``endpoints.json`` is the first one's base).

Both call the hospital's one path (:mod:`testbed.fhir_access`):
:func:`~testbed.fhir_access.request_token` and :func:`~testbed.fhir_access.fhir_request`,
never hops of their own.  The IdP fetches JWKS URLs with
:class:`~testbed.live.jwks_fetch.HttpsFetcher`.  Once the socket listens, the
published URLs become the IdP's and the EHRs' names (issuer, token URL, audience,
FHIR bases): tokens name the port they were issued under, so fix ``--ehr-port`` when
tokens must stay valid across a restart.
"""

from __future__ import annotations

import ssl
from datetime import datetime
from types import MappingProxyType
from typing import TYPE_CHECKING

from aiohttp import web
from aiohttp.typedefs import Middleware
from cryptography import x509

from testbed.access import Attempt
from testbed.clinical import Clinical, SmartUrls
from testbed.decisions import Reason
from testbed.ehr.messages import FHIR_JSON, FhirRequest, FhirResponse, encode
from testbed.ehr.outcomes import IssueType
from testbed.fhir_access import fhir_request, request_token, tls_accepts
from testbed.live.fhir_app import FHIR_PATH, FhirEntry, FhirFace, add_fhir_routes
from testbed.live.jwks_fetch import HttpsFetcher, OffLoopFetcher
from testbed.live.smart_app import IdpUrls, SmartFace, TokenEntry, add_smart_routes
from testbed.live.zones import ZoneAddresses
from testbed.pki.keys import common_name
from testbed.smart.idp import TokenRequest, TokenResponse

if TYPE_CHECKING:
    from testbed.live.hospital import LiveHospital

__all__ = ["INTROSPECTION_SECRET", "ehr_app", "publish"]

INTROSPECTION_SECRET = "introspection.secret"
"""The file of the introspection endpoint's bearer secret in the state directory."""


def _token_entry(live: LiveHospital, zones: ZoneAddresses, service: str) -> TokenEntry:
    """The token requests' entry: the certificate's thumbprint is passed on only when
    the registration and TLS hops of ``service`` accept it as the device's its CN
    names (:func:`~testbed.fhir_access.tls_accepts`, RFC 8705 §3)."""

    def entry(request: TokenRequest, certificate: x509.Certificate | None, source: str | None,
              now: datetime) -> TokenResponse:  # fmt: skip
        accepted = False
        if certificate is not None:
            device = common_name(certificate.subject) or ""
            place = None if source is None else zones.source(source)
            accepted = tls_accepts(live.hospital, Attempt(device, service, certificate, place),
                                   now)  # fmt: skip
        answer = request_token(live.hospital, request.form, now=now, certificate=certificate,
                               certificate_accepted=accepted,
                               authorization=request.authorization)  # fmt: skip
        if answer.response is None:  # the IdP is down (an outage; audited): retry later
            body = MappingProxyType({"error": "temporarily_unavailable",
                                     "error_description": "the identity provider is down"})
            headers = (("Cache-Control", "no-store"), ("Retry-After", str(live.est.retry_after)))
            return TokenResponse(503, body, headers, answer.reason)
        return answer.response

    return entry


def _refused_below(reason: Reason, hop: str, detail: str, retry_after: int) -> FhirResponse:
    """The answer to a FHIR request the access point refused (network or TLS hop: 403;
    the EHR down, an ``ehr-outage``: 503 with ``Retry-After``)."""
    down = reason is Reason.SERVICE_UNAVAILABLE
    code = IssueType.TRANSIENT if down else IssueType.FORBIDDEN
    outcome = {"resourceType": "OperationOutcome", "issue": [{
        "severity": "error", "code": code.value,
        "diagnostics": f"refused at the {hop} hop ({reason.value}): {detail}"}]}  # fmt: skip
    if down:
        headers = (("Content-Type", FHIR_JSON), ("Retry-After", str(retry_after)))
        return FhirResponse(503, encode(outcome), headers)
    return FhirResponse(403, encode(outcome), (("Content-Type", FHIR_JSON),))


def _fhir_entry(live: LiveHospital) -> FhirEntry:
    def entry(attempt: Attempt, bearer: str | None, request: FhirRequest,
              now: datetime) -> FhirResponse:  # fmt: skip
        answer = fhir_request(live.hospital, attempt, bearer, request, now)
        if answer.response is None:
            access = answer.access
            return _refused_below(access.reason, access.hop.value, access.detail,
                                  live.est.retry_after)  # fmt: skip
        return answer.response

    return entry


def publish(clinical: Clinical, origin: str) -> SmartUrls:
    """Make the URLs at ``origin`` the IdP's and the EHRs' names (see the module)."""
    idp = IdpUrls.at(origin)
    fhir = origin + FHIR_PATH
    first = next(iter(clinical.ehrs))
    urls = SmartUrls(idp.issuer, idp.token, idp.jwks, f"{fhir}/{first}")
    clinical.urls = urls
    clinical.idp.issuer = clinical.verifier.issuer = urls.issuer
    clinical.idp.audience = clinical.verifier.audience = urls.fhir
    for name, ehr in clinical.ehrs.items():
        ehr.base = f"{fhir}/{name}"
    return urls


def ehr_app(
    live: LiveHospital,
    zones: ZoneAddresses,
    *,
    origin: str,
    introspection_secret: str,
    jwks_trust: ssl.SSLContext,
    middlewares: tuple[Middleware, ...] = (),
    client_max_size: int = 65536,
) -> tuple[web.Application, dict[str, object]]:
    """The IdP's and the EHRs' app at ``origin``, and their ``endpoints.json`` keys."""
    clinical = live.hospital.clinical
    if clinical is None:
        raise ValueError("this hospital has no EHR: its scenario has no 'ehr' block")
    fetcher = OffLoopFetcher(HttpsFetcher(jwks_trust))
    clinical.idp.jwks_cache.fetcher = fetcher
    urls = publish(clinical, origin)
    idp = IdpUrls.at(origin)
    transaction = live.hospital.store.transaction
    app = web.Application(middlewares=middlewares, client_max_size=client_max_size)
    entry = _token_entry(live, zones, next(iter(clinical.ehrs)))
    def jwks_due(request: TokenRequest, now: datetime) -> str | None:
        return None if clinical.idp_down else clinical.idp.jwks_due(request, now=now)

    smart = SmartFace(clinical.idp, idp, live.now, transaction, entry, introspection_secret,
                      fetcher, jwks_due)  # fmt: skip
    add_smart_routes(app, smart, fhir_path=FHIR_PATH + "/{service}")

    async def close_fetcher(_: web.Application) -> None:
        fetcher.close()

    app.on_cleanup.append(close_fetcher)
    add_fhir_routes(app, FhirFace(frozenset(clinical.ehrs), _fhir_entry(live), zones, live.now,
                                  transaction))  # fmt: skip
    endpoints: dict[str, object] = {
        "smart_configuration": f"{urls.fhir}/.well-known/smart-configuration",
        "token": idp.token, "jwks": idp.jwks, "introspect": idp.introspect, "fhir": urls.fhir,
        "fhir_by_service": {name: ehr.base for name, ehr in clinical.ehrs.items()},
    }  # fmt: skip
    return app, endpoints
