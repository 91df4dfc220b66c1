"""A relying party's copy of the IdP's JWKS, kept for a configurable time.

A resource server (the EHR) does not ask the IdP for its keys at every request: it
keeps the JWKS for :attr:`IdpJwksCache.lifetime` and fetches it again afterwards.
After a signing-key rotation, a copy older than the rotation lacks the new key, so
new tokens are refused (``token-key-unknown``) until the copy is refreshed: with an
overlap at least as long as the lifetime this never shows, and a *stale cache* fault
(:meth:`IdpJwksCache.hold`) keeps the old copy past its lifetime on purpose.

The source is a callable: in process the IdP's own
:meth:`~testbed.smart.idp.IdentityProvider.jwks`, in live mode an HTTP GET of the
IdP's JWKS URL.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from joserfc.errors import JoseError
from joserfc.jwk import ECKey, RSAKey

from testbed.smart.jwks import JwksError

__all__ = ["IdpJwksCache", "JwksSource"]

JwksSource = Callable[[datetime], Mapping[str, Any]]
"""Gives the IdP's JWK Set at a time; raises :class:`JwksError` when it cannot."""


@dataclass(slots=True)
class IdpJwksCache:
    """The IdP's public keys by ``kid``, as fetched at most ``lifetime`` ago (unless held)."""

    source: JwksSource
    lifetime: timedelta = timedelta(minutes=5)
    fetches: int = 0
    _keys: dict[str, ECKey | RSAKey] = field(default_factory=dict)
    _until: datetime | None = None
    _held_until: datetime | None = None

    def keys(self, *, now: datetime) -> dict[str, ECKey | RSAKey]:
        """The keys by ``kid``: the copy while fresh or held, else fetched now
        (:class:`JwksError` if that fails: nothing older than allowed is used)."""
        held = self._held_until is not None and now < self._held_until
        if self._until is not None and (now < self._until or held):
            return self._keys
        self.fetches += 1
        self._keys = _by_kid(self.source(now))
        self._until = now + self.lifetime
        return self._keys

    def hold(self, *, until: datetime) -> None:
        """Keep the current copy until ``until`` whatever its lifetime (a stale-cache fault)."""
        self._held_until = until

    def hold_copy(self, *, now: datetime, until: datetime | None = None) -> None:
        """The stale cache of an ``idp-key-rotation`` fault: the copy as of ``now``
        (fetched if none is fresh), kept until ``until`` (None: until a refresh), so
        keys the IdP publishes after ``now`` stay unknown to this relying party."""
        self.keys(now=now)
        self.hold(until=until if until is not None else datetime.max.replace(tzinfo=UTC))

    def release(self) -> None:
        """End a hold: the copy is refreshed once its lifetime is over."""
        self._held_until = None

    def refresh(self) -> None:
        """Fetch at the next use (an operator's or a fault's heal)."""
        self._until = None
        self._held_until = None


def _by_kid(document: Mapping[str, Any]) -> dict[str, ECKey | RSAKey]:
    keys = document.get("keys")
    if not isinstance(keys, list):
        raise JwksError("the IdP's JWKS has no 'keys' list")
    out: dict[str, ECKey | RSAKey] = {}
    for raw in keys:
        if not isinstance(raw, dict) or not isinstance(raw.get("kid"), str):
            raise JwksError("every key of the IdP's JWKS needs a 'kid'")
        try:
            key = ECKey.import_key(raw) if raw.get("kty") == "EC" else RSAKey.import_key(raw)
        except (JoseError, ValueError, TypeError) as error:
            raise JwksError(f"key {raw['kid']!r} of the IdP's JWKS: {error}") from None
        out[raw["kid"]] = key
    return out
