"""Network policy in its simplest form: NAC admission and a zone-to-service allow list.

The full network model (designs, reachability, emulation) comes later; this module is
the policy point that every device action passes first.  Traffic comes from a
:data:`Source`, the (site, zone) it enters the network at: the device's current zone
in the simulation, the zone of the peer's loopback address in live mode.
"""

from __future__ import annotations

from collections.abc import Iterable

from testbed.decisions import Decision, Hop, Reason
from testbed.holds import Holds
from testbed.revision import Revision

__all__ = ["Nac", "Route", "Source", "ZonePolicy"]

Route = tuple[str, str, str | None]  # (zone, service, site or None for every site)
Source = tuple[str, str]  # (site, zone) where traffic enters the network


class Nac:
    """Network access control: the devices admitted to the network (seed §2)."""

    def __init__(self, *, revision: Revision | None = None) -> None:
        self._admitted: set[str] = set()
        self.revision = revision or Revision()

    def admit(self, device_id: str) -> None:
        """Put a registered device on the network."""
        self._admitted.add(device_id)
        self.revision.bump()

    def remove(self, device_id: str) -> bool:
        """Take a device off the network; False if it was not admitted."""
        if device_id not in self._admitted:
            return False
        self._admitted.discard(device_id)
        self.revision.bump()
        return True

    def __contains__(self, device_id: object) -> bool:
        return device_id in self._admitted


class ZonePolicy:
    """Which zone may reach which service, and which routes a fault has blocked."""

    def __init__(self, rules: Iterable[Route], *, revision: Revision | None = None) -> None:
        self._allowed: set[Route] = set(rules)
        self._blocked: Holds[Route] = Holds()
        # decisions by (site, zone, service); cleared on every change
        self._decided: dict[tuple[str, str, str], Decision] = {}
        self.revision = revision or Revision()

    def _changed(self) -> None:
        self._decided.clear()
        self.revision.bump()

    def allow(self, zone: str, service: str, site: str | None = None) -> None:
        """Add an allowance."""
        self._allowed.add((zone, service, site))
        self._changed()

    def block(self, zone: str, service: str, site: str | None = None) -> None:
        """Block a route (a fault); blocks nest."""
        self._blocked.hold((zone, service, site))
        self._changed()

    def unblock(self, zone: str, service: str, site: str | None = None) -> None:
        """Heal one block of a route."""
        try:
            self._blocked.release((zone, service, site))
        except KeyError:
            where = site or "every site"
            raise ValueError(f"route {zone}->{service} at {where} is not blocked") from None
        self._changed()

    def decide(self, *, site: str, zone: str, service: str) -> Decision:
        """May traffic from ``zone`` at ``site`` reach ``service``?"""
        key = (site, zone, service)
        decision = self._decided.get(key)
        if decision is None:
            decision = self._decided[key] = self._decide(site, zone, service)
        return decision

    def _decide(self, site: str, zone: str, service: str) -> Decision:
        here, everywhere = (zone, service, site), (zone, service, None)
        if here in self._blocked or everywhere in self._blocked:
            return Decision.deny(Reason.ROUTE_BLOCKED, Hop.NETWORK, f"{zone}->{service} blocked")
        if here not in self._allowed and everywhere not in self._allowed:
            detail = f"no rule lets zone {zone!r} at {site!r} reach {service!r}"
            return Decision.deny(Reason.ROUTE_BLOCKED, Hop.NETWORK, detail)
        return Decision.allow(Hop.NETWORK)
