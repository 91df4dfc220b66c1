"""The EHR's FHIR API over HTTPS: each request translated to the hospital's one FHIR path.

``POST {base}/{Type}`` (create, ``If-None-Exist`` honoured), ``GET {base}/{Type}/{id}``
(read) and ``GET {base}/{Type}?params`` (search), where ``{base}`` is
``/fhir/{service}`` of an EHR service of the scenario.  The handler only translates:
the device is the one the client certificate names (its CN), the source is the zone
of the connection's address (:class:`~testbed.live.zones.ZoneAddresses`), the bearer
token is the ``Authorization`` header's, and the request (method, path under the base,
query pairs in order, body bytes, headers, peer) becomes a
:class:`~testbed.ehr.messages.FhirRequest`.  The hospital's :data:`FhirEntry` walks
the hops (network, TLS, token, scope, patient context, validation, store, Provenance
and AuditEvent) and its :class:`~testbed.ehr.messages.FhirResponse` is written back
unchanged: a 401 carries ``WWW-Authenticate: Bearer error="invalid_token"`` exactly as
the core says.  Each answer runs in one store transaction, so an accepted write is on
disk before its 201 leaves.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime

from aiohttp import hdrs, web
from cryptography import x509

from testbed.access import Attempt, Purpose
from testbed.decisions import Reason
from testbed.ehr.authorization import TokenCheck
from testbed.ehr.messages import FhirRequest, FhirResponse
from testbed.live.guard import audited
from testbed.live.peer import peer_address, peer_certificate
from testbed.live.zones import ZoneAddresses
from testbed.pki.keys import common_name

__all__ = ["FHIR_PATH", "NOT_CHECKED", "FhirEntry", "FhirFace", "add_fhir_routes", "bearer"]

FHIR_PATH = "/fhir"

FhirEntry = Callable[[Attempt, str | None, FhirRequest, datetime], FhirResponse]
"""The hospital's one path of a FHIR request: the attempt (device, service, client
certificate, source), the bearer token (None: none sent), the parsed request and the
time, to the EHR's answer."""

NOT_CHECKED = TokenCheck(False, Reason.TOKEN_INVALID)
"""The token verdict a parsed request carries until the FHIR path checks the token."""


@dataclass(frozen=True, slots=True)
class FhirFace:
    """What the FHIR routes need: the EHR services served, the hospital's FHIR path,
    the zones of source addresses, the clock and a store transaction."""

    services: frozenset[str]
    entry: FhirEntry
    zones: ZoneAddresses
    now: Callable[[], datetime]
    transaction: Callable[[], AbstractContextManager[None]]


_FACE: web.AppKey[FhirFace] = web.AppKey("fhir", FhirFace)


def bearer(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer`` header (RFC 6750 §2.1), else None."""
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def _transport_facts(request: web.Request) -> tuple[x509.Certificate | None, str]:
    return peer_certificate(request.transport), peer_address(request.transport) or ""


async def _interaction(request: web.Request) -> web.Response:
    face = request.app[_FACE]
    service = request.match_info["service"]
    if service not in face.services:
        return web.json_response({"error": f"no EHR service {service!r}; known: "
                                  f"{sorted(face.services)}"}, status=404)  # fmt: skip
    certificate, address = _transport_facts(request)
    device_id = (common_name(certificate.subject) or "") if certificate is not None else ""
    path = request.match_info["type"]
    if "id" in request.match_info:
        path += "/" + request.match_info["id"]
    parsed = FhirRequest(
        method=request.method, path=path, token=NOT_CHECKED, device_id=device_id,
        query=tuple(request.rel_url.query.items()), body=await request.read(),
        headers=tuple(request.headers.items()), peer=address,
    )  # fmt: skip
    attempt = Attempt(device_id, service, certificate, face.zones.source(address),
                      Purpose.FHIR_REQUEST)  # as the simulation's FHIR deliveries
    with face.transaction():
        answer = face.entry(attempt, bearer(request.headers.get(hdrs.AUTHORIZATION)), parsed,
                            face.now())  # fmt: skip
    audited(request)  # the access point or the EHR wrote the answer's event
    return web.Response(status=answer.status, body=answer.body, headers=dict(answer.headers))


def add_fhir_routes(app: web.Application, face: FhirFace) -> None:
    """Add the FHIR interactions of every EHR service to ``app``."""
    app[_FACE] = face
    base = FHIR_PATH + "/{service}/{type:[A-Za-z]+}"
    app.router.add_post(base, _interaction)
    app.router.add_get(base, _interaction)
    app.router.add_get(base + "/{id:[A-Za-z0-9.-]{1,64}}", _interaction)
