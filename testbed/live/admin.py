"""The operator's admin API: JSON over HTTP on a Unix domain socket, behind a bearer secret.

``GET /devices``, ``POST /devices``, ``POST /devices/{id}/approve``, ``/validate``,
``/promote``, ``/suspend``, ``/resume``, ``/revoke``, ``/offboard``,
``/rebootstrap``, ``/hold``, ``/jwks`` (replace a device's JWK Set or URL), ``POST
/ehr/patients/{id}/move``, ``POST /ehr/idp/rotate`` (an IdP key rollover), ``POST
/ca/rotate``, ``POST /trust/deliver`` (the bundles on their way reach the sites now),
``POST /crls/publish``, ``POST /drift/scan`` (an operator's drift scan), ``POST
/faults/ca-outage``, ``/faults/blocked-route``,
``/faults/pacs-trust-missing`` (``site``), ``/faults/pacs-outage`` (``service``),
``/faults/ehr-outage`` (``service``, default the only EHR), ``/faults/idp-outage``
and ``/faults/idp-key-rotation`` (``{"action": "begin"|"end", ...}``: live fault
injection, the certification kit's; ending a fault not in progress is a 409): each
one operator operation of :mod:`testbed.operations`, as in the simulation; and ``POST
/audit/flush``, which writes the aggregated refusals at once instead of at the end
of the audit interval.

The socket is ``DIR/admin.sock`` (mode 0600, in a directory only its owner may
write), so only the user running the server can connect, and the command line never
sends the secret to an address a file told it.  Bodies are JSON objects read within
bounds (:mod:`testbed.live.jsonbody`); identifiers are matched whole
(:mod:`testbed.live.identifiers`); any bad input is a 400 naming the field, never a
500.  A wrong or missing secret is a 401 and an aggregated ``admin-auth-failed``
refusal.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from aiohttp import hdrs, web
from aiohttp.typedefs import Middleware

from testbed.errors import LiveError, PkiError, RegistrationError, TestbedError
from testbed.faults import FaultKind
from testbed.live.hospital import LiveHospital, Registration
from testbed.live.identifiers import (
    DEVICE_ID,
    FHIR_ID,
    NAME,
    OWNER,
    checked,
    optional_string,
)
from testbed.live.jsonbody import parse_object
from testbed.pki.revocation import RevocationReason
from testbed.sites import ServiceKind

__all__ = ["admin_app"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_HOSPITAL: web.AppKey[LiveHospital] = web.AppKey("hospital", LiveHospital)
_SECRET: web.AppKey[str] = web.AppKey("secret", str)
_TRUST_CHANGED: web.AppKey[Callable[[], None]] = web.AppKey("trust_changed")
_FLUSH: web.AppKey[Callable[[], int]] = web.AppKey("flush")
_REGISTRATION = ("serial", "site", "zone", "profile", "owner", "jwks", "jwks_url")


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


async def _body(request: web.Request, what: str) -> dict[str, object]:
    return parse_object(await request.read(), what=what)


def _device(request: web.Request) -> str:
    return checked("device id", request.match_info["device_id"], DEVICE_ID)


def _keys(data: dict[str, object]) -> tuple[dict[str, Any] | None, str | None]:
    """The ``jwks`` (a JSON object) and ``jwks_url`` (a string) of a body, checked."""
    jwks = data.get("jwks")
    if jwks is not None and not isinstance(jwks, dict):
        raise LiveError(f"jwks: expected a JWK Set (a JSON object with 'keys'), got {jwks!r:.80}")
    return jwks, optional_string("jwks_url", data.get("jwks_url"))


async def _register(request: web.Request) -> web.Response:
    fields = "serial, site, zone, profile and optionally owner, jwks or jwks_url"
    data = await _body(request, f"a JSON object with {fields}")
    unknown = sorted(set(data) - set(_REGISTRATION))
    if unknown:
        return _error(400, f"unknown field(s) {unknown}; expected {fields}")
    values = {name: checked(name, data.get(name), NAME) for name in _REGISTRATION[:4]}
    owner = checked("owner", data.get("owner", "unassigned"), OWNER)
    jwks, jwks_url = _keys(data)
    issued = request.app[_HOSPITAL].register(Registration(**values, owner=owner), jwks=jwks,
                                             jwks_url=jwks_url)  # fmt: skip
    bootstrap = {"username": issued.username, "password": issued.password}
    approval = "pending" if issued.approval_pending else "not-required"
    body = {"device_id": issued.device_id, "bootstrap": bootstrap, "approval": approval,
            "ae_title": issued.ae_title, "key_type": issued.key_type,
            **(issued.smart or {})}  # fmt: skip
    return web.json_response(body, status=201)


async def _jwks(request: web.Request) -> web.Response:
    device_id = _device(request)
    data = await _body(request, "a JSON object with 'jwks' (a JWK Set) or 'jwks_url'")
    jwks, jwks_url = _keys(data)
    request.app[_HOSPITAL].replace_jwks(device_id, jwks=jwks, jwks_url=jwks_url)
    return web.json_response({"device_id": device_id, "keys_replaced": True})


async def _move_patient(request: web.Request) -> web.Response:
    patient = checked("patient id", request.match_info["patient"], FHIR_ID)
    data = await _body(request, "a JSON object with 'to' (a Location id)")
    to_location = checked("to", data.get("to"), FHIR_ID)
    move = request.app[_HOSPITAL].move_patient(patient, to_location)
    return web.json_response({"patient": f"Patient/{move.patient}",
                              "encounter": f"Encounter/{move.encounter}",
                              "from": f"Location/{move.from_location}",
                              "to": f"Location/{move.to_location}"})  # fmt: skip


async def _rotate_idp_key(request: web.Request) -> web.Response:
    what = "a JSON object with optionally 'overlap_seconds' (a number >= the token lifetime)"
    data = await _body(request, what)
    if set(data) - {"overlap_seconds"}:
        return _error(400, f"expected {what}, got {sorted(data)}")
    seconds = data.get("overlap_seconds")
    if seconds is not None and (isinstance(seconds, bool) or not isinstance(
        seconds, int | float) or not 0 <= seconds <= 366 * 86400
    ):  # fmt: skip
        return _error(400, f"overlap_seconds: expected a number of seconds from 0 to a "
                      f"year, got {seconds!r}")  # fmt: skip
    overlap = None if seconds is None else timedelta(seconds=seconds)
    return web.json_response(request.app[_HOSPITAL].rollover_idp_key(overlap).answer())


async def _devices(request: web.Request) -> web.Response:
    return web.json_response({"devices": request.app[_HOSPITAL].devices()})


async def _zones(request: web.Request) -> web.Response:
    service, profile = request.query.get("service"), request.query.get("profile")
    if not service or not profile:
        return _error(400, "give ?service=NAME&profile=ID: where may a device of that "
                           "profile send to that service")  # fmt: skip
    try:
        zones = request.app[_HOSPITAL].zones_reaching(service, profile)
    except RegistrationError as error:
        return _error(404, str(error))
    return web.json_response({"service": service, "profile": profile, "zones": zones})


async def _drift_scan(request: web.Request) -> web.Response:
    await _body(request, "an empty JSON object")
    return web.json_response(request.app[_HOSPITAL].scan_drift())


async def _approve(request: web.Request) -> web.Response:
    device_id = _device(request)
    changed = request.app[_HOSPITAL].approve(device_id)
    return web.json_response({"device_id": device_id, "approved": True, "changed": changed})


async def _revoke(request: web.Request) -> web.Response:
    device_id = _device(request)
    known = ", ".join(RevocationReason)
    data = await _body(request, f"a JSON object with an optional 'reason', one of: {known}")
    given = optional_string("reason", data.get("reason")) or "unspecified"
    try:
        reason = RevocationReason(given)
    except ValueError:
        return _error(400, f"reason: expected one of {known}, got {given!r}")
    serials = request.app[_HOSPITAL].revoke(device_id, reason)
    body = {"device_id": device_id, "revoked": [f"{s:x}" for s in serials],
            "reason": reason.value}  # fmt: skip
    return web.json_response(body)


async def _offboard(request: web.Request) -> web.Response:
    done = request.app[_HOSPITAL].offboard(_device(request))
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
    device_id = _device(request)
    if not operation(device_id):
        state = request.app[_HOSPITAL].inventory.entry(device_id).state.value
        return _error(409, f"device {device_id!r} is {state}; only a device {needed} can be "
                      f"{done}")  # fmt: skip
    return web.json_response({"device_id": device_id, done: True})


async def _rebootstrap(request: web.Request) -> web.Response:
    device_id = _device(request)
    password = request.app[_HOSPITAL].rebootstrap(device_id)
    if password is None:
        return _error(409, f"device {device_id!r} is retired; only a device not retired "
                      "can be re-bootstrapped")  # fmt: skip
    body = {"device_id": device_id, "bootstrap": {"username": device_id, "password": password}}
    return web.json_response(body)


async def _rotate(request: web.Request) -> web.Response:
    what = ("a JSON object with 'site' (a site name, for per-site issuing) and "
            "'overlap_seconds' (a number >= 0)")  # fmt: skip
    data = await _body(request, what)
    site = data.get("site")
    if site is not None:
        site = checked("site", site, NAME)
    overlap = data.get("overlap_seconds", 0)
    if isinstance(overlap, bool) or not isinstance(overlap, int | float) or not (
        0 <= overlap <= 10 * 365 * 86400
    ):
        return _error(400, f"overlap_seconds: expected a number of seconds from 0 to ten "
                      f"years, got {overlap!r}")  # fmt: skip
    new = request.app[_HOSPITAL].rotate_ca_key(site=site, overlap=timedelta(seconds=overlap))
    request.app[_TRUST_CHANGED]()
    return web.json_response({"issuing_ca": new.name, "generation": new.generation})


async def _deliver_trust(request: web.Request) -> web.Response:
    delivered = request.app[_HOSPITAL].deliver_trust()
    request.app[_TRUST_CHANGED]()
    return web.json_response({"delivered": delivered})


async def _publish(request: web.Request) -> web.Response:
    issuers = request.app[_HOSPITAL].publish_crls()  # none of an issuing CA that is down
    return web.json_response({"published": bool(issuers), "issuers": issuers})


# -- live fault injection (issue 15: the certification kit) ----------------------


async def _hold(request: web.Request) -> web.Response:
    device_id = _device(request)
    changed = request.app[_HOSPITAL].hold_for_approval(device_id)
    return web.json_response({"device_id": device_id, "held": True, "changed": changed})


def _action(data: dict[str, object]) -> str | None:
    action = data.get("action")
    return action if action in ("begin", "end") else None


async def _ca_outage(request: web.Request) -> web.Response:
    what = "a JSON object with 'action' ('begin' or 'end') and optionally 'site'"
    data = await _body(request, what)
    action, site = _action(data), data.get("site")
    if action is None or set(data) - {"action", "site"}:
        return _error(400, f"expected {what}, got {sorted(data)}")
    site = None if site is None else checked("site", site, NAME)
    hospital = request.app[_HOSPITAL]
    if action == "begin":
        hospital.begin_ca_outage(site)
        return web.json_response({"fault": "ca-outage", "site": site, "down": True})
    try:
        up = hospital.end_ca_outage(site)
    except PkiError as error:
        return _error(409, str(error))
    return web.json_response({"fault": "ca-outage", "site": site, "down": not up})


async def _blocked_route(request: web.Request) -> web.Response:
    what = ("a JSON object with 'action' ('begin' or 'end'), 'zone', 'service' and "
            "optionally 'site'")  # fmt: skip
    data = await _body(request, what)
    action = _action(data)
    if action is None or set(data) - {"action", "zone", "service", "site"}:
        return _error(400, f"expected {what}, got {sorted(data)}")
    zone = checked("zone", data.get("zone"), NAME)
    service = checked("service", data.get("service"), NAME)
    site = data.get("site")
    site = None if site is None else checked("site", site, NAME)
    hospital = request.app[_HOSPITAL]
    if action == "begin":
        hospital.block_route(zone, service, site)
    else:
        try:
            hospital.unblock_route(zone, service, site)
        except RegistrationError as error:
            return _error(409, str(error))
    body = {"fault": "blocked-route", "zone": zone, "service": service, "site": site,
            "blocked": action == "begin"}  # fmt: skip
    return web.json_response(body)


async def _pacs_trust_missing(request: web.Request) -> web.Response:
    what = "a JSON object with 'action' ('begin' or 'end') and 'site'"
    data = await _body(request, what)
    action = _action(data)
    if action is None or set(data) != {"action", "site"}:
        return _error(400, f"expected {what}, got {sorted(data)}")
    site = checked("site", data.get("site"), NAME)
    hospital = request.app[_HOSPITAL]
    if action == "begin":
        hospital.begin_pacs_trust_missing(site)
    else:
        try:
            hospital.end_pacs_trust_missing(site)
        except RegistrationError as error:
            return _error(409, str(error))
    return web.json_response({"fault": "pacs-trust-missing", "site": site,
                              "trusted": action == "end"})  # fmt: skip


def _service_outage(fault: FaultKind, default: Callable[[LiveHospital], str | None]) -> Handler:
    """The handler of ``POST /faults/pacs-outage`` or ``/faults/ehr-outage``: one
    service of the fault's kind down (``begin``) or up again (``end``)."""

    async def handler(request: web.Request) -> web.Response:
        what = "a JSON object with 'action' ('begin' or 'end') and 'service'"
        data = await _body(request, what)
        action = _action(data)
        if action is None or set(data) - {"action", "service"}:
            return _error(400, f"expected {what}, got {sorted(data)}")
        hospital = request.app[_HOSPITAL]
        given = data.get("service", default(hospital))
        service = checked("service", given, NAME)
        if action == "begin":
            hospital.begin_service_outage(fault, service)
        else:
            try:
                hospital.end_service_outage(fault, service)
            except RegistrationError as error:
                return _error(409, str(error))
        body = {"fault": fault.value, "service": service, "down": action == "begin"}
        return web.json_response(body)

    return handler


