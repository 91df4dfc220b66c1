"""The identity provider: a SMART Backend Services authorization server, without I/O.

:class:`IdentityProvider` registers, changes, suspends and offboards clients
(:mod:`testbed.smart.clients`), answers token requests (:meth:`IdentityProvider.token`:
``client_credentials`` only) and introspection (RFC 7662), serves its JWKS and rotates
its signing key.  Every method takes the time; transports (the simulation, the live
HTTPS server) parse the HTTP request into a :class:`TokenRequest` and send the
:class:`TokenResponse` back as it is.

A token request, in order (each refusal an RFC 6749 §5.2 error, a reason and an
``error_description``):

1. form: no parameter twice (``invalid_request``); ``grant_type`` present
   (``invalid_request``) and ``client_credentials`` (``unsupported_grant_type``);
2. client authentication by the design's method (:class:`~testbed.smart.settings.ClientAuth`;
   the other method, or none, is ``invalid_client`` ``client-auth-method-refused``):
   ``private_key_jwt``: the assertion checks of :mod:`testbed.smart.assertion`, with
   the client's keys inline or fetched by URL (:class:`~testbed.smart.jwks.JwksCache`;
   unfetchable: ``jwks-unavailable``), then the ``jti`` replay cache
   (``token-replayed``, ``assertion-rate-exceeded``); ``client_secret_basic``: HTTP
   Basic with the shared secret (``client-secret-invalid``); an unknown client id is
   ``client-unknown``;
3. the client's state: suspended or offboarded is ``unauthorized_client``;
4. certificate binding required and no device certificate presented:
   ``invalid_request`` ``cert-binding-required``;
5. scope: present and every scope a system scope (``invalid_scope``
   ``scope-malformed``), mediated with the pre-authorized ones
   (:func:`~testbed.smart.scopes.mediate`; nothing left: ``invalid_scope``
   ``scope-not-authorized``).

Every answer writes one event: ``token-granted`` or ``token-refused`` (subject: the
device of the client the request names, or ``(unauthenticated)``); a grant whose
request asked for other scopes than the mediated ones it got also says what was
``requested`` (SMART-03 of the certification kit).
"""

from __future__ import annotations

import base64
import binascii
import json
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any
from urllib.parse import unquote_plus

from testbed.decisions import Reason
from testbed.events import UNAUTHENTICATED, EventKind, EventLog, Value
from testbed.smart.assertion import (
    ASSERTION_TYPE,
    UnverifiedAssertion,
    read_assertion,
    verify_assertion,
)
from testbed.smart.clients import ClientRegistry, ClientState, SmartClient
from testbed.smart.journal import IdpJournal, KeptIdp, KeptJti
from testbed.smart.jwks import ClientKey, Fetcher, JwksCache, JwksError
from testbed.smart.refusals import OAuthError, Refusal
from testbed.smart.replay import Admission, ReplayCache
from testbed.smart.scopes import ScopeError, format_scopes, mediate, parse_scopes
from testbed.smart.settings import ClientAuth, IdpSettings
from testbed.smart.signatures import FULL_JOSE, Jose
from testbed.smart.tokens import (
    IssuedToken,
    IssuedTokens,
    SigningKeys,
    epoch,
    expiry,
    new_jti,
)
from testbed.smart.verifier import THUMBPRINT_CLAIM, TokenError, read_token

__all__ = [
    "CLAIMED_CHARACTERS",
    "FORGET_EVERY",
    "UNAUTHENTICATED",
    "IdentityProvider",
    "TokenRequest",
    "TokenResponse",
]

FORGET_EVERY = 256
"""Grants between two prunings of a journal's expired tokens and ``jti`` values."""
_CLAIMED = 64  # characters of a claimed (unregistered) client id written to the log
CLAIMED_CHARACTERS = _CLAIMED
"""How much of a claimed (unregistered) client id a refusal event keeps."""
Headers = tuple[tuple[str, str], ...]
_NO_STORE: Headers = (("Cache-Control", "no-store"), ("Pragma", "no-cache"))


