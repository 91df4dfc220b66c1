"""Which inventory entries a drift scan must look at again.

A daily drift scan (:meth:`testbed.inventory.Inventory.drift`) compares every entry
with the CA.  Almost every entry is *quiet*: in production and bound to a live
certificate, which has no drift.  A quiet entry stays quiet until one of the facts
that made it so changes:

- the entry itself (its lifecycle state or bound serial): the inventory reports each
  change of an entry (:meth:`DriftIndex.changed`);
- the bound certificate's revocation: the CA's revocations are only ever added, so a
  scan that sees more of them than the last one looks at every entry again;
- time: the bound certificate's notAfter passes (a heap of notAfters);
- the CA compared with is another one (every entry again).

An issuance record never changes once made, so nothing else can end a quiet entry's
quiet.  A scan therefore looks at the entries changed since the last scan, the entries
that were not quiet, and the quiet ones whose notAfter has passed, and finds exactly
what looking at every entry finds (``Inventory.drift(..., full=True)`` does that; the
tests compare the two on every shipped scenario, every day).
"""

from __future__ import annotations

import heapq
from collections.abc import Collection, Iterable
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from testbed.pki.ca import CertificateAuthority

__all__ = ["DriftIndex"]


class DriftIndex:
    """The entries a scan must look at (see the module); one per inventory."""

    __slots__ = ("_ca", "_changed", "_expiring", "_loud", "_quiet", "_revocations", "looked")

    def __init__(self) -> None:
        self._ca: CertificateAuthority | None = None  # compared with at the last scan
        self._revocations = -1  # how many revocations that CA had then
        self._changed: set[str] = set()  # entries changed since the last scan
        self._quiet: dict[str, datetime] = {}  # quiet entry -> its certificate's notAfter
        self._expiring: list[tuple[datetime, str]] = []  # (notAfter, entry): a heap
        self._loud: set[str] = set()  # entries that were not quiet at the last scan
        self.looked = 0  #: entries handed to scans so far (what a full scan saves shows)

    def changed(self, device_id: str) -> None:
        """The entry changed (or is new): the next scan looks at it."""
        self._changed.add(device_id)

    def due(
        self, ca: CertificateAuthority, revocations: int, now: datetime, everyone: Iterable[str]
    ) -> Collection[str]:
        """The entries the scan at ``now`` must look at (``everyone``: when the CA or
        its revocations changed); each one is then :meth:`quiet` or :meth:`loud` (a
        scan that fails part way calls :meth:`again`)."""
        if ca is not self._ca or revocations != self._revocations:
            self._ca, self._revocations = ca, revocations
            self._changed.clear()
            self._quiet.clear()
            self._expiring.clear()
            self._loud.clear()
            due: Collection[str] = list(everyone)
        else:
            found = self._changed
            found.update(self._loud)
            self._changed, self._loud = set(), set()
            expiring, quiet = self._expiring, self._quiet
            while expiring and expiring[0][0] < now:
                not_after, device_id = heapq.heappop(expiring)
                if quiet.get(device_id) == not_after:  # still quiet on that certificate
                    found.add(device_id)
            due = found
        self.looked += len(due)
        return due

    def again(self) -> None:
        """A scan failed part way: the next one looks at every entry."""
        self._ca = None

    def quiet(self, device_id: str, not_after: datetime) -> None:
        """The entry is bound to a live certificate valid until ``not_after``."""
        if self._quiet.get(device_id) != not_after:  # else its heap entry is there
            self._quiet[device_id] = not_after
            heapq.heappush(self._expiring, (not_after, device_id))

    def loud(self, device_id: str) -> None:
        """The entry is not quiet: the next scan looks at it again."""
        self._quiet.pop(device_id, None)
        self._loud.add(device_id)