def _only_ehr(hospital: LiveHospital) -> str | None:
    """The hospital's EHR service when it has exactly one (the default of ehr-outage)."""
    names = [s.name for s in hospital.scenario.services if s.kind is ServiceKind.EHR]
    return names[0] if len(names) == 1 else None


async def _begin_or_end(request: web.Request) -> str | web.Response:
    """A fault request's only field, ``action`` (``begin`` or ``end``), or the 400."""
    what = "a JSON object with 'action' ('begin' or 'end')"
    data = await _body(request, what)
    action = _action(data)
    if action is None or set(data) - {"action"}:
        return _error(400, f"expected {what}, got {sorted(data)}")
    return action


async def _idp_outage(request: web.Request) -> web.Response:
    action = await _begin_or_end(request)
    if isinstance(action, web.Response):
        return action
    hospital = request.app[_HOSPITAL]
    if action == "begin":
        hospital.begin_idp_outage()
    else:
        try:
            hospital.end_idp_outage()
        except RegistrationError as error:
            return _error(409, str(error))
    return web.json_response({"fault": "idp-outage", "down": action == "begin"})


async def _idp_key_rotation(request: web.Request) -> web.Response:
    action = await _begin_or_end(request)
    if isinstance(action, web.Response):
        return action
    hospital = request.app[_HOSPITAL]
    try:
        if action == "begin":
            kid = hospital.begin_idp_key_rotation()
            return web.json_response({"fault": "idp-key-rotation", "kid": kid, "stale": True})
        hospital.end_idp_key_rotation()
    except RegistrationError as error:
        return _error(409, str(error))
    return web.json_response({"fault": "idp-key-rotation", "stale": False})


