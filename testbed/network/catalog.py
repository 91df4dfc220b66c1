"""The service catalog: what listens where, on which port, and how easily it is pivoted.

``fixtures/network/catalog.yaml`` is data, validated at the boundary like a scenario
(file, field path, expected).  A design's rules name its services; the analysis reads
the pivot weights (:mod:`testbed.network.blast`) and which services are an asset's
API (:func:`testbed.network.asserts.assert_no_exposure`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Annotated, ClassVar

from pydantic import ConfigDict, Field, TypeAdapter

from testbed.devices import DeviceClass
from testbed.errors import ScenarioError
from testbed.inputs import load_yaml, validate
from testbed.sites import ServiceKind

__all__ = [
    "DEFAULT_CATALOG",
    "AssetPorts",
    "Catalog",
    "EndpointKind",
    "Protocol",
    "ServicePort",
    "load_catalog",
]

DEFAULT_CATALOG = Path(__file__).resolve().parents[2] / "fixtures" / "network" / "catalog.yaml"
_STRICT: ConfigDict = ConfigDict(extra="forbid")


class EndpointKind(StrEnum):
    """What an endpoint of the hospital network is."""

    DEVICE = "device"
    PACS = "pacs"
    EHR = "ehr"
    CA = "ca"
    IDP = "idp"


class Protocol(StrEnum):
    """IP protocols (Batfish's ``ipProtocol``)."""

    TCP = "tcp"
    UDP = "udp"


@dataclass(frozen=True, slots=True)
class ServicePort:
    """A service on the wire: protocol, port, and the weight of pivoting through it."""

    __pydantic_config__: ClassVar[ConfigDict] = _STRICT

    protocol: Protocol
    port: Annotated[int, Field(ge=1, le=65535, strict=True)]
    pivot: Annotated[float, Field(ge=0, le=1)]
    description: str = ""


@dataclass(frozen=True, slots=True)
class AssetPorts:
    """What a hospital asset listens on: its API, and everything else."""

    __pydantic_config__: ClassVar[ConfigDict] = _STRICT

    api: tuple[str, ...]
    other: tuple[str, ...] = ()

    @property
    def all(self) -> tuple[str, ...]:
        """API first, then the rest."""
        return self.api + self.other


@dataclass(frozen=True, slots=True)
class Catalog:
    """The whole catalog file."""

    __pydantic_config__: ClassVar[ConfigDict] = _STRICT

    services: dict[str, ServicePort]
    assets: dict[EndpointKind, AssetPorts]
    devices: dict[DeviceClass, tuple[str, ...]]
    traffic: dict[ServiceKind, str] = field(default_factory=dict)

    def listens(self, kind: EndpointKind, device_class: DeviceClass | None) -> tuple[str, ...]:
        """The services an endpoint of ``kind`` (a device: of ``device_class``) listens on."""
        if kind is EndpointKind.DEVICE:
            return self.devices.get(device_class, ()) if device_class else ()
        ports = self.assets.get(kind)
        return () if ports is None else ports.all

    def api(self, kind: EndpointKind) -> tuple[str, ...]:
        """The services that are ``kind``'s API (a device has none)."""
        ports = self.assets.get(kind)
        return () if ports is None else ports.api


_CATALOG = TypeAdapter(Catalog)


@cache
def load_catalog(path: Path = DEFAULT_CATALOG) -> Catalog:
    """Read and validate a catalog file; every service it names must be defined."""
    data = load_yaml(path)
    catalog = validate(_CATALOG, data, file=str(path))
    known = set(catalog.services)
    named = [(f"assets.{k}.{part}", n) for k, a in catalog.assets.items()
             for part, names in (("api", a.api), ("other", a.other)) for n in names]
    named += [(f"devices.{c}", n) for c, names in catalog.devices.items() for n in names]
    named += [(f"traffic.{k}", n) for k, n in catalog.traffic.items()]
    for where, name in named:
        if name not in known:
            raise ScenarioError(str(path), where, f"a service of this catalog ({sorted(known)})",
                                got=name)  # fmt: skip
    return catalog
