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
- **Admin** (:mod:`testbed.live.admin`) on a Unix domain socket in the state directory.
- **Identity provider and FHIR API** (:mod:`testbed.live.ehr_server`) over HTTPS, for a
  scenario with an ``ehr:`` block.

Every socket is served by a :class:`~testbed.live.listener.Listener` under
:class:`~testbed.live.limits.Limits` (connection caps, timeouts, sizes, an optional
rate limit); each refusal below the decision core is tallied and written as an
aggregated audit event (:mod:`testbed.live.refusals`), as are served CRL and OCSP
answers.
Every TCP socket binds 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import socket
import ssl
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from urllib.parse import unquote

from aiohttp import BasicAuth, hdrs, web
from aiohttp.typedefs import Middleware
from cryptography.x509 import ocsp

from testbed.errors import LiveError, PkiError
from testbed.events import Value
from testbed.live.admin import admin_app
from testbed.live.audit import AuditLog
from testbed.live.dicom.serve import DicomServers
from testbed.live.guard import Guard, audit_middleware, audited, peer_of
from testbed.live.hospital import LiveHospital
from testbed.live.limits import Limits
from testbed.live.listener import Listener, app_runner
from testbed.live.openssl import X509_V_FLAG_NO_CHECK_TIME
from testbed.live.peer import peer_certificate
from testbed.live.refusals import Tallies
from testbed.live.services import SERVICES_PATH, services_app
from testbed.live.state import StateDir, server_identity
from testbed.live.zones import ZoneAddresses
from testbed.pki.est import EstResponse

