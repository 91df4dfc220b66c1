"""The live hospital's HTTP faces (aiohttp), each a thin translation to the decision core.

- **EST** (RFC 7030) over HTTPS under ``/.well-known/est``: ``cacerts`` (GET),
  ``simpleenroll`` (POST, HTTP Basic bootstrap credentials) and ``simplereenroll``
  (POST, the current client certificate).  The TLS context asks for a client
  certificate without requiring one (``CERT_OPTIONAL``), so one port serves both.
  OpenSSL checks a presented certificate's chain (an unknown-CA certificate fails the
  handshake) but not its time (``X509_V_FLAG_NO_CHECK_TIME``): the hospital's clock
  decides, so an expired, not-yet-valid or revoked certificate reaches the decision
  core and is refused there with its reason and an event, as in the simulation.
- **Services** (:mod:`testbed.live.services`) over mutually authenticated HTTPS: one
  ping endpoint per scenario service, decided by the access point.
- **PKI** over HTTP: ``/crl`` (central issuing CA) or ``/crl/{site}``, DER
  ``application/pkix-crl``; ``/ocsp`` (POST ``application/ocsp-request``, or GET
  ``/ocsp/{url-encoded base64 request}`` as RFC 6960 Appendix A.1 allows).
- **Admin** over HTTP with a bearer secret: ``GET /devices``, ``POST /devices``,
  ``POST /devices/{id}/approve``, ``/validate``, ``/promote``, ``/suspend``,
  ``/resume``, ``/revoke``, ``/offboard``, ``/rebootstrap``, ``POST /ca/rotate``,
  ``POST /crls/publish``; JSON in and out.  Each is one operator operation of
  :mod:`testbed.operations`, as in the simulation.

Everything binds 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import json
import socket
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from urllib.parse import unquote

from aiohttp import BasicAuth, hdrs, web
from cryptography import x509
from cryptography.x509 import ocsp

from testbed.errors import LiveError, PkiError, TestbedError
from testbed.live.hospital import LiveHospital, Registration
from testbed.live.services import SERVICES_PATH, services_app
from testbed.live.state import EventFile, StateDir, server_identity
from testbed.live.zones import ZoneAddresses
from testbed.pki.est import EstResponse
from testbed.pki.revocation import RevocationReason

__all__ = [
    "LOOPBACK",
    "LiveServer",
    "Ports",
    "admin_app",
    "est_app",
    "pki_app",
    "run_until",
    "tls_context",
]

LOOPBACK = "127.0.0.1"
CRL_CHECK_SECONDS = 60.0
"""How often (wall seconds) a running server checks whether a CRL is due."""
EST_PATH = "/.well-known/est"
_OCSP_PATH = "/ocsp"
_HOSPITAL: web.AppKey[LiveHospital] = web.AppKey("hospital", LiveHospital)
_SECRET: web.AppKey[str] = web.AppKey("secret", str)
_TRUST_CHANGED: web.AppKey[Callable[[], None]] = web.AppKey("trust_changed")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


# -- EST ----------------------------------------------------------------------


def _response(answer: EstResponse) -> web.Response:
    return web.Response(status=answer.status, headers=dict(answer.headers), body=answer.body)


def _basic(request: web.Request) -> tuple[str, str] | None:
    header = request.headers.get(hdrs.AUTHORIZATION)
    if header is None:
        return None
    try:
        auth = BasicAuth.decode(header)
    except ValueError:
        return None  # not Basic, or malformed: the core answers 401
    return auth.login, auth.password


def _client_cert(request: web.Request) -> x509.Certificate | None:
    transport = request.transport
    ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
    if ssl_object is None:
        return None
    der = ssl_object.getpeercert(binary_form=True)
    return x509.load_der_x509_certificate(der) if der else None


async def _cacerts(request: web.Request) -> web.Response:
    return _response(request.app[_HOSPITAL].est.cacerts())


async def _simpleenroll(request: web.Request) -> web.Response:
    hospital = request.app[_HOSPITAL]
    answer = hospital.simpleenroll(
        await request.read(),
        content_type=request.headers.get(hdrs.CONTENT_TYPE, ""),
        basic=_basic(request),
        client_cert=_client_cert(request),
    )
    return _response(answer)


async def _simplereenroll(request: web.Request) -> web.Response:
    hospital = request.app[_HOSPITAL]
    answer = hospital.simplereenroll(
        await request.read(),
        content_type=request.headers.get(hdrs.CONTENT_TYPE, ""),
        client_cert=_client_cert(request),
    )
    return _response(answer)


def est_app(hospital: LiveHospital) -> web.Application:
    """The EST endpoints (serve it with :func:`tls_context`)."""
    app = web.Application()
    app[_HOSPITAL] = hospital
    app.router.add_get(f"{EST_PATH}/cacerts", _cacerts)
    app.router.add_post(f"{EST_PATH}/simpleenroll", _simpleenroll)
    app.router.add_post(f"{EST_PATH}/simplereenroll", _simplereenroll)
    return app


X509_V_FLAG_NO_CHECK_TIME = 0x200000
"""OpenSSL's verify flag that skips validity-period checks (``x509_vfy.h``); Python's
:class:`ssl.VerifyFlags` does not name it."""


def tls_context(state: StateDir) -> ssl.SSLContext:
    """Server TLS: the state dir's server identity; client certificates optional.

    Client certificates are verified against the trust bundle (root and issuing CAs)
    for their chain only: time is the decision core's (``X509_V_FLAG_NO_CHECK_TIME``).
    """
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(state.server_cert, state.server_key)
    context.load_verify_locations(cafile=state.bundle)
    context.verify_mode = ssl.CERT_OPTIONAL
    context.verify_flags |= X509_V_FLAG_NO_CHECK_TIME
    return context


# -- CRL and OCSP ---------------------------------------------------------------


def _text(status: int, detail: str) -> web.Response:
    return web.Response(status=status, text=detail + "\n")


async def _crl(request: web.Request) -> web.Response:
    site = request.match_info.get("site")
    try:
        crl = request.app[_HOSPITAL].crl(site)
    except PkiError as error:
        return _text(404, str(error))
    # the CRL is reissued on every revocation, long before its nextUpdate: a cache may
    # keep it but must ask again each time (a conditional GET on Last-Modified)
    headers = {"Last-Modified": format_datetime(crl.this_update, usegmt=True),
               "Cache-Control": "no-cache"}  # fmt: skip
    return web.Response(body=crl.der, content_type="application/pkix-crl", headers=headers)


def _freshness(this_update: datetime, next_update: datetime, now: datetime) -> dict[str, str]:
    """HTTP caching of an OCSP answer until its nextUpdate (RFC 5019 §6.2)."""
    max_age = max(int((next_update - now).total_seconds()), 0)
    return {
        "Last-Modified": format_datetime(this_update, usegmt=True),
        "Expires": format_datetime(next_update, usegmt=True),
        "Cache-Control": f"max-age={max_age}, public, no-transform, must-revalidate",
    }


async def _ocsp(request: web.Request) -> web.Response:
    if request.content_type != "application/ocsp-request":
        return _text(415, f"content type {request.content_type!r} is not application/ocsp-request")
    body = request.app[_HOSPITAL].ocsp(await request.read())
    return web.Response(body=body, content_type="application/ocsp-response")


async def _ocsp_get(request: web.Request) -> web.Response:
    """RFC 6960 A.1: ``GET {url}/{url-encoding of base64 of the DER OCSPRequest}``.

    The raw path is decoded here (a base64 ``/`` may arrive as ``%2F`` or as a
    path separator); a request that does not decode is answered malformedRequest
    by the responder, as a POSTed one that does not parse.
    """
    encoded = unquote(request.rel_url.raw_path.removeprefix(f"{_OCSP_PATH}/"))
    try:
        request_der = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        request_der = b""
    hospital = request.app[_HOSPITAL]
    body = hospital.ocsp(request_der)
    headers: dict[str, str] = {}
    answer = ocsp.load_der_ocsp_response(body)
    if answer.response_status is ocsp.OCSPResponseStatus.SUCCESSFUL:
        next_update = answer.next_update_utc
        if next_update is not None:  # a GET answer may be cached (RFC 6960 A.1, RFC 5019)
            headers = _freshness(answer.this_update_utc, next_update, hospital.now())
    return web.Response(body=body, content_type="application/ocsp-response", headers=headers)


def pki_app(hospital: LiveHospital) -> web.Application:
    """The CRL distribution point and the OCSP responder."""
    app = web.Application()
    app[_HOSPITAL] = hospital
    app.router.add_get("/crl", _crl)
    app.router.add_get("/crl/{site}", _crl)
    app.router.add_post(_OCSP_PATH, _ocsp)
    app.router.add_get(_OCSP_PATH + "/{request:.+}", _ocsp_get)
    return app


# -- admin ----------------------------------------------------------------------


def _error(status: int, detail: str) -> web.Response:
    return web.json_response({"error": detail}, status=status)


@web.middleware
async def _bearer(request: web.Request, handler: Handler) -> web.StreamResponse:
    header = request.headers.get(hdrs.AUTHORIZATION, "")
    scheme, _, token = header.partition(" ")
    expected = request.app[_SECRET]
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.encode(), expected.encode()):
        return _error(401, "missing or wrong admin bearer secret (see admin.secret)")
    try:
        return await handler(request)
    except TestbedError as error:
        return _error(400, str(error))


async def _register(request: web.Request) -> web.Response:
    try:
        data = await request.json()
        registration = Registration(**{k: str(v) for k, v in data.items()})
    except (json.JSONDecodeError, AttributeError, TypeError) as error:
        fields = "serial, site, zone, profile and optionally owner"
        return _error(400, f"the body must be a JSON object with {fields}: {error}")
    issued = request.app[_HOSPITAL].register(registration)
    bootstrap = {"username": issued.username, "password": issued.password}
    approval = "pending" if issued.approval_pending else "not-required"
    body = {"device_id": issued.device_id, "bootstrap": bootstrap, "approval": approval,
            "ae_title": issued.ae_title}  # fmt: skip
    return web.json_response(body, status=201)


async def _devices(request: web.Request) -> web.Response:
    return web.json_response({"devices": request.app[_HOSPITAL].devices()})


async def _approve(request: web.Request) -> web.Response:
    device_id = request.match_info["device_id"]
    changed = request.app[_HOSPITAL].approve(device_id)
    return web.json_response({"device_id": device_id, "approved": True, "changed": changed})


async def _revoke(request: web.Request) -> web.Response:
    device_id = request.match_info["device_id"]
    try:
        data = await request.json() if request.can_read_body else {}
        reason = RevocationReason(str(data.get("reason", "unspecified")))
    except (json.JSONDecodeError, AttributeError, ValueError):
        known = ", ".join(RevocationReason)
        return _error(400, f"the body may be a JSON object with a 'reason', one of: {known}")
    serials = request.app[_HOSPITAL].revoke(device_id, reason)
    body = {"device_id": device_id, "revoked": [f"{s:x}" for s in serials],
            "reason": reason.value}  # fmt: skip
    return web.json_response(body)


async def _offboard(request: web.Request) -> web.Response:
    done = request.app[_HOSPITAL].offboard(request.match_info["device_id"])
    revoked = [f"{s:x}" for s in done.serials]
    body = {"device_id": done.device_id, "revoked": revoked, "state": done.transition.target}
    return web.json_response(body)


async def _validate(request: web.Request) -> web.Response:
    return _lifecycle(request, request.app[_HOSPITAL].validate, "validated", "enrolled")


async def _promote(request: web.Request) -> web.Response:
    return _lifecycle(request, request.app[_HOSPITAL].promote, "promoted", "validated")


async def _suspend(request: web.Request) -> web.Response:
    return _lifecycle(request, request.app[_HOSPITAL].suspend, "suspended", "in production")


async def _resume(request: web.Request) -> web.Response:
    return _lifecycle(request, request.app[_HOSPITAL].resume, "resumed", "suspended")


def _lifecycle(
    request: web.Request, operation: Callable[[str], bool], done: str, needed: str
) -> web.Response:
    device_id = request.match_info["device_id"]
    if not operation(device_id):
        state = request.app[_HOSPITAL].inventory.entry(device_id).state.value
        return _error(409, f"device {device_id!r} is {state}; only a device {needed} can be "
                      f"{done}")  # fmt: skip
    return web.json_response({"device_id": device_id, done: True})


async def _rebootstrap(request: web.Request) -> web.Response:
    device_id = request.match_info["device_id"]
    password = request.app[_HOSPITAL].rebootstrap(device_id)
    body = {"device_id": device_id, "bootstrap": {"username": device_id, "password": password}}
    return web.json_response(body)


async def _rotate(request: web.Request) -> web.Response:
    try:
        data = await request.json() if request.can_read_body else {}
        site = data.get("site")
        overlap = timedelta(seconds=float(data.get("overlap_seconds", 0)))
        if site is not None and not isinstance(site, str):
            raise TypeError("site must be a string")
    except (json.JSONDecodeError, AttributeError, TypeError, ValueError, OverflowError) as error:
        return _error(400, "the body may be a JSON object with 'site' (a site name, for "
                      f"per-site issuing) and 'overlap_seconds' (a number): {error}")  # fmt: skip
    new = request.app[_HOSPITAL].rotate_ca_key(site=site, overlap=overlap)
    request.app[_TRUST_CHANGED]()
    return web.json_response({"issuing_ca": new.name, "generation": new.generation})


async def _publish(request: web.Request) -> web.Response:
    request.app[_HOSPITAL].publish_crls()
    return web.json_response({"published": True})


def admin_app(
    hospital: LiveHospital, secret: str, *, trust_changed: Callable[[], None] = lambda: None
) -> web.Application:
    """The operator's admin API, behind a bearer secret; ``trust_changed`` is called
    after a CA key rotation (the servers' trust stores and ``ca-bundle.pem`` follow)."""
    app = web.Application(middlewares=[_bearer])
    app[_HOSPITAL] = hospital
    app[_SECRET] = secret
    app[_TRUST_CHANGED] = trust_changed
    for action, handler in (("validate", _validate), ("promote", _promote),
                            ("suspend", _suspend), ("resume", _resume),
                            ("rebootstrap", _rebootstrap)):  # fmt: skip
        app.router.add_post(f"/devices/{{device_id}}/{action}", handler)
    app.router.add_post("/ca/rotate", _rotate)
    app.router.add_post("/crls/publish", _publish)
    app.router.add_post("/devices", _register)
    app.router.add_get("/devices", _devices)
    app.router.add_post("/devices/{device_id}/approve", _approve)
    app.router.add_post("/devices/{device_id}/revoke", _revoke)
    app.router.add_post("/devices/{device_id}/offboard", _offboard)
    return app


# -- running --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ports:
    """The ports to bind on 127.0.0.1; 0 lets the system choose."""

    est: int = 0
    pki: int = 0
    admin: int = 0
    services: int = 0


def _listen(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((LOOPBACK, port))
    except OSError as error:
        sock.close()
        reason = error.strerror or str(error)
        raise LiveError(
            f"cannot listen on {LOOPBACK}:{port} ({reason}); choose another port, "
            "or 0 to let the system pick a free one"
        ) from None
    sock.listen(128)
    sock.setblocking(False)
    return sock


class LiveServer:
    """The four apps on their loopback sockets; :meth:`start` returns the endpoint URLs."""

    def __init__(self, hospital: LiveHospital, state: StateDir, *, secret: str) -> None:
        self.hospital = hospital
        self.state = state
        self.secret = secret
        self.zones = ZoneAddresses(hospital.scenario.sites)
        self._runners: list[web.AppRunner] = []
        self._contexts: list[ssl.SSLContext] = []

    async def _run(
        self, app: web.Application, sock: socket.socket, context: ssl.SSLContext | None = None
    ) -> None:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        self._runners.append(runner)
        await web.SockSite(runner, sock, ssl_context=context).start()

    def _tls(self) -> ssl.SSLContext:
        context = tls_context(self.state)
        self._contexts.append(context)
        return context

    def trust_changed(self) -> None:
        """A CA key rotated: ``ca-bundle.pem`` and every server's trust store take the
        new issuing CA (new handshakes use it; nothing restarts)."""
        pem = self.hospital.trust_bundle_pem()
        self.state.write_bundle(pem)
        for context in self._contexts:
            context.load_verify_locations(cadata=pem.decode("ascii"))

    async def start(self, ports: Ports) -> dict[str, object]:
        """Listen on every socket and return the endpoint URLs."""
        sockets: list[socket.socket] = []
        try:
            for port in (ports.est, ports.pki, ports.admin, ports.services):
                sockets.append(_listen(port))
        except LiveError:
            for sock in sockets:
                sock.close()
            raise
        est, pki, admin, services = (int(s.getsockname()[1]) for s in sockets)
        crl_by_site = {s: f"http://{LOOPBACK}:{pki}/crl/{s}" for s in self.hospital.ca.sites}
        ocsp = f"http://{LOOPBACK}:{pki}/ocsp"
        # leaves name where their revocation status is: known before EST answers anyone
        self.hospital.ca.publish_revocation_at(crl_by_site=crl_by_site, ocsp=ocsp)
        await self._run(est_app(self.hospital), sockets[0], self._tls())
        await self._run(pki_app(self.hospital), sockets[1])
        admin_api = admin_app(self.hospital, self.secret, trust_changed=self.trust_changed)
        await self._run(admin_api, sockets[2])
        await self._run(services_app(self.hospital, self.zones), sockets[3], self._tls())
        return {
            "est": f"https://{LOOPBACK}:{est}{EST_PATH}",
            "crl": f"http://{LOOPBACK}:{pki}/crl",
            "crl_by_site": crl_by_site,
            "ocsp": ocsp,
            "admin": f"http://{LOOPBACK}:{admin}",
            "services": f"https://{LOOPBACK}:{services}{SERVICES_PATH}",
            "zones": dict(self.zones.published()),
            "scenario": self.hospital.scenario.name,
        }

    async def stop(self) -> None:
        """Close every socket and finish in-flight requests."""
        for runner in reversed(self._runners):
            await runner.cleanup()
        self._runners.clear()


async def _refresh_crls(hospital: LiveHospital, *, every: float) -> None:
    """Reissue each issuing CA's CRL once it is due (the live counterpart of the
    simulation's CRL publisher), checking every ``every`` wall seconds."""
    while True:
        await asyncio.sleep(every)
        hospital.refresh_crls()


async def run_until(
    hospital: LiveHospital, state: StateDir, *, ports: Ports, stop: asyncio.Event
) -> None:
    """Write the state directory, listen, publish ``endpoints.json``, run until ``stop``.

    ``endpoints.json`` appears only once every socket listens and is removed on the
    way out, however the run ends.  The caller holds ``state`` (:meth:`StateDir.claimed`).
    """
    events = EventFile(state.events)
    hospital.log.subscribe(events)
    state.write_bundle(hospital.trust_bundle_pem())
    # clients check the server's certificate by their own (wall) clocks
    wall = datetime.now(UTC)
    state.write_server_identity(*server_identity(hospital.ca, now=hospital.now(),
                                                 also_valid_at=wall))  # fmt: skip
    server = LiveServer(hospital, state, secret=state.write_secret())
    refresher: asyncio.Task[None] | None = None
    try:
        hospital.publish_crls()
        state.write_endpoints(await server.start(ports))
        refresher = asyncio.create_task(_refresh_crls(hospital, every=CRL_CHECK_SECONDS))
        await stop.wait()
    finally:
        if refresher is not None:
            refresher.cancel()
        state.clear_endpoints()
        await server.stop()
        hospital.tally()  # every answer is in: the decision points' own count, last
        events.close()
