"""C-ECHO (the Verification SOP class, PS3.4 Annex A): is the PACS there for me?

An echo answers success on an open association of a PACS that is up; it proves the
whole path (TLS, AE titles, identity) without storing anything, which is how devices
and ``echoscu`` test a connection.  The association checks are the service's
(:class:`~testbed.pacs.pacs.Pacs`); this module holds the request and its answer.
"""

from __future__ import annotations

from dataclasses import dataclass

from testbed.decisions import Decision
from testbed.pacs.association import Association
from testbed.pacs.status import Status, status_of

__all__ = ["VERIFICATION_SOP_CLASS", "EchoDecision", "EchoRequest"]

VERIFICATION_SOP_CLASS = "1.2.840.10008.1.1"


@dataclass(frozen=True, slots=True)
class EchoRequest:
    """One C-ECHO request on an association."""

    association: Association


@dataclass(frozen=True, slots=True)
class EchoDecision:
    """The answer to a C-ECHO."""

    decision: Decision

    @property
    def status(self) -> Status:
        """The C-ECHO response status."""
        return status_of(self.decision.reason)
