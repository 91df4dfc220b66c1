"""Client key sets: registered inline or by URL, fetched through an injected callable.

SMART App Launch 2.2 (client-confidential-asymmetric, "Registering a client"): a
client registers a JWK Set or, preferably, a URL to one (servers SHALL support both).
The IdP fetches a URL with ``Accept: application/json`` (:data:`ACCEPT`) and keeps
the answer no longer than its ``Cache-Control: max-age`` allows (:class:`FetchPolicy`:
no max-age means no caching unless the policy says otherwise, and a cap).  The fetch
itself is a :data:`Fetcher`, a callable the transport supplies (HTTP in live mode, a
fake in tests and the simulation): the core does no I/O.

Key resolution (SMART 2.2, "Signature verification"): the candidate keys are those
whose ``kid`` equals the header's and whose ``kty`` (and curve) fits the ``alg``
(RS384: RSA; ES384: EC P-384), leaving out keys whose ``alg`` or ``use`` says
otherwise; exactly one candidate must remain (:func:`resolve_key`).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from joserfc.errors import JoseError
from joserfc.jwk import ECKey, RSAKey

from testbed.errors import TestbedError
from testbed.json_nesting import nesting

__all__ = [
    "ACCEPT",
    "KEY_TYPE_OF",
    "ClientKey",
    "FetchPolicy",
    "Fetched",
    "Fetcher",
    "JwksCache",
    "JwksError",
    "parse_key_set",
    "resolve_key",
]

ACCEPT = "application/json"
"""The ``Accept`` header a transport sends when it fetches a JWKS URL."""

KEY_TYPE_OF: Mapping[str, tuple[str, str | None]] = {
    "RS384": ("RSA", None),
    "ES384": ("EC", "P-384"),
}
"""For each algorithm SMART allows, the key type (and curve) it needs."""

PublicKey = RSAKey | ECKey
MIN_RSA_BITS = 2048


class JwksError(TestbedError):
    """A JWK Set that cannot be used: not JSON, no ``keys`` list, private key material,
    a key type SMART does not use, or a URL that could not be fetched."""


@dataclass(frozen=True, slots=True)
class Fetched:
    """What a transport got from a JWKS URL: the body and the ``Cache-Control``
    ``max-age`` in seconds (None when the answer had none, or ``no-store``/``no-cache``
    said not to keep it: give 0)."""

    body: bytes
    max_age: int | None = None


Fetcher = Callable[[str], Fetched]
"""Fetches a JWKS URL (``Accept: application/json``); raises :class:`JwksError` on a
failure (unreachable, not 200, too large)."""


@dataclass(frozen=True, slots=True)
class FetchPolicy:
    """How long fetched key sets are kept.

    ``default_max_age``: for an answer without ``max-age`` (0: fetch again next time);
    ``max_max_age``: the longest any answer is kept, whatever it says;
    ``failure_backoff``: how long a URL that could not be fetched or read is not tried
    again (its requests are refused ``jwks-unavailable`` meanwhile), so a client's
    token requests cannot make the IdP fetch a failing URL at every request.
    """

    default_max_age: timedelta = timedelta(0)
    max_max_age: timedelta = timedelta(hours=1)
    failure_backoff: timedelta = timedelta(seconds=10)

    def lifetime(self, max_age: int | None) -> timedelta:
        """How long to keep an answer that said ``max_age``."""
        said = self.default_max_age if max_age is None else timedelta(seconds=max(0, max_age))
        return min(said, self.max_max_age)


@dataclass(frozen=True, slots=True)
class ClientKey:
    """One public key of a client's JWK Set."""

    kid: str | None
    kty: str
    crv: str | None
    alg: str | None
    use: str | None
    key: PublicKey

    def fits(self, kid: str, alg: str) -> bool:
        """Whether this key is a candidate for a header with ``kid`` and ``alg``."""
        wanted = KEY_TYPE_OF.get(alg)
        return (
            wanted is not None
            and self.kid == kid
            and (self.kty, self.crv if self.kty == "EC" else None) == wanted
            and self.alg in (None, alg)
            and self.use in (None, "sig")
        )


def parse_key_set(document: bytes | str | Mapping[str, Any]) -> tuple[ClientKey, ...]:
    """The public keys of a JWK Set (RFC 7517 §5); :class:`JwksError` if it is not one.

    Keys of types other than RSA and EC are skipped (a set may hold keys for other
    uses); private key material anywhere refuses the whole set (a client that
    publishes its private key has no private key), and so does an RSA or EC key
    without a ``kid`` (SMART 2.2: an assertion names its key by ``kid``, so such a key
    could never be used).  Each error names the key by its index in ``keys`` and its
    ``kid`` and says what was expected.
    """
    data = _document(document)
    keys = data.get("keys")
    if not isinstance(keys, list):
        got = "nothing" if "keys" not in data else type(keys).__name__
        raise JwksError(f"a JWK Set needs a 'keys' list of JWKs, got {got}")
    return tuple(k for index, raw in enumerate(keys) if (k := _key(index, raw)) is not None)


