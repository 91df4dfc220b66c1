"""The ``jti`` replay cache (RFC 7523 §3 rule 7; SMART 2.2: "the authorization
server SHALL ... check that the jti has not been used before within the lifetime
of the assertion").

Bounded in time: a ``jti`` is remembered until its assertion's ``exp`` plus the
leeway (after that the assertion is refused as expired anyway).  Bounded in size:
at most ``per_issuer`` live entries per issuer; when an issuer's are all live the
cache refuses to take one more (:meth:`ReplayCache.admit` answers
:attr:`Admission.FULL`), so a busy client is refused, fail closed, rather than
having an old ``jti`` forgotten early and made replayable.  Only assertions whose
signature verified are remembered, so unauthenticated traffic cannot fill it.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

__all__ = ["Admission", "ReplayCache"]


class Admission(StrEnum):
    """The cache's answer for one ``(iss, jti)``."""

    NEW = "new"
    REPLAYED = "replayed"
    FULL = "full"


@dataclass(slots=True)
class _Issuer:
    until: dict[str, datetime] = field(default_factory=dict)
    heap: list[tuple[datetime, str]] = field(default_factory=list)

    def purge(self, now: datetime) -> None:
        while self.heap and self.heap[0][0] <= now:
            _, jti = heapq.heappop(self.heap)
            del self.until[jti]


@dataclass(slots=True)
class ReplayCache:
    """Seen ``jti`` values per issuer, each until a given time."""

    per_issuer: int = 10_000
    _issuers: dict[str, _Issuer] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.per_issuer < 1:
            raise ValueError(f"per_issuer must be at least 1, got {self.per_issuer}")

    def admit(self, iss: str, jti: str, *, until: datetime, now: datetime) -> Admission:
        """Remember ``jti`` of ``iss`` until ``until`` if it is new and there is room."""
        issuer = self._issuers.setdefault(iss, _Issuer())
        issuer.purge(now)
        if jti in issuer.until:
            return Admission.REPLAYED
        if len(issuer.until) >= self.per_issuer:
            return Admission.FULL
        issuer.until[jti] = until
        heapq.heappush(issuer.heap, (until, jti))
        return Admission.NEW

    def size(self, *, now: datetime) -> int:
        """How many ``jti`` values are remembered at ``now`` (every issuer)."""
        for issuer in self._issuers.values():
            issuer.purge(now)
        return sum(len(i.until) for i in self._issuers.values())

    def forget(self, iss: str) -> None:
        """Drop every ``jti`` of ``iss`` (its client was offboarded)."""
        self._issuers.pop(iss, None)