__all__ = [
    "LOOPBACK",
    "LiveServer",
    "Ports",
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


async def _cacerts(request: web.Request) -> web.Response:
    return _response(request.app[_HOSPITAL].est.cacerts())


async def _simpleenroll(request: web.Request) -> web.Response:
    hospital = request.app[_HOSPITAL]
    answer = hospital.simpleenroll(
        await request.read(),
        content_type=request.headers.get(hdrs.CONTENT_TYPE, ""),
        basic=_basic(request),
        client_cert=peer_certificate(request.transport),
    )
    audited(request)  # the EST core wrote the answer's event (or tallied it)
    return _response(answer)


async def _simplereenroll(request: web.Request) -> web.Response:
    hospital = request.app[_HOSPITAL]
    answer = hospital.simplereenroll(
        await request.read(),
        content_type=request.headers.get(hdrs.CONTENT_TYPE, ""),
        client_cert=peer_certificate(request.transport),
    )
    audited(request)
    return _response(answer)


def est_app(
    hospital: LiveHospital, *, middlewares: Sequence[Middleware] = (), client_max_size: int = 65536
) -> web.Application:
    """The EST endpoints (serve it with :func:`tls_context`); ``middlewares`` audit."""
    app = web.Application(middlewares=middlewares, client_max_size=client_max_size)
    app[_HOSPITAL] = hospital
    app.router.add_get(f"{EST_PATH}/cacerts", _cacerts)
    app.router.add_post(f"{EST_PATH}/simpleenroll", _simpleenroll)
    app.router.add_post(f"{EST_PATH}/simplereenroll", _simplereenroll)
    return app


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
    if crl is None:  # a generation made while its CA is down: nothing signed yet
        retry = str(request.app[_HOSPITAL].est.retry_after)
        return web.Response(status=503, headers={"Retry-After": retry},
                            text="the issuing CA is down and has published no CRL yet\n")
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


def _served(guard: Guard) -> Middleware:
    """Every CRL and OCSP answer is tallied as served (``requests-served``); a refusal
    (4xx, 5xx: an unknown site, a CA down with no CRL yet, a wrong content type) is left
    to the audit middleware, as a ``request-refused`` with its reason."""

    @web.middleware
    async def served(request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        if response.status >= 400:
            return response
        what = "ocsp" if request.path.startswith(_OCSP_PATH) else "crl"
        fields: dict[str, Value] = {}
        if what == "ocsp" and isinstance(response, web.Response) and response.status == 200:
            body = response.body
            answer = ocsp.load_der_ocsp_response(body if isinstance(body, bytes) else b"")
            fields["ocsp_status"] = answer.response_status.name.lower()
        if what == "crl":
            fields["site"] = request.match_info.get("site")
        guard.served(what, source=peer_of(request), status=response.status, **fields)
        audited(request)
        return response

    return served


def pki_app(
    hospital: LiveHospital, *, guard: Guard | None = None, middlewares: Sequence[Middleware] = ()
) -> web.Application:
    """The CRL distribution point and the OCSP responder; with a ``guard``, every
    answer is tallied as served."""
    served = () if guard is None else (_served(guard),)
    app = web.Application(middlewares=[*middlewares, *served], client_max_size=64 * 1024)
    app[_HOSPITAL] = hospital
    app.router.add_get("/crl", _crl)
    app.router.add_get("/crl/{site}", _crl)
    app.router.add_post(_OCSP_PATH, _ocsp)
    app.router.add_get(_OCSP_PATH + "/{request:.+}", _ocsp_get)
    return app


# -- running --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ports:
    """The TCP ports to bind on 127.0.0.1; 0 lets the system choose (the admin API
    listens on a Unix socket in the state directory, not on a port)."""

    est: int = 0
    pki: int = 0
    services: int = 0
    ehr: int = 0  # the identity provider and the FHIR API (scenarios with an ``ehr:`` block)


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
    sock.listen(BACKLOG)
    sock.setblocking(False)
    return sock


BACKLOG = 128
"""Connections the kernel may hold before the accept loop takes them (each is then
admitted or reset at once)."""


class LiveServer:
    """The four apps on their sockets, each behind a :class:`~testbed.live.listener.Listener`;
    :meth:`start` returns the endpoint URLs."""

    def __init__(
        self,
        hospital: LiveHospital,
        state: StateDir,
        *,
        secret: str,
        limits: Limits,
        tallies: Tallies,
        jwks_trust: ssl.SSLContext | None = None,
    ) -> None:
        self.hospital = hospital
        #: whom the IdP trusts when it fetches a client's JWKS URL (None: the system's CAs)
        self.jwks_trust = jwks_trust
        self.state = state
        self.secret = secret
        self.guard = Guard(limits, tallies, hospital.now)
        self.zones = ZoneAddresses(hospital.scenario.sites)
        self.listeners: dict[str, Listener] = {}
        self._contexts: list[ssl.SSLContext] = []
        self.dicom: DicomServers | None = None

    async def _run(
        self, name: str, app: web.Application, sock: socket.socket, tls: bool = False
    ) -> None:
        runner = app_runner(app, self.guard, name)
        await runner.setup()
        listener = Listener(name, sock, runner, self.guard, tls=self._tls() if tls else None)
        self.listeners[name] = listener
        listener.start()

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

    def _middlewares(self, listener: str, *, rate_limited: bool = True) -> tuple[Middleware, ...]:
        return (audit_middleware(self.guard, listener, rate_limited=rate_limited),)

    async def start(self, ports: Ports) -> dict[str, object]:
        """Listen on every socket and return the endpoint URLs."""
        sockets: list[socket.socket] = []
        try:
            for port in (ports.est, ports.pki, ports.services):
                sockets.append(_listen(port))
            sockets.append(self.state.listen_admin(BACKLOG))
        except LiveError:
            for sock in sockets:
                sock.close()
            raise
        est, pki, services = (int(s.getsockname()[1]) for s in sockets[:3])
        crl_by_site = {s: f"http://{LOOPBACK}:{pki}/crl/{s}" for s in self.hospital.ca.sites}
        ocsp_url = f"http://{LOOPBACK}:{pki}/ocsp"
        # leaves name where their revocation status is: known before EST answers anyone
        self.hospital.ca.publish_revocation_at(crl_by_site=crl_by_site, ocsp=ocsp_url)
        body = self.guard.limits.body_bytes
        await self._run("est", est_app(self.hospital, middlewares=self._middlewares("est"),
                                       client_max_size=body), sockets[0], tls=True)  # fmt: skip
        pki_api = pki_app(self.hospital, guard=self.guard, middlewares=self._middlewares("pki"))
        await self._run("pki", pki_api, sockets[1])
        services_api = services_app(self.hospital, self.zones,
                                    middlewares=self._middlewares("services"))  # fmt: skip
        await self._run("services", services_api, sockets[2], tls=True)
        tallies = self.guard.tallies
        admin_api = admin_app(self.hospital, self.secret, trust_changed=self.trust_changed,
                              flush_audit=lambda: tallies.flush(self.hospital.now()),
                              middlewares=self._middlewares("admin", rate_limited=False),
                              client_max_size=body)  # fmt: skip
        await self._run("admin", admin_api, sockets[3])
        ehr = await self._serve_ehr(ports.ehr) if self.hospital.hospital.clinical else {}
        self.dicom = DicomServers(self.hospital, self.state, self.guard, self.zones)
        dicom = self.dicom.start()  # one DICOM TLS acceptor per PACS (testbed.live.dicom)
        return ehr | {
            "est": f"https://{LOOPBACK}:{est}{EST_PATH}",
            "crl": f"http://{LOOPBACK}:{pki}/crl",
            "crl_by_site": crl_by_site,
            "ocsp": ocsp_url,
            "admin": self.state.admin_url,
            "services": f"https://{LOOPBACK}:{services}{SERVICES_PATH}",
            "dicom": dicom,
            "zones": dict(self.zones.published()),
            "scenario": self.hospital.scenario.name,
        }

    async def _serve_ehr(self, port: int) -> dict[str, object]:
        """The identity provider and the FHIR API (:mod:`testbed.live.ehr_server`)."""
        from testbed.live.ehr_server import INTROSPECTION_SECRET, ehr_app

        sock = _listen(port)
        origin = f"https://{LOOPBACK}:{int(sock.getsockname()[1])}"
        app, endpoints = ehr_app(
            self.hospital, self.zones, origin=origin,
            introspection_secret=self.state.write_secret(INTROSPECTION_SECRET),
            jwks_trust=self.jwks_trust or ssl.create_default_context(),
            middlewares=self._middlewares("ehr"), client_max_size=self.guard.limits.body_bytes,
        )  # fmt: skip
        await self._run("ehr", app, sock, tls=True)
        return endpoints

    async def stop(self) -> None:
        """Close every socket and finish in-flight requests."""
        if self.dicom is not None:  # its threads wait on this loop: stop it from another
            await asyncio.to_thread(self.dicom.stop)
        for listener in reversed(list(self.listeners.values())):
            await listener.stop()
        self.listeners.clear()
        self.state.clear_admin()


async def _refresh_crls(hospital: LiveHospital, *, every: float) -> None:
    """Reissue each issuing CA's CRL once it is due (the live counterpart of the
    simulation's CRL publisher), checking every ``every`` wall seconds."""
    while True:
        await asyncio.sleep(every)
        hospital.refresh_crls()


async def _flush_tallies(log: AuditLog, hospital: LiveHospital, *, every: float) -> None:
    """Write the aggregated refusals and served answers every ``every`` wall seconds."""
    while True:
        await asyncio.sleep(every)
        log.tallies.flush(hospital.now())


def audit_log(hospital: LiveHospital) -> AuditLog:
    """The live hospital's log, which must be an :class:`AuditLog` (on disk, rotated)."""
    log = hospital.log
    if not isinstance(log, AuditLog):
        raise LiveError("a live hospital needs an AuditLog (testbed.live.audit) as its log: "
                        "build it with LiveHospital.from_file(..., log=state.audit_log(...))")
    return log


async def run_until(
    hospital: LiveHospital,
    state: StateDir,
    *,
    ports: Ports,
    stop: asyncio.Event,
    limits: Limits | None = None,
    jwks_trust: ssl.SSLContext | None = None,
) -> None:
    """Write the state directory, listen, publish ``endpoints.json``, run until ``stop``.

    ``endpoints.json`` appears only once every socket listens and is removed on the
    way out, however the run ends.  The caller holds ``state`` (:meth:`StateDir.claimed`)
    and built ``hospital`` with the state's :class:`AuditLog`.
    """
    limits = limits or Limits()
    log = audit_log(hospital)
    state.write_bundle(hospital.trust_bundle_pem())
    # clients check the server's certificate by their own (wall) clocks
    wall = datetime.now(UTC)
    state.write_server_identity(*server_identity(hospital.ca, now=hospital.now(),
                                                 also_valid_at=wall))  # fmt: skip
    server = LiveServer(hospital, state, secret=state.write_secret(), limits=limits,
                        tallies=log.tallies, jwks_trust=jwks_trust)  # fmt: skip
    tasks: list[asyncio.Task[None]] = []
    try:
        hospital.publish_crls()
        state.write_endpoints(await server.start(ports))
        tasks.append(asyncio.create_task(_refresh_crls(hospital, every=CRL_CHECK_SECONDS)))
        tasks.append(asyncio.create_task(_flush_tallies(log, hospital,
                                                        every=limits.audit_interval)))  # fmt: skip
        await stop.wait()
    finally:
        for task in tasks:
            task.cancel()
        state.clear_endpoints()
        await server.stop()
        log.tallies.flush(hospital.now())  # every refusal counted is written
        hospital.tally()  # every answer is in: the decision points' own count, last
        log.close()
