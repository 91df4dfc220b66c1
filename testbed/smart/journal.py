"""What a durable transport keeps of the identity provider, and gives back at a restart.

The IdP core tells an :class:`IdpJournal` of every change whose loss after a crash
would change an answer already given: a client registered, re-keyed, suspended,
resumed or offboarded; its signing keys (created, rotated); a token issued (what
introspection and the EHR need of it); a ``jti`` admitted by the replay cache (so an
assertion cannot be replayed across a restart).  :class:`KeptIdp` is what a journal
gives back, and :meth:`~testbed.smart.idp.IdentityProvider.restore` continues from it.
The simulation has no journal (``None``): nothing is written and nothing changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from testbed.smart.clients import SmartClient
from testbed.smart.tokens import IssuedToken, SigningKey

__all__ = ["IdpJournal", "KeptIdp", "KeptJti"]


@dataclass(frozen=True, slots=True)
class KeptJti:
    """A ``jti`` the replay cache admitted for ``iss``, remembered until ``until``."""

    iss: str
    jti: str
    until: datetime


@dataclass(frozen=True, slots=True)
class KeptIdp:
    """An IdP as a journal kept it."""

    clients: tuple[SmartClient, ...]
    signing_keys: tuple[SigningKey, ...]
    tokens: tuple[IssuedToken, ...]
    jtis: tuple[KeptJti, ...]


class IdpJournal(Protocol):
    """Where the IdP's changes are kept (joins the transport's current transaction)."""

    def save_client(self, client: SmartClient) -> None:
        """Keep a client as it is now."""
        ...

    def save_signing_keys(self, keys: tuple[SigningKey, ...]) -> None:
        """Keep the IdP's signing keys as they are now (private keys included)."""
        ...

    def save_token(self, token: IssuedToken) -> None:
        """Keep an issued token until it expires."""
        ...

    def save_jti(self, kept: KeptJti) -> None:
        """Keep an admitted ``jti`` until it may be forgotten."""
        ...

    def forget_expired(self, now: datetime) -> None:
        """Drop the kept tokens and ``jti`` values that expired by ``now``."""
        ...