def _document(document: bytes | str | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(document, Mapping):
        return document
    raw = document.encode() if isinstance(document, str) else document
    if (depth := nesting(raw)) > _MAX_DEPTH:
        raise JwksError(f"a JWK Set nests at most {_MAX_DEPTH} levels; this one {depth}")
    try:
        data = json.loads(document)
    except ValueError as error:
        raise JwksError(f"a JWK Set must be JSON: {error}") from None
    if not isinstance(data, dict):
        raise JwksError("a JWK Set must be a JSON object with a 'keys' list")
    return data


_MAX_DEPTH = 8  # {"keys": [{"x5c": [...]}]}: 3 levels


_PRIVATE = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})


def _label(index: int, raw: Mapping[str, object]) -> str:
    """How an error names a key: its index in ``keys`` and its ``kid``."""
    kid = raw.get("kid")
    return f"keys[{index}]" + ("" if kid is None else f" (kid {kid!r})")


def _key(index: int, raw: object) -> ClientKey | None:
    if not isinstance(raw, dict):
        raise JwksError(f"keys[{index}]: expected a JWK (a JSON object), got {raw!r:.60}")
    label = _label(index, raw)
    private = sorted(_PRIVATE & raw.keys())
    if private:
        raise JwksError(f"{label} holds private or secret key material ({', '.join(private)}): "
                        "expected the public key only")  # fmt: skip
    kty = raw.get("kty")
    if kty not in ("RSA", "EC"):
        return None
    kid = raw.get("kid")
    if not isinstance(kid, str) or not kid:
        raise JwksError(f"{label}: expected a 'kid' (a non-empty string) on every {kty} key: "
                        "a client assertion names its key by kid")  # fmt: skip
    bits = _modulus_bits(raw) if kty == "RSA" else None
    if bits is not None and bits < MIN_RSA_BITS:  # checked before joserfc warns about it
        raise JwksError(f"{label}: expected an RSA key of at least {MIN_RSA_BITS} bits, got "
                        f"{bits}")  # fmt: skip
    try:
        key: PublicKey = RSAKey.import_key(raw) if kty == "RSA" else ECKey.import_key(raw)
    except (JoseError, ValueError, TypeError) as error:
        raise JwksError(f"{label} is not a valid {kty} public key: {error}") from None
    crv = raw.get("crv") if kty == "EC" else None
    return ClientKey(
        kid, kty, crv if isinstance(crv, str) else None,
        _text(raw, "alg"), _text(raw, "use"), key,
    )  # fmt: skip


def _modulus_bits(raw: Mapping[str, object]) -> int | None:
    """The bit length of an RSA JWK's ``n`` (None when it is not base64url: the import
    says what is wrong)."""
    n = raw.get("n")
    if not isinstance(n, str):
        return None
    try:
        return int.from_bytes(base64.urlsafe_b64decode(n + "=" * (-len(n) % 4)), "big").bit_length()
    except ValueError:
        return None


def _text(raw: Mapping[str, object], name: str) -> str | None:
    value = raw.get(name)
    return value if isinstance(value, str) else None


def resolve_key(keys: tuple[ClientKey, ...], *, kid: str, alg: str) -> list[ClientKey]:
    """The candidate keys for a header's ``kid`` and ``alg`` (use one only if exactly
    one is returned)."""
    return [k for k in keys if k.fits(kid, alg)]


@dataclass(slots=True)
class _Entry:
    keys: tuple[ClientKey, ...]
    until: datetime


@dataclass(slots=True)
class JwksCache:
    """Key sets fetched by URL, each kept until its answer's lifetime ends.

    ``fetches`` counts calls to the fetcher (tests read it to see the cache honoured).
    A failure is kept too, for ``policy.failure_backoff`` (one per registered URL).
    """

    fetcher: Fetcher
    policy: FetchPolicy = field(default_factory=FetchPolicy)
    fetches: int = 0
    _entries: dict[str, _Entry] = field(default_factory=dict)
    _failures: dict[str, tuple[datetime, str]] = field(default_factory=dict)

    def keys(self, url: str, *, now: datetime) -> tuple[ClientKey, ...]:
        """The key set at ``url``: the cached one while fresh, else fetched now;
        :class:`JwksError` if it cannot be fetched or read (nothing stale is used), or
        could not within the last ``failure_backoff``."""
        entry = self._entries.get(url)
        if entry is not None and now < entry.until:
            return entry.keys
        self._entries.pop(url, None)
        failed = self._failures.get(url)
        if failed is not None and now < failed[0]:
            raise JwksError(f"{failed[1]} (not tried again until {failed[0].isoformat()})")
        self._failures.pop(url, None)
        self.fetches += 1
        try:
            fetched = self.fetcher(url)
            keys = parse_key_set(fetched.body)
        except JwksError as error:
            backoff = self.policy.failure_backoff
            if backoff > timedelta(0):
                self._failures[url] = (now + backoff, str(error))
            raise
        lifetime = self.policy.lifetime(fetched.max_age)
        if lifetime > timedelta(0):
            self._entries[url] = _Entry(keys, now + lifetime)
        return keys

    def due(self, url: str, *, now: datetime) -> bool:
        """Whether :meth:`keys` would call the fetcher for ``url`` now (no fresh copy,
        no failure still backing off)."""
        entry = self._entries.get(url)
        if entry is not None and now < entry.until:
            return False
        failed = self._failures.get(url)
        return failed is None or now >= failed[0]

    def forget(self, url: str) -> None:
        """Drop the cached set of ``url``, or its failure (a client registered a new
        URL or set)."""
        self._entries.pop(url, None)
        self._failures.pop(url, None)
