"""The network's policy without a design: NAC admission and a zone-to-service allow list.

A scenario without ``design:`` gets this policy from its ``network:`` rules; with a
design the network hop asks the design's compiled policy
(:class:`~testbed.network.policy.DesignPolicy`) instead.  Traffic comes from a
:data:`Source`, the (site, zone) it enters the network at: the device's current zone
in the simulation, the zone of the peer's loopback address in live mode.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from testbed.decisions import Decision, Hop, Reason
from testbed.network.blocks import Route, RouteBlocks
from testbed.revision import Revision

if TYPE_CHECKING:
    from testbed.network.peer import Peer

__all__ = ["Route", "Source", "ZonePolicy"]

Source = tuple[str, str]  # (site, zone) where traffic enters the network


class ZonePolicy(RouteBlocks):
    """Which zone may reach which service, and which routes a fault has blocked."""

    def __init__(
        self, rules: Iterable[Route], *, revision: Revision | None = None,
        places: Mapping[str, tuple[str, str]] | None = None,
    ) -> None:
        super().__init__(revision=revision, places=places)
        self._allowed: set[Route] = set(rules)
        # decisions by (site, zone, service); cleared on every change
        self._decided: dict[tuple[str, str, str], Decision] = {}

    def _changed(self) -> None:
        self._decided.clear()
        super()._changed()

    def allow(self, zone: str, service: str, site: str | None = None) -> None:
        """Add an allowance."""
        self._allowed.add((zone, service, site))
        self._changed()

    def decide(
        self, *, site: str, zone: str, service: str, peer: Peer | None = None,
        now: datetime | None = None,
    ) -> Decision:
        """May traffic from ``zone`` at ``site`` reach ``service``?  (Who the peer is
        and the time do not matter to an allow list.)"""
        key = (site, zone, service)
        decision = self._decided.get(key)
        if decision is None:
            decision = self._decided[key] = self._decide(site, zone, service)
        return decision

    def until(
        self, *, site: str, zone: str, service: str, peer: Peer | None, now: datetime
    ) -> datetime | None:
        """None: an allow list does not change with time."""
        return None

    def _decide(self, site: str, zone: str, service: str) -> Decision:
        blocked = self.blocked(site, zone, service)
        if blocked is not None:
            return blocked
        here, everywhere = (zone, service, site), (zone, service, None)
        allowed = here in self._allowed or everywhere in self._allowed
        if not allowed and not self.allowed_unapproved(site, zone, service):
            detail = f"no rule lets zone {zone!r} at {site!r} reach {service!r}"
            return Decision.deny(Reason.ROUTE_BLOCKED, Hop.NETWORK, detail)
        return Decision.allow(Hop.NETWORK)