@dataclass(frozen=True, slots=True)
class TokenRequest:
    """A parsed token request.

    ``form``: the ``application/x-www-form-urlencoded`` body as (name, value) pairs in
    order, repeats kept; ``token_url``: the token endpoint's URL as the IdP publishes
    it (the transport's configuration, never the request's Host header), which the
    assertion's ``aud`` must equal; ``authorization``: the HTTP ``Authorization``
    header, if any; ``certificate_thumbprint``: the base64url SHA-256 of the DER
    client certificate the request came with over mutual TLS (RFC 8705 ``x5t#S256``),
    which the transport passes only for a certificate its TLS hop accepted as the
    device's.
    """

    form: tuple[tuple[str, str], ...]
    token_url: str
    authorization: str | None = None
    certificate_thumbprint: str | None = None

    @classmethod
    def of(
        cls,
        form: Mapping[str, str] | Iterable[tuple[str, str]],
        *,
        token_url: str,
        authorization: str | None = None,
        certificate_thumbprint: str | None = None,
    ) -> TokenRequest:
        """A request from a mapping or pairs (tests, the simulation)."""
        pairs = tuple(form.items()) if isinstance(form, Mapping) else tuple(form)
        return cls(pairs, token_url, authorization, certificate_thumbprint)


@dataclass(frozen=True, slots=True)
class TokenResponse:
    """The token endpoint's answer, ready for an HTTP server (JSON body, RFC 6749 §5)."""

    status: int
    body: Mapping[str, Value]
    headers: Headers
    reason: Reason
    client_id: str | None = None

    @property
    def granted(self) -> bool:
        """Whether a token was issued."""
        return self.status == 200

    @property
    def error(self) -> OAuthError | None:
        """The RFC 6749 error of a refusal."""
        error = self.body.get("error")
        return None if error is None else OAuthError(str(error))

    def json(self) -> bytes:
        """The body as the server sends it."""
        return json.dumps(dict(self.body), sort_keys=True).encode()


@dataclass(slots=True)
class _Context:
    """What a request has shown so far (for the event of its answer)."""

    claimed: str | None = None
    client: SmartClient | None = None
    authenticated: bool = False


@dataclass(slots=True)
class _Stats:
    granted: int = 0
    refused: dict[Reason, int] = field(default_factory=dict)


