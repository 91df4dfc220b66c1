"""What the EHR is told about a request's bearer token, and what it decides from it.

The token itself (signature, expiry, audience, introspection, certificate binding) is
checked by the identity provider's module before the EHR sees the request; the EHR
takes the result as a :class:`TokenCheck` and decides the two application hops:

- the token: an inactive check answers 401 with ``WWW-Authenticate: Bearer
  error="invalid_token"`` (RFC 6750 §3.1) and the check's own reason;
- the scope: an active token whose scopes do not cover the interaction answers 403
  ``insufficient_scope`` with the scope that was needed (reason ``scope-insufficient``).
"""

from __future__ import annotations

from dataclasses import dataclass

from testbed.decisions import Reason
from testbed.ehr.outcomes import IssueType, Refusal
from testbed.ehr.scopes import Interaction, permits

__all__ = ["TokenCheck", "check_scope", "check_token"]


@dataclass(frozen=True, slots=True)
class TokenCheck:
    """The verdict on a request's bearer token, made by the token checker.

    ``active``: whether the token may be used now (present, signed by the identity
    provider, not expired, active at introspection, bound to the presented
    certificate if bound).  ``reason``: ``ok`` when active, otherwise why not (for
    example ``token-expired``).  ``client_id`` and ``scopes``: the token's claims.
    """

    active: bool
    reason: Reason
    client_id: str = ""
    scopes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.active is (self.reason is not Reason.OK):
            raise ValueError(
                f"an {'active' if self.active else 'inactive'} token check cannot have "
                f"reason {self.reason.value!r}: active checks say 'ok', others say why not"
            )


def check_token(token: TokenCheck) -> Refusal | None:
    """401 ``invalid_token`` unless the token check is active."""
    if token.active:
        return None
    issue = IssueType.EXPIRED if token.reason is Reason.TOKEN_EXPIRED else IssueType.LOGIN
    return Refusal(
        401,
        token.reason,
        issue,
        f"the bearer token is not usable: {token.reason.value}",
        headers=(("WWW-Authenticate", 'Bearer error="invalid_token"'),),
    )


def check_scope(token: TokenCheck, resource_type: str, interaction: Interaction) -> Refusal | None:
    """403 ``insufficient_scope`` unless the token's scopes cover the interaction."""
    if permits(token.scopes, resource_type, interaction):
        return None
    needed = f"system/{resource_type}.{interaction.value}"
    challenge = f'Bearer error="insufficient_scope", scope="{needed}"'
    return Refusal(
        403,
        Reason.SCOPE_INSUFFICIENT,
        IssueType.FORBIDDEN,
        f"the token's scopes do not include {needed}",
        headers=(("WWW-Authenticate", challenge),),
    )
