"""What an emulation builds and probes, worked out before anything touches the kernel.

A :class:`Plan` places a hospital (:class:`~testbed.network.topology.Topology`)
under a design in network namespaces:

- one **zone namespace** per (site, zone) where devices sit, linked to the services
  namespace by a veth pair on its own /24 (``10.77.<zone>.0/24``; the services side
  is ``.1``, the zone side ``.2``);
- in it one **source address** per place of a device (site, zone, device class:
  everything a design's group selects a device on), from ``.10`` up;
- one **services namespace** holding every hospital asset (PACS, EHR, CA, IdP) on
  its own address (``10.78.x.y/32``), routing the zones and filtering with the
  design's nftables ruleset (:mod:`testbed.network.emulate.ruleset`);
- in the services namespace too, behind the same filter, one **device target** per
  place of a device (``10.79.x.y/32``) listening on what its device class listens on
  (the catalog): the destinations of device-to-device flows, which the blast radius
  counts.  The filter stands in for whatever separates devices (a VLAN boundary, a
  microsegment's own filter); a segment's element lets flows within it through, as
  the switch would;
- one **flow** per source x target x TCP service the target listens on, with the
  model's verdict (:class:`~testbed.network.matrix.Matrix`, the function the network
  hop asks).  A flow from a place to its own place's target stands for one device to
  another device of the same place (same site, zone and class).

The kernel sees ports, not identities: a flow the model refuses for a missing
identity (``DENIED_IDENTITY``) passes the network and is refused above it, so the
kernel must let it through.  :attr:`Flow.network_open` is that expectation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from ipaddress import IPv4Address

from testbed.errors import EmulationError
from testbed.network.catalog import Catalog, Protocol, load_catalog
from testbed.network.design import Design
from testbed.network.matrix import Disposition, Matrix, Place, Verdict
from testbed.network.reach import held_by, place_of
from testbed.network.topology import Endpoint, Topology

__all__ = ["Flow", "Plan", "Source", "Target", "ZoneLink", "plan"]

#: dispositions whose flow crosses the network (identity is checked above it)
_OPEN = frozenset({Disposition.ACCEPTED, Disposition.DENIED_IDENTITY})
_MAX_ZONES = 250
_FIRST_SOURCE, _MAX_SOURCES = 10, 240
_MAX_TARGETS = 250 * 250


@dataclass(frozen=True, slots=True)
class ZoneLink:
    """A zone namespace and its link to the services namespace."""

    index: int
    site: str
    zone: str

    @property
    def name(self) -> str:
        """The namespace's suffix (and the veth's name on the services side)."""
        return f"z{self.index}"

    @property
    def gateway(self) -> IPv4Address:
        """The services namespace's address on this link."""
        return IPv4Address(f"10.77.{self.index}.1")

    @property
    def address(self) -> IPv4Address:
        """The zone namespace's own address on the link."""
        return IPv4Address(f"10.77.{self.index}.2")


@dataclass(frozen=True, slots=True)
class Source:
    """A place devices send from, with a device standing for it (whose identities the
    model's verdict assumes) and its address in its zone namespace."""

    place: Place
    device: Endpoint
    link: ZoneLink
    address: IPv4Address

    @property
    def label(self) -> str:
        """``site/zone/device-class``."""
        return f"{self.place.site}/{self.place.zone}/{self.place.device_class}"


@dataclass(frozen=True, slots=True)
class Target:
    """A hospital asset, or a device standing for its place, on its address in the
    services namespace."""

    endpoint: Endpoint
    address: IPv4Address


