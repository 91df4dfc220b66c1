"""Checking an access token where it is used: the resource server's token hop.

:class:`TokenVerifier` is what the EHR calls with the bearer token of a request, the
SHA-256 thumbprint of the client certificate the request came with (if any) and the
time.  Checks, in order, each a :class:`~testbed.decisions.Decision` with its reason:

1. a token at all, a compact JWS with header ``typ`` ``at+jwt`` and an algorithm the
   IdP signs with (``token-invalid``);
2. its ``kid`` among the IdP keys the relying party holds now
   (:class:`~testbed.smart.relying.IdpJwksCache`; a key the copy lacks, as after a
   rotation seen through a stale cache, or a JWKS that cannot be fetched:
   ``token-key-unknown``), and the signature under that key (``token-invalid``);
3. ``iss`` the IdP, ``aud`` naming this resource server (``token-invalid``);
4. ``exp`` not past, with the leeway (``token-expired``);
5. the binding (RFC 8705 §3): a token with ``cnf.x5t#S256`` only with that
   certificate; without ``cnf`` only where binding is not required
   (``token-cert-mismatch``);
6. if an introspection callable is given, ``active`` (``token-inactive``: an
   offboarded or suspended client's tokens, at once).

The same checks 1-4 serve the IdP's own introspection (:func:`read_token`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, RSAKey

from testbed.decisions import Decision, Hop, Reason
from testbed.smart.jwks import JwksError
from testbed.smart.relying import IdpJwksCache
from testbed.smart.scopes import Scope, ScopeError, parse_scopes
from testbed.smart.signatures import FULL_JOSE, Jose, SignatureError
from testbed.smart.tokens import ACCESS_TOKEN_TYPE

__all__ = ["THUMBPRINT_CLAIM", "TokenCheck", "TokenError", "TokenVerifier", "read_token"]

THUMBPRINT_CLAIM = "x5t#S256"
"""The ``cnf`` member naming a certificate by its SHA-256 (RFC 8705 §3.1)."""

_ALGORITHMS = ("ES384", "RS384")

Introspect = Callable[[str, datetime], Mapping[str, Any]]
"""Asks the IdP about a token (RFC 7662); the answer has at least ``active``."""


class TokenError(Exception):
    """Internal: a token check failed with ``reason``."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def read_token(
    token: str,
    *,
    keys: Mapping[str, ECKey | RSAKey],
    issuer: str,
    audience: str | None,
    now: datetime,
    leeway: timedelta,
    jose: Jose = FULL_JOSE,
) -> dict[str, Any]:
    """The claims of a valid access token (checks 1-4); :class:`TokenError` if not.
    ``audience`` None skips the audience check (the IdP reading its own tokens)."""
    try:
        compact = jws.extract_compact(token.encode("ascii"))
        header = compact.headers()
    except (JoseError, ValueError, UnicodeError) as error:
        raise TokenError(Reason.TOKEN_INVALID, f"not a compact JWS: {error}") from None
    alg, kid = header.get("alg"), header.get("kid")
    if header.get("typ") != ACCESS_TOKEN_TYPE or alg not in _ALGORITHMS:
        raise TokenError(Reason.TOKEN_INVALID, f"not an access token (typ, alg {alg!r})")
    key = keys.get(kid) if isinstance(kid, str) else None
    if key is None:
        raise TokenError(Reason.TOKEN_KEY_UNKNOWN, f"no IdP key {kid!r} is known here")
    try:
        claims = json.loads(jose.payload(token, key, str(alg)))
    except SignatureError as error:
        raise TokenError(Reason.TOKEN_INVALID, f"signature: {error}") from None
    except ValueError as error:
        raise TokenError(Reason.TOKEN_INVALID, f"payload: {error}") from None
    if not isinstance(claims, dict) or claims.get("iss") != issuer:
        raise TokenError(Reason.TOKEN_INVALID, f"not issued by {issuer!r}")
    aud = claims.get("aud")
    if audience is not None and audience != aud and not (isinstance(aud, list) and audience in aud):
        raise TokenError(Reason.TOKEN_INVALID, f"audience {aud!r} does not name {audience!r}")
    exp = claims.get("exp")
    if isinstance(exp, bool) or not isinstance(exp, int | float):
        raise TokenError(Reason.TOKEN_INVALID, "the token has no numeric 'exp'")
    if exp <= (now - leeway).timestamp():
        raise TokenError(Reason.TOKEN_EXPIRED, f"expired at {datetime.fromtimestamp(exp, UTC)}")
    return claims


@dataclass(frozen=True, slots=True)
class TokenCheck:
    """The token hop's answer: the decision and, when allowed, whose token and what for."""

    decision: Decision
    client_id: str | None = None
    scopes: tuple[Scope, ...] = ()
    jti: str | None = None

    @property
    def allowed(self) -> bool:
        """Whether the token is accepted."""
        return self.decision.allowed

    @property
    def reason(self) -> Reason:
        """Why (``ok`` when accepted)."""
        return self.decision.reason


def _deny(reason: Reason, detail: str) -> TokenCheck:
    return TokenCheck(Decision.deny(reason, Hop.APPLICATION, detail))


class TokenVerifier:
    """A resource server's check of bearer tokens from one IdP."""

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        jwks: IdpJwksCache,
        introspect: Introspect | None = None,
        require_binding: bool = False,
        leeway: timedelta = timedelta(seconds=30),
        jose: Jose = FULL_JOSE,
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self.jwks = jwks
        self.introspect = introspect
        self.require_binding = require_binding
        self.leeway = leeway
        self.jose = jose

    def verify(
        self, token: str | None, *, now: datetime, certificate_thumbprint: str | None = None
    ) -> TokenCheck:
        """Check a bearer token presented at ``now`` (see the module docstring)."""
        if not token:
            return _deny(Reason.TOKEN_INVALID, "no bearer token")
        try:
            keys = self.jwks.keys(now=now)
        except JwksError as error:
            return _deny(Reason.TOKEN_KEY_UNKNOWN, f"the IdP's JWKS is unavailable: {error}")
        try:
            claims = read_token(
                token, keys=keys, issuer=self.issuer, audience=self.audience,
                now=now, leeway=self.leeway, jose=self.jose,
            )  # fmt: skip
            self._check_binding(claims, certificate_thumbprint)
            self._check_active(token, now)
            scopes = parse_scopes(str(claims.get("scope", "")))
        except TokenError as error:
            return _deny(error.reason, error.detail)
        except ScopeError as error:
            return _deny(Reason.TOKEN_INVALID, str(error))
        client_id, jti = claims.get("client_id"), claims.get("jti")
        return TokenCheck(
            Decision.allow(Hop.APPLICATION),
            client_id if isinstance(client_id, str) else None,
            scopes,
            jti if isinstance(jti, str) else None,
        )

    def _check_binding(self, claims: Mapping[str, Any], presented: str | None) -> None:
        cnf = claims.get("cnf")
        bound = cnf.get(THUMBPRINT_CLAIM) if isinstance(cnf, dict) else None
        if bound is None and not self.require_binding:
            return
        if bound is None:
            raise TokenError(Reason.TOKEN_CERT_MISMATCH, "only certificate-bound tokens are taken")
        if presented != bound:
            raise TokenError(
                Reason.TOKEN_CERT_MISMATCH,
                "the token is bound to another certificate"
                if presented
                else "the token is bound to a certificate and none was presented",
            )

    def _check_active(self, token: str, now: datetime) -> None:
        if self.introspect is not None and self.introspect(token, now).get("active") is not True:
            raise TokenError(Reason.TOKEN_INACTIVE, "the IdP says the token is not active")
