"""Zones as loopback addresses: how live mode knows where traffic comes from.

All of 127.0.0.0/8 is loopback, so every zone of every site gets its own address
(``127.<site>.<zone>.1``, numbered from 1 in scenario order) and a device binds its
zone's address as the source of its connections.  The live policy point reads the
peer address of a connection and places it in its zone; traffic from an address that
is no zone's (``127.0.0.1`` among them) comes from nowhere the hospital knows, and the
network hop refuses it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType

from testbed.errors import LiveError
from testbed.network import Source
from testbed.sites import Site

__all__ = ["ZoneAddresses"]

_MAX = 254  # sites, and zones per site: one octet each, 0 and 255 left out


class ZoneAddresses:
    """The loopback address of each (site, zone), and the zone of an address."""

    def __init__(self, sites: Sequence[Site]) -> None:
        if len(sites) > _MAX or any(len(site.zones) > _MAX for site in sites):
            raise LiveError(f"live mode gives at most {_MAX} sites, each of at most {_MAX} "
                            "zones, a loopback address")  # fmt: skip
        self._address: dict[Source, str] = {}
        for i, site in enumerate(sites, start=1):
            for j, zone in enumerate(site.zones, start=1):
                self._address[(site.name, zone)] = f"127.{i}.{j}.1"
        self._source = {address: source for source, address in self._address.items()}

    def address(self, site: str, zone: str) -> str:
        """The loopback address a device in ``zone`` at ``site`` connects from."""
        try:
            return self._address[(site, zone)]
        except KeyError:
            raise LiveError(f"no zone {zone!r} at site {site!r}") from None

    def source(self, address: str) -> Source | None:
        """The (site, zone) of a peer address; None for an address that is no zone's."""
        return self._source.get(address)

    def published(self) -> Mapping[str, str]:
        """``site/zone`` -> address, as ``endpoints.json`` lists them."""
        return MappingProxyType({f"{s}/{z}": a for (s, z), a in self._address.items()})