async def _flush(request: web.Request) -> web.Response:
    written = request.app[_FLUSH]()
    return web.json_response({"aggregated_events": written})


def admin_app(
    hospital: LiveHospital,
    secret: str,
    *,
    trust_changed: Callable[[], None] = lambda: None,
    flush_audit: Callable[[], int] = lambda: 0,
    middlewares: tuple[Middleware, ...] = (),
    client_max_size: int = 64 * 1024,
) -> web.Application:
    """The operator's admin API, behind a bearer secret; ``trust_changed`` is called
    after a CA key rotation (the servers' trust stores and ``ca-bundle.pem`` follow);
    ``flush_audit`` writes the aggregated refusals now (``POST /audit/flush``);
    ``middlewares`` run outside the secret's check (the audit)."""
    app = web.Application(middlewares=[*middlewares, _bearer], client_max_size=client_max_size)
    app[_HOSPITAL] = hospital
    app[_SECRET] = secret
    app[_TRUST_CHANGED] = trust_changed
    app[_FLUSH] = flush_audit
    for action, handler in (("validate", _validate), ("promote", _promote),
                            ("suspend", _suspend), ("resume", _resume),
                            ("rebootstrap", _rebootstrap)):  # fmt: skip
        app.router.add_post(f"/devices/{{device_id}}/{action}", handler)
    app.router.add_post("/ca/rotate", _rotate)
    app.router.add_post("/ehr/idp/rotate", _rotate_idp_key)
    app.router.add_post("/crls/publish", _publish)
    app.router.add_post("/trust/deliver", _deliver_trust)
    app.router.add_post("/audit/flush", _flush)
    app.router.add_post("/devices/{device_id}/hold", _hold)
    app.router.add_post("/faults/ca-outage", _ca_outage)
    app.router.add_post("/faults/blocked-route", _blocked_route)
    app.router.add_post("/faults/pacs-trust-missing", _pacs_trust_missing)
    app.router.add_post("/faults/pacs-outage",
                        _service_outage(FaultKind.PACS_OUTAGE, lambda hospital: None))
    app.router.add_post("/faults/ehr-outage", _service_outage(FaultKind.EHR_OUTAGE, _only_ehr))
    app.router.add_post("/faults/idp-outage", _idp_outage)
    app.router.add_post("/faults/idp-key-rotation", _idp_key_rotation)
    app.router.add_post("/devices", _register)
    app.router.add_get("/devices", _devices)
    app.router.add_get("/network/zones", _zones)
    app.router.add_post("/drift/scan", _drift_scan)
    app.router.add_post("/devices/{device_id}/approve", _approve)
    app.router.add_post("/devices/{device_id}/revoke", _revoke)
    app.router.add_post("/devices/{device_id}/offboard", _offboard)
    app.router.add_post("/devices/{device_id}/jwks", _jwks)
    app.router.add_post("/ehr/patients/{patient}/move", _move_patient)
    return app
