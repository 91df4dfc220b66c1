"""SMART backend-services clients: one per device record, registered at onboarding.

A client has an id, the device it belongs to (machine identities only: never a
person), the scopes pre-authorized for it (from the device's profile), how it
authenticates (a JWK Set inline or by URL for ``private_key_jwt``; a shared secret,
stored only as its SHA-256, for ``client_secret_basic``), the algorithms it
registered, and a state: active, suspended (refused, may come back) or offboarded
(refused for good; its tokens become inactive at once).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from testbed.errors import RegistrationError
from testbed.smart.assertion import SMART_ALGORITHMS
from testbed.smart.jwks import ClientKey, JwksError, parse_key_set
from testbed.smart.scopes import Scope, ScopeError, parse_scopes

__all__ = [
    "ClientRegistry", "ClientState", "SmartClient", "client_keys", "jwks_url_of",
    "secret_digest",
]


class ClientState(StrEnum):
    """Whether a client may get tokens."""

    ACTIVE = "active"
    SUSPENDED = "suspended"
    OFFBOARDED = "offboarded"


def secret_digest(secret: str) -> bytes:
    """What the IdP keeps of a shared client secret."""
    return hashlib.sha256(secret.encode()).digest()


@dataclass(frozen=True, slots=True)
class SmartClient:
    """One registered client (immutable: a change makes a new value)."""

    client_id: str
    device_id: str
    scopes: tuple[Scope, ...]
    keys: tuple[ClientKey, ...] = ()
    jwks_url: str | None = None
    secret: bytes | None = None
    algorithms: tuple[str, ...] = SMART_ALGORITHMS
    state: ClientState = ClientState.ACTIVE

    def secret_matches(self, secret: str) -> bool:
        """Whether ``secret`` is the client's shared secret (constant time)."""
        return self.secret is not None and hmac.compare_digest(self.secret, secret_digest(secret))


class ClientRegistry:
    """The IdP's clients by id."""

    def __init__(self) -> None:
        self._clients: dict[str, SmartClient] = {}

    def __contains__(self, client_id: object) -> bool:
        return client_id in self._clients

    def __len__(self) -> int:
        return len(self._clients)

    def restore(self, clients: tuple[SmartClient, ...]) -> None:
        """Continue with the clients a durable transport kept."""
        self._clients = {client.client_id: client for client in clients}

    def __iter__(self) -> Iterator[SmartClient]:
        return iter(self._clients.values())

    def get(self, client_id: str) -> SmartClient | None:
        """The client, or None if no such id was ever registered."""
        return self._clients.get(client_id)

    def register(
        self,
        client_id: str,
        *,
        device_id: str,
        scopes: str,
        jwks: Mapping[str, Any] | None = None,
        jwks_url: str | None = None,
        secret: str | None = None,
        algorithms: tuple[str, ...] = SMART_ALGORITHMS,
    ) -> SmartClient:
        """Register a client: exactly one of a JWK Set, a JWKS URL or a secret."""
        if not client_id or client_id in self._clients:
            raise RegistrationError(f"client id {client_id!r} is empty or already registered")
        if sum(x is not None for x in (jwks, jwks_url, secret)) != 1:
            raise RegistrationError(
                f"client {client_id!r}: give exactly one of jwks, jwks_url or secret"
            )
        unknown = set(algorithms) - set(SMART_ALGORITHMS)
        if not algorithms or unknown:
            raise RegistrationError(
                f"client {client_id!r}: algorithms {list(algorithms)} must be a non-empty "
                f"subset of {list(SMART_ALGORITHMS)}"
            )
        client = SmartClient(
            client_id,
            device_id,
            _scopes(client_id, scopes),
            keys=client_keys(client_id, jwks),
            jwks_url=jwks_url_of(client_id, jwks_url),
            secret=None if secret is None else secret_digest(secret),
            algorithms=tuple(algorithms),
        )
        self._clients[client_id] = client
        return client

    def replace_keys(
        self, client_id: str, *, jwks: Mapping[str, Any] | None = None, jwks_url: str | None = None
    ) -> SmartClient:
        """Replace the client's JWK Set or URL (key rotation by the operator)."""
        client = self._known(client_id)
        if (jwks is None) == (jwks_url is None):
            raise RegistrationError(f"client {client_id!r}: give exactly one of jwks or jwks_url")
        new = replace(client, keys=client_keys(client_id, jwks),
                      jwks_url=jwks_url_of(client_id, jwks_url))  # fmt: skip
        self._clients[client_id] = new
        return new

    def set_state(self, client_id: str, state: ClientState) -> SmartClient:
        """Move the client to ``state``; an offboarded client never comes back."""
        client = self._known(client_id)
        if client.state is ClientState.OFFBOARDED and state is not ClientState.OFFBOARDED:
            raise RegistrationError(f"client {client_id!r} is offboarded for good")
        new = replace(client, state=state)
        self._clients[client_id] = new
        return new

    def _known(self, client_id: str) -> SmartClient:
        client = self._clients.get(client_id)
        if client is None:
            raise RegistrationError(f"no client {client_id!r} is registered")
        return client


def _scopes(client_id: str, scopes: str) -> tuple[Scope, ...]:
    try:
        parsed = parse_scopes(scopes)
    except ScopeError as error:
        raise RegistrationError(f"client {client_id!r}: {error}") from None
    if not parsed:
        raise RegistrationError(f"client {client_id!r}: no scope is pre-authorized")
    return parsed


def client_keys(client_id: str, jwks: Mapping[str, Any] | None) -> tuple[ClientKey, ...]:
    """The usable keys of a client's JWK Set (none for no set); :class:`RegistrationError`
    for a set that is no public JWK Set or holds no RSA or EC key."""
    if jwks is None:
        return ()
    try:
        keys = parse_key_set(jwks)
    except JwksError as error:
        raise RegistrationError(f"client {client_id!r}: {error}") from None
    if not keys:
        raise RegistrationError(f"client {client_id!r}: the JWK Set has no RSA or EC key")
    return keys


def _host(url: str) -> str | None:
    try:
        return urlsplit(url).hostname
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return None


def jwks_url_of(client_id: str, url: str | None) -> str | None:
    """A client's JWKS URL as registered; :class:`RegistrationError` unless it is an
    ``https://`` URL naming a host."""
    if url is not None and (not url.startswith("https://") or not _host(url)):
        raise RegistrationError(f"client {client_id!r}: JWKS URL {url!r} must be https:// "
                                "and name a host")  # fmt: skip
    return url
