"""A revision counter: moves whenever state that access decisions read changes.

The network policy, NAC, service outages, trust distribution, CRL distribution, the
PACS's own trust (:class:`~testbed.pacs.trust.PacsTrust`) and the PACS allow-lists
(:class:`~testbed.dicom.AllowLists`) of one hospital share one :class:`Revision` (the
composition root hands it to each).  Every mutating method of those services moves it.

Two counters:

- ``value`` moves on a change that may alter any device's decisions.  An allowance
  that stands (:mod:`testbed.standing`) remembers the value it was decided at; a
  different value means something it read may have changed, and the next attempt is
  decided afresh.
- ``changes`` moves on every change at all, including one that only some devices'
  decisions read (:meth:`Revision.devices_changed`: a device admitted to or taken off
  the network, a CRL that lists other serials and nothing else new) and one that no
  hop of the access point reads (:meth:`Revision.outside_hops`: a PACS allow-list,
  which only the PACS's association decisions read, and those never stand).  What
  caches material built from those services reads it: the live DICOM acceptor
  rebuilds its TLS contexts when it moved (:class:`~testbed.live.dicom.tls.
  SiteContexts`).

A change of some devices' facts reaches only their allowances when the composition
root has given a :meth:`~Revision.scope`: a function that moves what one device's
allowances stand on (:meth:`Inventory.touch <testbed.inventory.Inventory.touch>`:
its inventory entry's version).  A fleet's registrations then no longer let go of
every other device's allowances, one registration at a time; without a scope such a
change moves ``value`` like any other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

__all__ = ["Revision"]


class Revision:
    """Counters that only go up (see the module)."""

    __slots__ = ("_touch", "changes", "value")

    def __init__(self) -> None:
        self.value = 0
        self.changes = 0
        self._touch: Callable[[str], None] | None = None

    def bump(self) -> None:
        """Something changed that any device's decisions may read."""
        self.value += 1
        self.changes += 1

    def outside_hops(self) -> None:
        """Something changed that no hop of the access point reads."""
        self.changes += 1

    def scope(self, touch: Callable[[str], None]) -> None:
        """From now on, a change of some devices' facts calls ``touch`` with each one's
        id instead of moving ``value``."""
        self._touch = touch

    def devices_changed(self, device_ids: Iterable[str]) -> None:
        """Something changed that only the decisions of the devices ``device_ids``
        read (their own attempts: the attempts of any other device read none of it)."""
        self.changes += 1
        touch = self._touch
        if touch is None:
            self.value += 1
            return
        for device_id in device_ids:
            touch(device_id)
