"""The identity provider's HTTP face: SMART discovery, token endpoint, JWKS, introspection.

A thin translation to :class:`~testbed.smart.idp.IdentityProvider` (docs/smart.md,
"The seam", live bullet), served over HTTPS on the EHR listener
(:mod:`testbed.live.ehr_server`):

- ``GET {fhir}/.well-known/smart-configuration``: the discovery document of
  :func:`~testbed.smart.discovery.smart_configuration` with the published URLs;
- ``POST /auth/token``: the form parsed as (name, value) pairs in order with repeats
  kept (the core refuses a repeat), the ``Authorization`` header, and the CONFIGURED
  token URL (never the Host header), which the assertion's ``aud`` must equal; the
  client certificate's ``x5t#S256`` only once the TLS hop accepted it as the device's
  (:data:`TokenEntry` decides); the core's status, headers and JSON body sent as they are;
- ``GET /auth/jwks``: the IdP's public keys now;
- ``POST /auth/introspect``: RFC 7662, the caller authenticated by a bearer secret
  (``DIR/introspection.secret``, RFC 7662 §2.1: "the protected resource ... MUST
  authenticate"); a wrong or missing secret is 401 and an aggregated refusal.

Every answer that changes the IdP (a grant, a refusal that spent a ``jti``) runs in
one transaction of the hospital's store (``transaction``), so it is on disk before
the answer leaves.
"""

from __future__ import annotations

import contextlib
import hmac
import json
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from aiohttp import hdrs, web

from testbed.live.guard import audited
from testbed.live.jwks_fetch import OffLoopFetcher
from testbed.live.peer import peer_address, peer_certificate
from testbed.smart.discovery import smart_configuration
from testbed.smart.idp import IdentityProvider, TokenRequest, TokenResponse

if TYPE_CHECKING:
    from cryptography import x509

__all__ = ["AUTH_PATH", "IdpUrls", "SmartFace", "TokenEntry", "add_smart_routes"]

AUTH_PATH = "/auth"
DISCOVERY = "/.well-known/smart-configuration"
_FORM = "application/x-www-form-urlencoded"

TokenEntry = Callable[[TokenRequest, "x509.Certificate | None", str | None, datetime],
                      TokenResponse]  # fmt: skip
"""Answers one token request: the parsed request (no thumbprint yet), the client
certificate the TLS handshake presented, the source address, and the time.  It adds
the certificate's thumbprint only if the TLS hop accepts the certificate as the
client's device's (the hospital's shared token entry)."""


@dataclass(frozen=True, slots=True)
class IdpUrls:
    """The IdP's published URLs (``endpoints.json``, the discovery document)."""

    issuer: str
    token: str
    jwks: str
    introspect: str

    @classmethod
    def at(cls, origin: str) -> IdpUrls:
        """The URLs of an IdP served at ``origin`` (``https://127.0.0.1:PORT``)."""
        auth = origin + AUTH_PATH
        return cls(auth, f"{auth}/token", f"{auth}/jwks", f"{auth}/introspect")


@dataclass(frozen=True, slots=True)
class SmartFace:
    """What the IdP's routes need: the core, its URLs, the clock, a store transaction,
    the token entry and the introspection secret."""

    idp: IdentityProvider
    urls: IdpUrls
    now: Callable[[], datetime]
    transaction: Callable[[], AbstractContextManager[None]]
    token_entry: TokenEntry
    introspection_secret: str
    #: fetches a client's JWKS URL off the event loop before its token request is
    #: answered (None: the core fetches when it needs to)
    fetcher: OffLoopFetcher | None = None
    #: the JWKS URL a token request would make the core fetch now, or None
    jwks_due: Callable[[TokenRequest, datetime], str | None] = lambda _, __: None


_FACE: web.AppKey[SmartFace] = web.AppKey("smart", SmartFace)


