"""The hospital's clinical services, live: one mutually authenticated HTTPS endpoint each.

``GET /services/{name}/ping`` is a device action against service ``name`` through the
same access point as the simulation's deliveries (:class:`~testbed.access.AccessPoint`):
registration, network (the zone of the connection's source address,
:class:`~testbed.live.zones.ZoneAddresses`), TLS (chain, validity, revocation and the
site's trust bundle, decided by the core at the hospital's time), application and
service.  It answers 200 when allowed and 403 otherwise, with the decision (reason,
hop, detail) as JSON; every answer is one ``access-decision`` event.  The EHR and PACS
replace these endpoints with their real protocols; the path stays.

The device is the one its client certificate names (its CN); a device without a
certificate may say who it claims to be in an ``X-Device-Id`` header, and is refused
for the missing certificate.
"""

from __future__ import annotations

from collections.abc import Sequence

from aiohttp import web
from aiohttp.typedefs import Middleware

from testbed.access import Attempt
from testbed.live.guard import audited
from testbed.live.hospital import LiveHospital
from testbed.live.peer import peer_address, peer_certificate
from testbed.live.zones import ZoneAddresses
from testbed.pki.keys import common_name

__all__ = ["CLAIMED_DEVICE", "SERVICES_PATH", "services_app"]

SERVICES_PATH = "/services"
CLAIMED_DEVICE = "X-Device-Id"
_HOSPITAL: web.AppKey[LiveHospital] = web.AppKey("hospital", LiveHospital)
_ZONES: web.AppKey[ZoneAddresses] = web.AppKey("zones", ZoneAddresses)
_CLAIM_LIMIT = 63  # characters of a claimed device id (a device id's own limit)


async def _ping(request: web.Request) -> web.Response:
    live = request.app[_HOSPITAL]
    service = request.match_info["service"]
    known = {s.name for s in live.scenario.services}
    if service not in known:
        return web.json_response({"error": f"no service {service!r}; known: {sorted(known)}"},
                                 status=404)  # fmt: skip
    cert = peer_certificate(request.transport)
    if cert is not None:
        device_id = common_name(cert.subject) or ""
    else:
        device_id = request.headers.get(CLAIMED_DEVICE, "")[:_CLAIM_LIMIT]
    address = peer_address(request.transport)
    source = None if address is None else request.app[_ZONES].source(address)
    attempt = Attempt(device_id, service, cert, source)
    decision = live.hospital.access.decide(attempt, now=live.now())
    audited(request)  # the access point wrote the decision's event
    body = {"device_id": device_id, "service": service, "allowed": decision.allowed,
            "reason": decision.reason.value, "hop": decision.hop.value,
            "detail": decision.detail}  # fmt: skip
    return web.json_response(body, status=200 if decision.allowed else 403)


def services_app(
    hospital: LiveHospital, zones: ZoneAddresses, *, middlewares: Sequence[Middleware] = ()
) -> web.Application:
    """The services' ping endpoints (serve it with the mutual-TLS context);
    ``middlewares`` audit."""
    app = web.Application(middlewares=middlewares, client_max_size=64 * 1024)
    app[_HOSPITAL] = hospital
    app[_ZONES] = zones
    app.router.add_get(SERVICES_PATH + "/{service}/ping", _ping)
    return app
