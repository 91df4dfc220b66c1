"""The identity provider's design choices (issue 11 point 2) and limits, as data.

A network design chooses the client authentication (``private_key_jwt``, the SMART
default, or a ``client_secret_basic`` shared secret for the "flat network with shared
credentials" design) and whether tokens must be certificate-bound (RFC 8705: the
token request comes over mutual TLS with the device certificate, whose thumbprint the
token carries as ``cnf``; the resource server then accepts it only with that
certificate).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum

from testbed.smart.assertion import AssertionRules
from testbed.smart.jwks import FetchPolicy

__all__ = ["MAX_TOKEN_LIFETIME", "ClientAuth", "IdpSettings"]

MAX_TOKEN_LIFETIME = timedelta(minutes=5)
"""SMART Backend Services: ``expires_in`` SHOULD NOT exceed 300 seconds."""


class ClientAuth(StrEnum):
    """How clients authenticate at the token endpoint (RFC 7591 method names)."""

    PRIVATE_KEY_JWT = "private_key_jwt"
    CLIENT_SECRET_BASIC = "client_secret_basic"


@dataclass(frozen=True, slots=True)
class IdpSettings:
    """What a design sets on its identity provider.

    ``token_lifetime`` above :data:`MAX_TOKEN_LIFETIME` needs ``allow_long_tokens``
    (a design that wants to show the cost of long-lived tokens says so).
    ``replay_per_issuer`` bounds each client's live ``jti`` entries.
    """

    client_auth: ClientAuth = ClientAuth.PRIVATE_KEY_JWT
    certificate_bound: bool = False
    token_lifetime: timedelta = MAX_TOKEN_LIFETIME
    allow_long_tokens: bool = False
    assertion: AssertionRules = field(default_factory=AssertionRules)
    replay_per_issuer: int = 10_000
    jwks_fetch: FetchPolicy = field(default_factory=FetchPolicy)

    def __post_init__(self) -> None:
        if self.token_lifetime <= timedelta(0):
            raise ValueError(f"token_lifetime must be positive, got {self.token_lifetime}")
        if self.token_lifetime > MAX_TOKEN_LIFETIME and not self.allow_long_tokens:
            raise ValueError(
                f"token_lifetime {self.token_lifetime} exceeds SMART's {MAX_TOKEN_LIFETIME}; "
                "set allow_long_tokens=True to model that on purpose"
            )
