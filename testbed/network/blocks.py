"""What faults do to the network, shared by every network policy: blocked routes, and
(issue 13) partitions, sites down and rules added outside change control.

Blocks nest (two faults on one route: it opens when the last heals), at one site or
at every site, and refuse before any rule.  A partition cuts two sites, or two zones
(at one site or every site), both ways; a site down refuses everything from or to
it.  To tell where a service is, the policy is given the services' places.  A rule
outside change control (the ``policy-drift`` fault) allows a zone to reach a service
whatever the rules say, until removed; it is kept with the time it was added.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from testbed.decisions import Decision, Hop, Reason
from testbed.holds import Holds
from testbed.revision import Revision

__all__ = ["Cut", "Route", "RouteBlocks"]

Route = tuple[str, str, str | None]  # (zone, service, site or None for every site)
Cut = tuple[str, str, str | None]  # a partition: ('site:A', 'site:B', None) or zones at a site


class RouteBlocks:
    """The blocks, partitions, sites down and unapproved rules of a policy; each
    change bumps the policy's ``revision`` (a subclass may do more in :meth:`_changed`)."""

    revision: Revision

    def __init__(
        self, *, revision: Revision | None = None,
        places: Mapping[str, tuple[str, str]] | None = None,
    ) -> None:
        self._blocked: Holds[Route] = Holds()
        self._cuts: Holds[Cut] = Holds()
        self._down: Holds[str] = Holds()
        self._unapproved: dict[Route, list[datetime]] = {}
        #: each service's (site, zone), for partitions and sites down
        self.places: Mapping[str, tuple[str, str]] = places or {}
        self.revision = revision or Revision()

    def _changed(self) -> None:
        self.revision.bump()

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

    def partition(self, cut: Cut) -> None:
        """Cut two sites (``site:A``, ``site:B``) or two zones apart; cuts nest."""
        self._cuts.hold(_both_ways(cut))
        self._changed()

    def heal_partition(self, cut: Cut) -> None:
        """Heal one cut."""
        try:
            self._cuts.release(_both_ways(cut))
        except KeyError:
            raise ValueError(f"no partition {cut[0]}<->{cut[1]}") from None
        self._changed()

    def site_down(self, site: str) -> None:
        """Take a whole site off the network; outages nest."""
        self._down.hold(site)
        self._changed()

    def site_up(self, site: str) -> None:
        """End one outage of ``site``."""
        try:
            self._down.release(site)
        except KeyError:
            raise ValueError(f"site {site!r} is not down") from None
        self._changed()

    def add_unapproved(self, route: Route, *, now: datetime) -> None:
        """A rule outside change control: ``route`` is allowed from ``now`` on (two
        such rules on one route nest: it closes when the last is removed)."""
        self._unapproved.setdefault(route, []).append(now)
        self._changed()

    def remove_unapproved(self, route: Route, *, added: datetime) -> None:
        """Remove the unapproved rule on ``route`` that was added at ``added``."""
        times = self._unapproved.get(route, [])
        if added not in times:
            raise ValueError(f"no unapproved rule {route} added at {added:%Y-%m-%dT%H:%M:%SZ}")
        times.remove(added)
        if not times:
            del self._unapproved[route]
        self._changed()

    @property
    def unapproved(self) -> Mapping[Route, datetime]:
        """The routes open outside change control, with since when (the earliest rule
        still in force on each)."""
        return {route: min(times) for route, times in self._unapproved.items()}

    def allowed_unapproved(self, site: str, zone: str, service: str) -> bool:
        """Whether an unapproved rule lets ``zone`` at ``site`` reach ``service``."""
        return bool(self._unapproved) and (
            (zone, service, site) in self._unapproved or (zone, service, None) in self._unapproved
        )

    def blocked(self, site: str, zone: str, service: str) -> Decision | None:
        """The refusal a fault makes of traffic from ``zone`` at ``site`` to ``service``."""
        if (zone, service, site) in self._blocked or (zone, service, None) in self._blocked:
            return Decision.deny(Reason.ROUTE_BLOCKED, Hop.NETWORK, f"{zone}->{service} blocked")
        if not (self._cuts or self._down):
            return None
        there = self.places.get(service)
        if site in self._down or (there is not None and there[0] in self._down):
            down = site if site in self._down else there and there[0]
            return Decision.deny(Reason.SITE_DOWN, Hop.NETWORK, f"site {down} is down")
        if there is None:
            return None
        for cut in (_both_ways((f"site:{site}", f"site:{there[0]}", None)),
                    _both_ways((f"zone:{zone}", f"zone:{there[1]}", None)),
                    _both_ways((f"zone:{zone}", f"zone:{there[1]}", site))):  # fmt: skip
            if cut in self._cuts and (cut[2] is None or there[0] == site):
                detail = f"{cut[0]} and {cut[1]} are partitioned ({zone} at {site} -> {service})"
                return Decision.deny(Reason.PARTITIONED, Hop.NETWORK, detail)
        return None


def _both_ways(cut: Cut) -> Cut:
    """A cut with its sides in a fixed order (a partition has no direction)."""
    a, b, site = cut
    return (a, b, site) if a <= b else (b, a, site)
