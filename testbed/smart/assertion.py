"""Client assertions: ``private_key_jwt`` per SMART App Launch 2.2
(client-confidential-asymmetric, "Authenticating to the token endpoint") and
RFC 7523 §3.

Checks, in order, each refused with ``invalid_client`` and its own reason:

1. a compact JWS whose header and payload are JSON objects (``assertion-malformed``);
2. header: ``alg`` one the rules and the client allow, RS384 or ES384 (``none``, HS*
   and anything else: ``assertion-alg-refused``); ``typ`` ``JWT``, a ``kid``, no
   ``crit`` (``assertion-header-invalid``); ``jku``, if present, equal to the JWKS
   URL the client registered (``jku-not-registered``);
3. ``sub`` equal to ``iss``, and ``iss`` equal to the request's ``client_id`` if it
   sent one (``assertion-issuer-mismatch``; ``iss`` itself names the client, an
   unknown one is ``client-unknown``, decided by the IdP before these checks);
4. exactly one key of the client's set matching ``kid`` and the ``alg``'s key type
   (``client-key-unresolved``), and the signature under it
   (``assertion-signature-invalid``);
5. ``aud`` the token endpoint URL, compared exactly (``assertion-audience-invalid``):
   a string, or, only where :attr:`AssertionRules.audience_array` allows it
   (RFC 7523 §3 allows several audiences), an array holding it.  The default refuses
   arrays, as draft-ietf-oauth-rfc7523bis requires after the 2025 audience-injection
   findings: an assertion naming several audiences could be replayed at any of them;
6. ``exp`` a number, not past and at most :attr:`AssertionRules.max_lifetime` ahead,
   both with the leeway (``assertion-expired``, ``assertion-lifetime-too-long``);
   ``nbf``, if present, not in the future (``assertion-expired``);
7. ``jti`` a non-empty string (``assertion-malformed``); whether it was seen is the
   replay cache's question, asked by the IdP once all of this has passed.

The signature is checked before the claims are believed, so an unsigned claim never
decides anything but which client's keys to try.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError

from testbed.decisions import Reason
from testbed.json_nesting import nesting
from testbed.smart.jwks import KEY_TYPE_OF, ClientKey, resolve_key
from testbed.smart.refusals import OAuthError, Refusal
from testbed.smart.signatures import FULL_JOSE, Jose, SignatureError

__all__ = [
    "ASSERTION_TYPE",
    "MAX_CLAIMS_DEPTH",
    "SMART_ALGORITHMS",
    "AssertionRules",
    "UnverifiedAssertion",
    "VerifiedAssertion",
    "read_assertion",
    "verify_assertion",
]

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
"""The ``client_assertion_type`` of a JWT client assertion (RFC 7523 §2.2)."""

SMART_ALGORITHMS = ("ES384", "RS384")
"""The signature algorithms SMART requires servers to support, the only ones allowed."""

_MAX_JTI = 256
MAX_CLAIMS_DEPTH = 8
"""The deepest an assertion's claims may nest (RFC 7523's claims are strings, numbers
and an audience list: 2 levels)."""


@dataclass(frozen=True, slots=True)
class AssertionRules:
    """The checks' parameters: ``max_lifetime`` (SMART: ``exp`` at most 5 minutes
    ahead), ``leeway`` for clock skew on ``exp``/``nbf``, and whether ``aud`` may be
    an array that holds the token URL."""

    max_lifetime: timedelta = timedelta(minutes=5)
    leeway: timedelta = timedelta(seconds=30)
    audience_array: bool = False

    def __post_init__(self) -> None:
        if self.max_lifetime <= timedelta(0) or self.leeway < timedelta(0):
            raise ValueError(
                f"max_lifetime must be positive and leeway not negative, got "
                f"{self.max_lifetime} and {self.leeway}"
            )


@dataclass(frozen=True, slots=True)
class UnverifiedAssertion:
    """A client assertion parsed but not yet verified: read only ``iss`` from it."""

    token: str
    header: Mapping[str, Any]
    claims: Mapping[str, Any]

    @property
    def iss(self) -> str:
        """The claimed issuer (the client id it names); ``assertion-malformed`` if absent."""
        iss = self.claims.get("iss")
        if not isinstance(iss, str) or not iss:
            raise _invalid(Reason.ASSERTION_MALFORMED, "the assertion has no 'iss' string")
        return iss


@dataclass(frozen=True, slots=True)
class VerifiedAssertion:
    """An assertion that passed every check but the replay cache."""

    client_id: str
    jti: str
    expires: datetime
    kid: str
    alg: str


def _invalid(reason: Reason, description: str) -> Refusal:
    return Refusal(OAuthError.INVALID_CLIENT, reason, description)


def read_assertion(token: str) -> UnverifiedAssertion:
    """Parse a compact JWS without verifying it (``assertion-malformed`` if it is not)."""
    try:
        compact = jws.extract_compact(token.encode("ascii"))
        header = compact.headers()  # at most 512 characters (joserfc): no deep nesting
        depth = nesting(compact.payload)
        if depth > MAX_CLAIMS_DEPTH:
            raise ValueError(f"its claims nest {depth} levels deep; at most {MAX_CLAIMS_DEPTH}")
        claims = json.loads(compact.payload)
    except (JoseError, ValueError, UnicodeError) as error:
        raise _invalid(Reason.ASSERTION_MALFORMED, f"not a compact JWS: {error}") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise _invalid(Reason.ASSERTION_MALFORMED, "header and claims must be JSON objects")
    return UnverifiedAssertion(token, header, claims)


def verify_assertion(
    assertion: UnverifiedAssertion,
    *,
    keys: tuple[ClientKey, ...],
    algorithms: tuple[str, ...],
    jwks_url: str | None,
    token_url: str,
    request_client_id: str | None,
    now: datetime,
    rules: AssertionRules,
    jose: Jose = FULL_JOSE,
) -> VerifiedAssertion:
    """Every check of the module docstring but replay; :class:`Refusal` on a failure.

    ``keys`` is the client's key set, ``algorithms`` those it registered, ``jwks_url``
    its registered JWKS URL (None when it registered a set inline); ``jose`` the
    fidelity level's signatures (:mod:`testbed.smart.signatures`).
    """
    alg, kid = _check_header(assertion.header, algorithms=algorithms, jwks_url=jwks_url)
    client_id = _check_issuer(assertion.claims, request_client_id)
    _check_signature(assertion.token, keys, kid=kid, alg=alg, jose=jose)
    _check_audience(assertion.claims.get("aud"), token_url, rules)
    expires = _check_times(assertion.claims, now, rules)
    jti = assertion.claims.get("jti")
    if not isinstance(jti, str) or not jti or len(jti) > _MAX_JTI:
        raise _invalid(Reason.ASSERTION_MALFORMED, f"'jti' must be a string of 1-{_MAX_JTI}")
    return VerifiedAssertion(client_id, jti, expires, kid, alg)


def _check_header(
    header: Mapping[str, Any], *, algorithms: tuple[str, ...], jwks_url: str | None
) -> tuple[str, str]:
    alg = header.get("alg")
    if alg not in SMART_ALGORITHMS or alg not in algorithms:
        allowed = sorted(set(SMART_ALGORITHMS) & set(algorithms))
        raise _invalid(Reason.ASSERTION_ALG_REFUSED, f"alg {alg!r} is not one of {allowed}")
    if header.get("typ") != "JWT":
        raise _invalid(Reason.ASSERTION_HEADER_INVALID, f"typ {header.get('typ')!r} is not 'JWT'")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise _invalid(Reason.ASSERTION_HEADER_INVALID, "the header has no 'kid' string")
    if "crit" in header:
        raise _invalid(Reason.ASSERTION_HEADER_INVALID, "no critical header extension is known")
    if "jku" in header and (jwks_url is None or header["jku"] != jwks_url):
        raise _invalid(
            Reason.JKU_NOT_REGISTERED,
            f"jku {header['jku']!r} is not the client's registered JWKS URL",
        )
    return str(alg), kid


def _check_issuer(claims: Mapping[str, Any], request_client_id: str | None) -> str:
    iss = claims.get("iss")
    if claims.get("sub") != iss:
        raise _invalid(Reason.ASSERTION_ISSUER_MISMATCH, "'sub' must equal 'iss'")
    if request_client_id is not None and request_client_id != iss:
        raise _invalid(Reason.ASSERTION_ISSUER_MISMATCH, "'iss' must equal the client_id sent")
    return str(iss)


def _check_signature(
    token: str, keys: tuple[ClientKey, ...], *, kid: str, alg: str, jose: Jose
) -> None:
    candidates = resolve_key(keys, kid=kid, alg=alg)
    if len(candidates) != 1:
        kty = KEY_TYPE_OF[alg][0]
        raise _invalid(
            Reason.CLIENT_KEY_UNRESOLVED,
            f"{len(candidates)} keys of the client's JWKS match kid {kid!r} and kty {kty!r} "
            "(exactly one must)",
        )
    try:
        jose.payload(token, candidates[0].key, alg)
    except SignatureError as error:
        raise _invalid(Reason.ASSERTION_SIGNATURE_INVALID, f"signature: {error}") from None


def _check_audience(aud: object, token_url: str, rules: AssertionRules) -> None:
    if aud == token_url:
        return
    if rules.audience_array and isinstance(aud, list) and token_url in aud:
        return
    why = "an array (not allowed)" if isinstance(aud, list) and token_url in aud else repr(aud)
    raise _invalid(
        Reason.ASSERTION_AUDIENCE_INVALID, f"'aud' must be the token URL {token_url!r}: {why}"
    )


def _number(claims: Mapping[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None and name not in claims:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _invalid(Reason.ASSERTION_MALFORMED, f"{name!r} must be a number of seconds")
    return float(value)


def _check_times(claims: Mapping[str, Any], now: datetime, rules: AssertionRules) -> datetime:
    exp = _number(claims, "exp")
    if exp is None:
        raise _invalid(Reason.ASSERTION_MALFORMED, "the assertion has no 'exp'")
    expires = _time(exp)
    if expires <= now - rules.leeway:
        raise _invalid(Reason.ASSERTION_EXPIRED, f"the assertion expired at {expires}")
    if expires > now + rules.max_lifetime + rules.leeway:
        raise _invalid(
            Reason.ASSERTION_LIFETIME_TOO_LONG,
            f"'exp' {expires} is more than {rules.max_lifetime} ahead",
        )
    nbf = _number(claims, "nbf")
    if nbf is not None and _time(nbf) > now + rules.leeway:
        raise _invalid(Reason.ASSERTION_EXPIRED, f"the assertion is not valid before {nbf}")
    return expires


def _time(seconds: float) -> datetime:
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        raise _invalid(Reason.ASSERTION_MALFORMED, f"time {seconds!r} is out of range") from None
