"""Access tokens: the IdP's signing keys (rotation with overlap) and the tokens it issued.

An access token is a JWT (RFC 9068 profile: header ``typ`` ``at+jwt``, so it can never
pass as a client assertion, whose ``typ`` is ``JWT``) signed ES384 by the IdP's current
key, with ``iss``, ``sub`` = ``client_id``, ``client_id``, ``aud`` (the resource
servers), ``scope``, ``iat``, ``exp``, ``jti`` and, when the token request came over
mutual TLS with a device certificate, ``cnf: {"x5t#S256": ...}`` (RFC 8705 §3.1).

Rotation (:meth:`SigningKeys.rotate`): a new key signs from now on; the previous one
stays published in the JWKS for an overlap, so a relying party whose cache predates
the rotation still verifies tokens signed before it, and one that refreshes within
the overlap verifies both.  The overlap should be at least the token lifetime plus
the relying parties' cache lifetime; shorter is a fault a scenario may choose.

Keys are derived from the run's random generator (as the CA's device keys are), so
key ids, and so events, are the same for the same seed.
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from joserfc.jwk import ECKey

from testbed.smart.signatures import FULL_JOSE, Jose

__all__ = [
    "ACCESS_TOKEN_TYPE",
    "TOKEN_ALGORITHM",
    "IssuedToken",
    "IssuedTokens",
    "SigningKey",
    "SigningKeys",
    "epoch",
    "expiry",
    "new_jti",
]

ACCESS_TOKEN_TYPE = "at+jwt"
"""The ``typ`` header of access tokens (RFC 9068 §2.1)."""

TOKEN_ALGORITHM = "ES384"


def epoch(time: datetime) -> int:
    """Whole seconds since 1970 (JWT NumericDate, RFC 7519 §2), rounded down."""
    return int(time.timestamp())


@dataclass(slots=True)
class SigningKey:
    """One IdP signing key: its id (the RFC 7638 thumbprint), since when it exists,
    and when it leaves the JWKS (None while it is current or not yet retired)."""

    kid: str
    key: ECKey
    created: datetime
    retires: datetime | None = None

    def published(self, now: datetime) -> bool:
        """Whether the key is in the JWKS at ``now``."""
        return self.created <= now and (self.retires is None or now < self.retires)

    def public(self) -> dict[str, Any]:
        """The public JWK with ``kid``, ``alg`` and ``use``."""
        jwk: dict[str, Any] = dict(self.key.as_dict(private=False))
        jwk.update(kid=self.kid, alg=TOKEN_ALGORITHM, use="sig")
        return jwk


def _new_key(rng: random.Random, now: datetime) -> SigningKey:
    # P-384's order exceeds 2**383, so any 383-bit value plus one is a valid scalar
    private = ec.derive_private_key(rng.getrandbits(383) + 1, ec.SECP384R1())
    key = ECKey.import_key(private)
    return SigningKey(key.thumbprint(), key, now)


class SigningKeys:
    """The IdP's signing keys: the current one and those still in their overlap."""

    def __init__(self, *, rng: random.Random, now: datetime, jose: Jose = FULL_JOSE) -> None:
        self._rng = rng
        self.jose = jose
        self._keys = [_new_key(rng, now)]

    @property
    def current(self) -> SigningKey:
        """The key that signs new tokens."""
        return self._keys[-1]

    def rotate(self, *, now: datetime, overlap: timedelta) -> SigningKey:
        """Sign with a new key from ``now``; the others leave the JWKS at ``now + overlap``."""
        if overlap < timedelta(0):
            raise ValueError(f"overlap must not be negative, got {overlap}")
        for old in self._keys:
            if old.retires is None or old.retires > now + overlap:
                old.retires = now + overlap
        self._keys = [k for k in self._keys if k.published(now)]
        self._keys.append(_new_key(self._rng, now))
        return self.current

    def all(self) -> tuple[SigningKey, ...]:
        """Every key held (the current one last), published or not yet retired."""
        return tuple(self._keys)

    def restore(self, keys: tuple[SigningKey, ...]) -> None:
        """Continue with the keys a durable transport kept (the current one last)."""
        if not keys:
            raise ValueError("an identity provider needs at least one signing key")
        self._keys = list(keys)

    def published(self, now: datetime) -> tuple[SigningKey, ...]:
        """The keys in the JWKS at ``now``."""
        return tuple(k for k in self._keys if k.published(now))

    def jwks(self, now: datetime) -> dict[str, Any]:
        """The public JWK Set the IdP serves at ``now``."""
        return {"keys": [k.public() for k in self.published(now)]}

    def key(self, kid: str, now: datetime) -> SigningKey | None:
        """The published key ``kid``, if any."""
        return next((k for k in self.published(now) if k.kid == kid), None)

    def sign(self, claims: dict[str, Any], *, now: datetime) -> str:
        """A compact JWT of ``claims`` signed by the current key."""
        current = self.current
        if not current.published(now):
            raise ValueError(f"the current signing key is not valid at {now}")
        header = {"alg": TOKEN_ALGORITHM, "kid": current.kid, "typ": ACCESS_TOKEN_TYPE}
        return self.jose.sign(header, claims, current.key)


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """What the IdP remembers of a token it issued (for introspection)."""

    jti: str
    client_id: str
    scope: str
    expires: datetime
    thumbprint: str | None


@dataclass(slots=True)
class IssuedTokens:
    """Tokens issued and not yet expired, by ``jti`` (forgotten once expired)."""

    _by_jti: dict[str, IssuedToken] = field(default_factory=dict)
    _heap: list[tuple[datetime, str]] = field(default_factory=list)

    def add(self, token: IssuedToken, *, now: datetime | None = None) -> None:
        """Remember ``token`` until it expires (``now``: forget the expired first, so
        tokens granted and never used do not pile up)."""
        if now is not None:
            self._purge(now)
        self._by_jti[token.jti] = token
        heapq.heappush(self._heap, (token.expires, token.jti))

    def get(self, jti: str, *, now: datetime) -> IssuedToken | None:
        """The unexpired token ``jti``, if issued."""
        self._purge(now)
        return self._by_jti.get(jti)

    def __len__(self) -> int:
        """How many tokens are held (expired ones not yet forgotten included)."""
        return len(self._by_jti)

    def live(self, *, now: datetime) -> int:
        """How many issued tokens have not expired."""
        self._purge(now)
        return len(self._by_jti)

    def _purge(self, now: datetime) -> None:
        while self._heap and self._heap[0][0] <= now:
            _, jti = heapq.heappop(self._heap)
            self._by_jti.pop(jti, None)


def new_jti(rng: random.Random) -> str:
    """A 128-bit token id from the run's generator, as hex."""
    return f"{rng.getrandbits(128):032x}"


def expiry(now: datetime, lifetime: timedelta) -> datetime:
    """``now + lifetime`` in whole seconds (JWT times have no fractions)."""
    return datetime.fromtimestamp(epoch(now + lifetime), UTC)
