"""OAuth 2.0 error answers (RFC 6749 §5.2) and the refusal that carries one.

A :class:`Refusal` is raised inside the identity provider's checks and caught at its
endpoint, which turns it into a :class:`~testbed.smart.idp.TokenResponse` and an
event: the RFC 6749 ``error`` code the client reads, the testbed :class:`Reason` the
playbook reads, and an ``error_description`` a person reads.
"""

from __future__ import annotations

from enum import StrEnum

from testbed.decisions import Reason

__all__ = ["OAuthError", "Refusal"]


class OAuthError(StrEnum):
    """The token endpoint's error codes (RFC 6749 §5.2) that this IdP answers."""

    INVALID_REQUEST = "invalid_request"
    INVALID_CLIENT = "invalid_client"
    UNAUTHORIZED_CLIENT = "unauthorized_client"
    UNSUPPORTED_GRANT_TYPE = "unsupported_grant_type"
    INVALID_SCOPE = "invalid_scope"

    @property
    def status(self) -> int:
        """The HTTP status: 401 for client authentication failures, else 400."""
        return 401 if self is OAuthError.INVALID_CLIENT else 400


class Refusal(Exception):
    """A token request refused: ``error`` for the client, ``reason`` for the log."""

    def __init__(self, error: OAuthError, reason: Reason, description: str) -> None:
        if reason is Reason.OK:
            raise ValueError("a refusal needs a reason other than 'ok'")
        super().__init__(description)
        self.error = error
        self.reason = reason
        self.description = description
