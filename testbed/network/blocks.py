"""Routes a fault has blocked (the ``blocked-route`` fault), shared by every network
policy: blocks nest, at one site or at every site, and refuse before any rule."""

from __future__ import annotations

from testbed.decisions import Decision, Hop, Reason
from testbed.holds import Holds
from testbed.revision import Revision

__all__ = ["Route", "RouteBlocks"]

Route = tuple[str, str, str | None]  # (zone, service, site or None for every site)


class RouteBlocks:
    """The blocked routes of a policy; each change bumps the policy's ``revision``
    (a subclass may do more in :meth:`_changed`)."""

    revision: Revision

    def __init__(self, *, revision: Revision | None = None) -> None:
        self._blocked: Holds[Route] = Holds()
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

    def blocked(self, site: str, zone: str, service: str) -> Decision | None:
        """The refusal of a blocked route from ``zone`` at ``site`` to ``service``."""
        if (zone, service, site) in self._blocked or (zone, service, None) in self._blocked:
            return Decision.deny(Reason.ROUTE_BLOCKED, Hop.NETWORK, f"{zone}->{service} blocked")
        return None