class IdentityProvider:
    """The hospital's SMART authorization server.

    ``issuer``: its identifier (the ``iss`` of its tokens); ``audience``: the
    resource servers its tokens are for (the FHIR base URL); ``rng``: the run's
    generator (signing keys, token ids); ``fetcher``: how JWKS URLs are fetched (no
    fetcher: clients registered by URL cannot authenticate, ``jwks-unavailable``).
    """

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        rng: random.Random,
        now: datetime,
        settings: IdpSettings | None = None,
        fetcher: Fetcher | None = None,
        log: EventLog | None = None,
        jose: Jose = FULL_JOSE,
    ) -> None:
        self.issuer = issuer
        #: how its tokens are signed and assertions checked (the fidelity level)
        self.jose = jose
        self.audience = audience
        self.settings = settings if settings is not None else IdpSettings()
        self.log = log
        self.clients = ClientRegistry()
        self.signing_keys = SigningKeys(rng=rng, now=now, jose=jose)
        self.issued = IssuedTokens()
        self.replay = ReplayCache(per_issuer=self.settings.replay_per_issuer)
        self.jwks_cache = JwksCache(fetcher or _no_fetcher, self.settings.jwks_fetch)
        self.stats = _Stats()
        self._rng = rng
        #: where a durable transport keeps what changes (None: nowhere, the simulation)
        self.journal: IdpJournal | None = None

    def restore(self, kept: KeptIdp, *, now: datetime) -> None:
        """Continue an IdP a journal kept: its clients, signing keys, the tokens and
        ``jti`` values still live at ``now``."""
        self.clients.restore(kept.clients)
        self.signing_keys.restore(kept.signing_keys)
        for token in kept.tokens:
            if token.expires > now:
                self.issued.add(token)
        for seen in kept.jtis:
            if seen.until > now:
                self.replay.admit(seen.iss, seen.jti, until=seen.until, now=now)

    def _keep_client(self, client: SmartClient) -> None:
        if self.journal is not None:
            self.journal.save_client(client)

    # -- clients ---------------------------------------------------------------

    def register(
        self,
        client_id: str,
        *,
        device_id: str,
        scopes: str,
        now: datetime,
        jwks: Mapping[str, Any] | None = None,
        jwks_url: str | None = None,
        secret: str | None = None,
        algorithms: tuple[str, ...] = ("ES384", "RS384"),
    ) -> SmartClient:
        """Register the client of a device (see :meth:`ClientRegistry.register`)."""
        client = self.clients.register(
            client_id, device_id=device_id, scopes=scopes, jwks=jwks, jwks_url=jwks_url,
            secret=secret, algorithms=algorithms,
        )  # fmt: skip
        self._keep_client(client)
        self._changed(client, "registered", now, scopes=format_scopes(client.scopes))
        return client

    def replace_keys(
        self,
        client_id: str,
        *,
        now: datetime,
        jwks: Mapping[str, Any] | None = None,
        jwks_url: str | None = None,
    ) -> SmartClient:
        """Replace a client's JWK Set or URL (the cached copy of the old URL is dropped)."""
        old = self.clients.get(client_id)
        client = self.clients.replace_keys(client_id, jwks=jwks, jwks_url=jwks_url)
        if old is not None and old.jwks_url is not None:
            self.jwks_cache.forget(old.jwks_url)
        self._keep_client(client)
        self._changed(client, "keys-replaced", now)
        return client

    def suspend(self, client_id: str, *, now: datetime) -> SmartClient:
        """Refuse the client's requests and make its tokens inactive until resumed."""
        return self._set_state(client_id, ClientState.SUSPENDED, now)

    def resume(self, client_id: str, *, now: datetime) -> SmartClient:
        """Let a suspended client get tokens again."""
        return self._set_state(client_id, ClientState.ACTIVE, now)

    def offboard(self, client_id: str, *, now: datetime) -> SmartClient:
        """Refuse the client for good; its issued tokens are inactive at once."""
        client = self._set_state(client_id, ClientState.OFFBOARDED, now)
        self.replay.forget(client_id)
        return client

    def _set_state(self, client_id: str, state: ClientState, now: datetime) -> SmartClient:
        client = self.clients.set_state(client_id, state)
        self._keep_client(client)
        self._changed(client, state.value, now)
        return client

    def _changed(self, client: SmartClient, action: str, now: datetime, **data: Value) -> None:
        if self.log is not None:
            self.log.emit(
                now, EventKind.SMART_CLIENT_CHANGED, client.device_id,
                client_id=client.client_id, action=action, **data,
            )  # fmt: skip

    # -- keys ------------------------------------------------------------------

    def jwks(self, now: datetime) -> dict[str, Any]:
        """The IdP's public JWK Set at ``now`` (current key and those in overlap)."""
        return self.signing_keys.jwks(now)

    def rotate_signing_key(self, *, now: datetime, overlap: timedelta) -> str:
        """Sign with a new key from ``now``; the old one stays published for ``overlap``."""
        key = self.signing_keys.rotate(now=now, overlap=overlap)
        if self.journal is not None:
            self.journal.save_signing_keys(self.signing_keys.all())
        if self.log is not None:
            self.log.emit(
                now, EventKind.IDP_KEY_ROTATED, "idp", kid=key.kid,
                overlap_s=int(overlap.total_seconds()),
            )  # fmt: skip
        return key.kid

    # -- token endpoint --------------------------------------------------------

    def token(self, request: TokenRequest, *, now: datetime) -> TokenResponse:
        """Answer one token request (module docstring); writes one event."""
        context = _Context()
        try:
            return self._grant(request, context, now)
        except Refusal as refusal:
            return self._refuse(refusal, context, now)

    def jwks_due(self, request: TokenRequest, *, now: datetime) -> str | None:
        """The registered JWKS URL answering ``request`` now would fetch (that of the
        client its assertion names, when the cache holds no fresh copy), else None:
        what a transport may fetch off its event loop first (the answer is still
        decided by :meth:`token`, which refuses what this does not look at)."""
        if self.settings.client_auth is not ClientAuth.PRIVATE_KEY_JWT:
            return None
        try:  # the checks the request meets before its keys are needed
            form = _form(request.form)
            _check_grant(form)
            iss = _assertion(request, form).iss
        except Refusal:
            return None
        client = self.clients.get(iss)
        url = None if client is None else client.jwks_url
        return url if url is not None and self.jwks_cache.due(url, now=now) else None

    def _grant(self, request: TokenRequest, context: _Context, now: datetime) -> TokenResponse:
        form = _form(request.form)
        _check_grant(form)
        client = self._authenticate(request, form, context, now)
        _check_state(client)
        thumbprint = request.certificate_thumbprint
        if self.settings.certificate_bound and thumbprint is None:
            raise Refusal(OAuthError.INVALID_REQUEST, Reason.CERT_BINDING_REQUIRED,
                          "tokens are certificate-bound: request over mutual TLS "
                          "with the device certificate")  # fmt: skip
        scope = _mediated(form.get("scope"), client)
        return self._issue(client, scope, thumbprint, now, requested=form.get("scope"))

    def _authenticate(
        self, request: TokenRequest, form: dict[str, str], context: _Context, now: datetime
    ) -> SmartClient:
        if self.settings.client_auth is ClientAuth.CLIENT_SECRET_BASIC:
            return self._authenticate_secret(request, form, context)
        return self._authenticate_assertion(request, form, context, now)

    def _authenticate_assertion(
        self, request: TokenRequest, form: dict[str, str], context: _Context, now: datetime
    ) -> SmartClient:
        assertion = _assertion(request, form)
        client = self._client(assertion.iss, context)
        verified = verify_assertion(
            assertion, keys=self._keys_of(client, now), algorithms=client.algorithms,
            jwks_url=client.jwks_url, token_url=request.token_url,
            request_client_id=form.get("client_id"), now=now, rules=self.settings.assertion,
            jose=self.jose,
        )  # fmt: skip
        until = verified.expires + self.settings.assertion.leeway
        admission = self.replay.admit(client.client_id, verified.jti, until=until, now=now)
        if admission is Admission.NEW and self.journal is not None:
            self.journal.save_jti(KeptJti(client.client_id, verified.jti, until))
        if admission is Admission.REPLAYED:
            raise Refusal(OAuthError.INVALID_CLIENT, Reason.TOKEN_REPLAYED,
                          f"jti {verified.jti[:_CLAIMED]!r} was already used")  # fmt: skip
        if admission is Admission.FULL:
            raise Refusal(OAuthError.INVALID_CLIENT, Reason.ASSERTION_RATE_EXCEEDED,
                          "too many assertions within their lifetime; retry later")  # fmt: skip
        context.authenticated = True
        return client

    def _authenticate_secret(
        self, request: TokenRequest, form: dict[str, str], context: _Context
    ) -> SmartClient:
        if "client_assertion" in form or "client_secret" in form:
            raise _method_refused("authenticate with HTTP Basic (client_secret_basic)")
        client_id, secret = _basic(request.authorization)
        client = self._client(client_id, context)
        if form.get("client_id", client_id) != client_id:
            raise Refusal(OAuthError.INVALID_REQUEST, Reason.TOKEN_REQUEST_INVALID,
                          "client_id differs from the authenticated client")  # fmt: skip
        if not client.secret_matches(secret):
            raise Refusal(OAuthError.INVALID_CLIENT, Reason.CLIENT_SECRET_INVALID,
                          "the client secret is wrong")  # fmt: skip
        context.authenticated = True
        return client

    def _client(self, client_id: str, context: _Context) -> SmartClient:
        context.claimed = client_id
        client = self.clients.get(client_id)
        if client is None:
            raise Refusal(OAuthError.INVALID_CLIENT, Reason.CLIENT_UNKNOWN,
                          f"no client {client_id[:_CLAIMED]!r} is registered")  # fmt: skip
        context.client = client
        return client

    def _keys_of(self, client: SmartClient, now: datetime) -> tuple[ClientKey, ...]:
        if client.jwks_url is None:
            if not client.keys:
                raise _method_refused("the client registered a secret, not a JWK Set")
            return client.keys
        try:
            return self.jwks_cache.keys(client.jwks_url, now=now)
        except JwksError as error:
            described = f"the client's JWKS URL could not be used: {error}"
            raise Refusal(OAuthError.INVALID_CLIENT, Reason.JWKS_UNAVAILABLE, described) from None

    def _issue(
        self, client: SmartClient, scope: str, thumbprint: str | None, now: datetime, *,
        requested: str | None = None,
    ) -> TokenResponse:
        lifetime = self.settings.token_lifetime
        expires = expiry(now, lifetime)
        jti = new_jti(self._rng)
        claims: dict[str, Any] = {
            "iss": self.issuer, "sub": client.client_id, "client_id": client.client_id,
            "aud": self.audience, "scope": scope, "iat": epoch(now), "exp": epoch(expires),
            "jti": jti,
        }  # fmt: skip
        if thumbprint is not None:
            claims["cnf"] = {THUMBPRINT_CLAIM: thumbprint}
        access_token = self.signing_keys.sign(claims, now=now)
        issued = IssuedToken(jti, client.client_id, scope, expires, thumbprint)
        self.issued.add(issued, now=now)
        if self.journal is not None:
            self.journal.save_token(issued)
        expires_in = int(lifetime.total_seconds())
        self.stats.granted += 1
        if self.journal is not None and self.stats.granted % FORGET_EVERY == 0:
            self.journal.forget_expired(now)  # the kept expired ones too
        if self.log is not None:
            self.log.emit(
                now, EventKind.TOKEN_GRANTED, client.device_id, client_id=client.client_id,
                scope=scope, expires_in=expires_in, bound=thumbprint is not None, jti=jti,
                auth=self.settings.client_auth.value, **_asked(requested, scope),
            )  # fmt: skip
        body: dict[str, Value] = {
            "access_token": access_token, "token_type": "bearer",
            "expires_in": expires_in, "scope": scope,
        }  # fmt: skip
        return TokenResponse(200, MappingProxyType(body), _NO_STORE, Reason.OK, client.client_id)

    def _refuse(self, refusal: Refusal, context: _Context, now: datetime) -> TokenResponse:
        client = context.client
        count = self.stats.refused
        count[refusal.reason] = count.get(refusal.reason, 0) + 1
        if self.log is not None:
            claimed = (context.claimed or "")[:_CLAIMED]
            self.log.emit(
                now, EventKind.TOKEN_REFUSED,
                client.device_id if client is not None else UNAUTHENTICATED,
                client_id=claimed, authenticated=context.authenticated,
                error=refusal.error.value, reason=refusal.reason.value,
                status=refusal.error.status, detail=refusal.description,
            )  # fmt: skip
        headers: Headers = _NO_STORE
        if refusal.error is OAuthError.INVALID_CLIENT and (
            self.settings.client_auth is ClientAuth.CLIENT_SECRET_BASIC
        ):
            headers = (*headers, ("WWW-Authenticate", 'Basic realm="token"'))
        body: dict[str, Value] = {
            "error": refusal.error.value, "error_description": refusal.description,
        }  # fmt: skip
        return TokenResponse(
            refusal.error.status, MappingProxyType(body), headers, refusal.reason,
            client.client_id if client is not None else None,
        )  # fmt: skip

    # -- introspection (RFC 7662) ------------------------------------------------

    def introspect(self, token: str, *, now: datetime) -> dict[str, Value]:
        """RFC 7662 §2.2: ``{"active": false}``, or ``active``, ``scope``,
        ``client_id``, ``exp`` (and ``sub``, ``iss``, ``token_type``) of a token this IdP
        issued, unexpired, whose client is active now.  Writes a ``token-introspected``
        event.  (Authenticating the caller, RFC 7662 §2.1, is the transport's.)"""
        issued, reason = self._introspected(token, now)
        client = self.clients.get(issued.client_id) if issued is not None else None
        if self.log is not None:
            self.log.emit(
                now, EventKind.TOKEN_INTROSPECTED,
                client.device_id if client is not None else UNAUTHENTICATED,
                client_id=issued.client_id if issued is not None else "",
                active=reason is Reason.OK, reason=reason.value,
            )  # fmt: skip
        if issued is None or reason is not Reason.OK:
            return {"active": False}
        return {
            "active": True, "scope": issued.scope, "client_id": issued.client_id,
            "sub": issued.client_id, "exp": epoch(issued.expires), "iss": self.issuer,
            "token_type": "bearer",
        }  # fmt: skip

    def _introspected(self, token: str, now: datetime) -> tuple[IssuedToken | None, Reason]:
        keys = {k.kid: k.key for k in self.signing_keys.published(now)}
        try:
            claims = read_token(token, keys=keys, issuer=self.issuer, audience=None,
                                now=now, leeway=timedelta(0), jose=self.jose)  # fmt: skip
        except TokenError as error:
            return None, error.reason
        issued = self.issued.get(str(claims.get("jti")), now=now)
        if issued is None:
            return None, Reason.TOKEN_INACTIVE
        client = self.clients.get(issued.client_id)
        if client is None or client.state is not ClientState.ACTIVE:
            return issued, Reason.TOKEN_INACTIVE
        return issued, Reason.OK