@dataclass(frozen=True, slots=True)
class Flow:
    """One probe: a source to a target's TCP service, and the model's verdict on it."""

    source: Source
    target: Target
    service: str
    port: int
    verdict: Verdict

    @property
    def network_open(self) -> bool:
        """Whether the model lets the flow through the network (identity aside)."""
        return self.verdict.disposition in _OPEN


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything an emulation builds, and every flow it probes, in a fixed order."""

    design: Design
    at: datetime | None
    links: tuple[ZoneLink, ...]
    sources: tuple[Source, ...]
    targets: tuple[Target, ...]
    flows: tuple[Flow, ...]

    @property
    def sites(self) -> tuple[str, ...]:
        """The sites of every source and target, in first-seen order."""
        seen = [s.place.site for s in self.sources] + [t.endpoint.site for t in self.targets]
        return tuple(dict.fromkeys(seen))


def plan(
    design: Design, topology: Topology, *, at: datetime | None = None,
    catalog: Catalog | None = None,
) -> Plan:
    """The namespaces, addresses and flows of ``topology`` under ``design`` (``at``:
    the time exceptions are judged at; None: every exception in force)."""
    catalog = catalog or load_catalog()
    links = _links(topology)
    sources = _sources(topology, design, links)
    assets = tuple(
        Target(asset, IPv4Address(f"10.78.{i // 250}.{i % 250 + 1}"))
        for i, asset in enumerate(topology.assets)
    )
    if len(assets) > _MAX_TARGETS:
        raise EmulationError(f"{len(assets)} assets: at most {_MAX_TARGETS} can be emulated")
    # one device per place: a verdict depends on places (and the source's identities)
    devices = tuple(
        Target(source.device, IPv4Address(f"10.79.{i // 250}.{i % 250 + 1}"))
        for i, source in enumerate(sources)
        if _tcp_services(source.device, catalog)
    )
    targets = assets + devices
    matrix = Matrix(design, catalog=catalog)
    flows = tuple(
        Flow(source, target, service, port,
             matrix.decide(source.place, place_of(target.endpoint), service,
                           held_by(source.device, design), at=at))
        for source in sources
        for target in targets
        for service, port in _tcp_services(target.endpoint, catalog)
    )  # fmt: skip
    return Plan(design, at, links, sources, targets, flows)


def _links(topology: Topology) -> tuple[ZoneLink, ...]:
    zones = dict.fromkeys((d.site, d.zone) for d in topology.devices)
    if len(zones) > _MAX_ZONES:
        raise EmulationError(f"{len(zones)} (site, zone) pairs: at most {_MAX_ZONES} "
                             "zone namespaces can be emulated")  # fmt: skip
    return tuple(ZoneLink(i, site, zone) for i, (site, zone) in enumerate(zones))


def _sources(topology: Topology, design: Design, links: tuple[ZoneLink, ...]) -> tuple[Source, ...]:
    by_zone = {(link.site, link.zone): link for link in links}
    first: dict[Place, Endpoint] = {}
    for device in topology.devices:
        first.setdefault(place_of(device), device)
    taken: dict[ZoneLink, int] = {}
    sources = []
    for place, device in first.items():
        link = by_zone[(place.site, place.zone)]
        n = taken[link] = taken.get(link, 0) + 1
        if n > _MAX_SOURCES:
            raise EmulationError(f"more than {_MAX_SOURCES} device classes in zone "
                                 f"{place.zone!r} at {place.site!r}")  # fmt: skip
        address = IPv4Address(f"10.77.{link.index}.{_FIRST_SOURCE + n - 1}")
        sources.append(Source(place, device, link, address))
    return tuple(sources)


def _tcp_services(target: Endpoint, catalog: Catalog) -> tuple[tuple[str, int], ...]:
    """The TCP services ``target`` listens on; two on one port cannot be told apart by a
    probe, so that is refused."""
    listens = catalog.listens(target.kind, target.device_class)
    services = [(name, catalog.services[name].port) for name in listens
                if catalog.services[name].protocol is Protocol.TCP]  # fmt: skip
    ports = [port for _, port in services]
    for name, port in services:
        if ports.count(port) > 1:
            raise EmulationError(f"{target.id} listens on TCP port {port} for more than "
                                 f"one service ({name} among them): a probe cannot tell "
                                 "them apart")  # fmt: skip
    return tuple(services)
