"""The trust a PACS holds: its site's bundle, unless the PACS has its own problem.

A PACS is one more relying party at its site.  It takes the site's trust bundle from
the same :class:`~testbed.pki.trust.TrustDistribution` as the site's FHIR and EST
endpoints, but it is configured apart (its own trust store), so it can lack the CA
while the rest of the site trusts it: the seed's "certificate trusted for FHIR but
not by the PACS" (§4).  :class:`PacsTrust` is that view: the site's bundle, or a
missing bundle while a ``pacs-trust-missing`` fault holds the site's PACS.  Taking the
CA away or giving it back bumps the hospital's :class:`~testbed.revision.Revision`
(what the site's bundle does moves it already), so a live acceptor rebuilds its TLS
context for the next handshake.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from testbed.holds import Holds
from testbed.pki.trust import MISSING_VERSION, TrustBundle
from testbed.revision import Revision

__all__ = ["PacsTrust", "SiteTrust"]


class SiteTrust(Protocol):
    """Where a site's bundle comes from (:class:`~testbed.pki.trust.TrustDistribution`)."""

    def bundle(self, site: str, *, now: datetime) -> TrustBundle:
        """The bundle ``site`` holds at ``now``."""
        ...

    def next_arrival(self, site: str) -> datetime | None:
        """When the next bundle on its way to ``site`` arrives (None: none is)."""
        ...


class PacsTrust:
    """The bundles the PACS of each site hold (the TLS hop's trust for the PACS)."""

    def __init__(self, trust: SiteTrust, *, revision: Revision | None = None) -> None:
        self.trust = trust
        self.revision = revision or Revision()
        self._withheld: Holds[str] = Holds()

    def bundle(self, site: str, *, now: datetime) -> TrustBundle:
        """The site's bundle, or a missing one while the site's PACS lacks it."""
        held = self.trust.bundle(site, now=now)
        if site in self._withheld:
            return TrustBundle(site, MISSING_VERSION, (), held.updated_at, missing=True)
        return held

    def next_arrival(self, site: str) -> datetime | None:
        """When the next bundle reaches ``site`` (the site's distribution)."""
        return self.trust.next_arrival(site)

    def withhold(self, site: str) -> None:
        """The site's PACS loses the hospital's CA from its trust store (faults nest)."""
        self._withheld.hold(site)
        self.revision.bump()

    def release(self, site: str) -> None:
        """End one withholding at ``site`` (KeyError: none)."""
        self._withheld.release(site)
        self.revision.bump()