def _no_fetcher(url: str) -> Any:
    raise JwksError(f"no JWKS fetcher is configured; cannot fetch {url!r}")


def _form(pairs: tuple[tuple[str, str], ...]) -> dict[str, str]:
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            raise Refusal(OAuthError.INVALID_REQUEST, Reason.TOKEN_REQUEST_INVALID,
                          f"parameter {name[:_CLAIMED]!r} is repeated (RFC 6749 §3.2)")  # fmt: skip
        form[name] = value
    return form


def _check_grant(form: dict[str, str]) -> None:
    """A client-credentials grant, else the :class:`Refusal`."""
    grant_type = form.get("grant_type")
    if grant_type is None:
        raise Refusal(OAuthError.INVALID_REQUEST, Reason.TOKEN_REQUEST_INVALID,
                      "grant_type is required")  # fmt: skip
    if grant_type != "client_credentials":
        described = f"grant_type {grant_type[:_CLAIMED]!r} is not client_credentials"
        raise Refusal(OAuthError.UNSUPPORTED_GRANT_TYPE, Reason.GRANT_TYPE_UNSUPPORTED,
                      described)  # fmt: skip


def _assertion(request: TokenRequest, form: dict[str, str]) -> UnverifiedAssertion:
    """The client assertion of a private_key_jwt request, parsed, not yet verified."""
    if request.authorization is not None or "client_secret" in form:
        raise _method_refused("authenticate with private_key_jwt, not a client secret")
    token = form.get("client_assertion")
    if form.get("client_assertion_type") != ASSERTION_TYPE or token is None:
        raise _method_refused(
            f"client_assertion_type must be {ASSERTION_TYPE!r} with a client_assertion"
        )
    return read_assertion(token)


