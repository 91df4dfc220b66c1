"""Network policy in its simplest form: a zone-to-service allow list with blocked routes.

The full network model (designs, reachability, emulation) comes later; this module is
the policy point that every device action passes first.
"""

from __future__ import annotations

from collections.abc import Iterable

from testbed.decisions import Decision, Hop, Reason

__all__ = ["ZonePolicy"]

Route = tuple[str, str, str | None]  # (zone, service, site or None for every site)


class ZonePolicy:
    """Which zone may reach which service, and which routes a fault has blocked."""

    def __init__(self, rules: Iterable[Route]) -> None:
        self._allowed: set[Route] = set(rules)
        self._blocked: dict[Route, int] = {}
        # decisions without extra blocks, by (site, zone, service); cleared on every change
        self._decided: dict[tuple[str, str, str], Decision] = {}

    def allow(self, zone: str, service: str, site: str | None = None) -> None:
        """Add an allowance."""
        self._allowed.add((zone, service, site))
        self._decided.clear()

    def block(self, zone: str, service: str, site: str | None = None) -> None:
        """Block a route (a fault); blocks nest."""
        key = (zone, service, site)
        self._blocked[key] = self._blocked.get(key, 0) + 1
        self._decided.clear()

    def unblock(self, zone: str, service: str, site: str | None = None) -> None:
        """Heal one block of a route."""
        key = (zone, service, site)
        left = self._blocked.get(key, 0) - 1
        if left < 0:
            raise ValueError(f"route {zone}->{service} at {site or 'every site'} is not blocked")
        if left:
            self._blocked[key] = left
        else:
            del self._blocked[key]
        self._decided.clear()

    def decide(
        self, *, site: str, zone: str, service: str, extra_blocks: Iterable[Route] = ()
    ) -> Decision:
        """May a device in ``zone`` at ``site`` reach ``service``?"""
        if extra_blocks:
            return self._decide(site, zone, service, set(extra_blocks))
        key = (site, zone, service)
        decision = self._decided.get(key)
        if decision is None:
            decision = self._decided[key] = self._decide(site, zone, service, ())
        return decision

    def _decide(
        self, site: str, zone: str, service: str, extra: set[Route] | tuple[()]
    ) -> Decision:
        here, everywhere = (zone, service, site), (zone, service, None)
        if (
            here in self._blocked
            or everywhere in self._blocked
            or here in extra
            or everywhere in extra
        ):
            return Decision.deny(Reason.ROUTE_BLOCKED, Hop.NETWORK, f"{zone}->{service} blocked")
        if here not in self._allowed and everywhere not in self._allowed:
            detail = f"no rule lets zone {zone!r} at {site!r} reach {service!r}"
            return Decision.deny(Reason.ROUTE_BLOCKED, Hop.NETWORK, detail)
        return Decision.allow(Hop.NETWORK)
