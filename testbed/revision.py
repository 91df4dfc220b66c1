"""A revision counter: moves whenever state that access decisions read changes.

The network policy, NAC, service outages, trust distribution, CRL distribution, the
PACS's own trust (:class:`~testbed.pacs.trust.PacsTrust`) and the PACS allow-lists
(:class:`~testbed.dicom.AllowLists`) of one hospital share one :class:`Revision` (the
composition root hands it to each); the live DICOM acceptor rebuilds its TLS contexts
when it moves (:class:`~testbed.live.dicom.tls.SiteContexts`).
An allowance that stands (:mod:`testbed.standing`) remembers the revision it was
decided at; a different revision means something it read may have changed, and the
next attempt is decided afresh.  Every mutating method of those services bumps it.
"""

from __future__ import annotations

__all__ = ["Revision"]


class Revision:
    """A counter that only goes up."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0

    def bump(self) -> None:
        """Something changed."""
        self.value += 1