def _method_refused(description: str) -> Refusal:
    return Refusal(OAuthError.INVALID_CLIENT, Reason.CLIENT_AUTH_METHOD_REFUSED, description)


def _basic(authorization: str | None) -> tuple[str, str]:
    """``(client_id, secret)`` of an HTTP Basic header (RFC 6749 §2.3.1: each part
    form-urlencoded before base64)."""
    scheme, _, encoded = (authorization or "").partition(" ")
    if scheme.lower() != "basic":
        raise _method_refused("HTTP Basic client authentication is required")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise _method_refused("the Basic credentials are not base64 of UTF-8") from None
    client_id, colon, secret = decoded.partition(":")
    if not colon or not client_id:
        raise _method_refused("the Basic credentials are not client_id:secret")
    return unquote_plus(client_id), unquote_plus(secret)


def _check_state(client: SmartClient) -> None:
    if client.state is ClientState.SUSPENDED:
        raise Refusal(OAuthError.UNAUTHORIZED_CLIENT, Reason.CLIENT_SUSPENDED,
                      f"client {client.client_id!r} is suspended")  # fmt: skip
    if client.state is ClientState.OFFBOARDED:
        raise Refusal(OAuthError.UNAUTHORIZED_CLIENT, Reason.CLIENT_OFFBOARDED,
                      f"client {client.client_id!r} is offboarded")  # fmt: skip


def _asked(requested: str | None, granted: str) -> dict[str, Value]:
    """``requested``: what the client asked for, when it is not what it got (SMART:
    a client asks only for what it was pre-authorized; the grant is mediated)."""
    if requested is None or format_scopes(parse_scopes(requested)) == granted:
        return {}
    return {"requested": requested[:200]}


def _mediated(requested: str | None, client: SmartClient) -> str:
    if not requested or not requested.strip():
        raise Refusal(OAuthError.INVALID_SCOPE, Reason.SCOPE_MALFORMED, "scope is required")
    try:
        scopes = parse_scopes(requested)
    except ScopeError as error:
        raise Refusal(OAuthError.INVALID_SCOPE, Reason.SCOPE_MALFORMED, str(error)) from None
    granted = mediate(scopes, client.scopes)
    if not granted:
        raise Refusal(OAuthError.INVALID_SCOPE, Reason.SCOPE_NOT_AUTHORIZED,
                      f"none of {requested[:200]!r} is pre-authorized for this client")  # fmt: skip
    return format_scopes(granted)