def _json(status: int, body: bytes, headers: Sequence[tuple[str, str]] = ()) -> web.Response:
    return web.Response(status=status, body=body, headers=dict(headers),
                        content_type="application/json")  # fmt: skip


def _pairs(raw: bytes) -> tuple[tuple[str, str], ...] | None:
    """The form's pairs in order, repeats kept; None if it is not UTF-8 form data."""
    try:
        text = raw.decode("utf-8")
        return tuple(parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text)))
    except (UnicodeDecodeError, ValueError):
        return None


def _bad_form(detail: str) -> web.Response:
    body = {"error": "invalid_request", "error_description": detail}
    return _json(400, json.dumps(body).encode(), (("Cache-Control", "no-store"),))


async def _configuration(request: web.Request) -> web.Response:
    face = request.app[_FACE]
    urls = face.urls
    document = smart_configuration(issuer=urls.issuer, token_url=urls.token, jwks_url=urls.jwks,
                                   introspection_url=urls.introspect,
                                   settings=face.idp.settings)  # fmt: skip
    return web.json_response(document)


async def _token(request: web.Request) -> web.Response:
    face = request.app[_FACE]
    if request.content_type != _FORM:
        return _bad_form(f"the token request must be {_FORM}, not {request.content_type!r}")
    pairs = _pairs(await request.read())
    if pairs is None:
        return _bad_form("the body is not UTF-8 application/x-www-form-urlencoded data")
    parsed = TokenRequest(pairs, face.urls.token, request.headers.get(hdrs.AUTHORIZATION))
    handed: AbstractContextManager[None] = contextlib.nullcontext()
    due = face.jwks_due(parsed, face.now())
    if due is not None and face.fetcher is not None:  # fetched off the loop first
        handed = face.fetcher.handing(due, await face.fetcher.prefetch(due))
    with handed, face.transaction():
        answer = face.token_entry(parsed, peer_certificate(request.transport),
                                  peer_address(request.transport), face.now())  # fmt: skip
    audited(request)  # the IdP wrote the answer's event
    return _json(answer.status, answer.json(), answer.headers)


async def _jwks(request: web.Request) -> web.Response:
    face = request.app[_FACE]
    return web.json_response(face.idp.jwks(face.now()), headers={"Cache-Control": "no-cache"})


async def _introspect(request: web.Request) -> web.Response:
    face = request.app[_FACE]
    scheme, _, secret = request.headers.get(hdrs.AUTHORIZATION, "").partition(" ")
    expected = face.introspection_secret.encode()
    if scheme.lower() != "bearer" or not hmac.compare_digest(secret.encode(), expected):
        # the guard's middleware tallies this 401 as a refusal
        return web.json_response({"error": "invalid_token",
                                  "error_description": "introspection needs the bearer "
                                  "secret of DIR/introspection.secret"}, status=401,
                                 headers={"WWW-Authenticate": 'Bearer realm="introspect"'})
    if request.content_type != _FORM:
        return _bad_form(f"an introspection request must be {_FORM}")
    pairs = _pairs(await request.read())
    tokens = [value for name, value in pairs or () if name == "token"]
    if len(tokens) != 1:
        return _bad_form("give exactly one 'token' parameter (RFC 7662 §2.1)")
    with face.transaction():
        answer = face.idp.introspect(tokens[0], now=face.now())
    audited(request)  # the IdP wrote a token-introspected event
    return web.json_response(answer, headers={"Cache-Control": "no-store"})


def add_smart_routes(app: web.Application, face: SmartFace, *, fhir_path: str) -> None:
    """Add the IdP's routes to ``app`` (discovery under the FHIR base path ``fhir_path``)."""
    app[_FACE] = face
    app.router.add_get(fhir_path + DISCOVERY, _configuration)
    app.router.add_post(f"{AUTH_PATH}/token", _token)
    app.router.add_get(f"{AUTH_PATH}/jwks", _jwks)
    app.router.add_post(f"{AUTH_PATH}/introspect", _introspect)
