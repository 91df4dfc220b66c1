"""The endpoints of a hospital network: devices, clinical services, the CA and the IdP.

A :class:`Topology` is what the analysis reads of a hospital: each endpoint with its
kind, site, zone, device class and the identities it holds.  It is built from a
scenario and its device profiles (:meth:`Topology.from_scenario`), from a
:class:`~testbed.hospital.Hospital`, or by hand (a toy hospital in a test).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from testbed.devices import DeviceClass, DeviceProfile
from testbed.network.catalog import EndpointKind
from testbed.sites import ServiceKind

if TYPE_CHECKING:
    from testbed.scenario import Scenario

__all__ = ["Endpoint", "HasScenario", "Topology", "as_topology"]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One thing on the network that sends or listens.

    ``scopes`` and ``ae_title`` are the identities a device holds besides its
    certificate (from its profile); assets hold a service certificate and nothing else.
    """

    id: str
    kind: EndpointKind
    site: str
    zone: str
    device_class: DeviceClass | None = None
    profile: str | None = None
    scopes: tuple[str, ...] = ()
    ae_title: bool = False

    @property
    def is_device(self) -> bool:
        """Whether this endpoint is a medical device (not a hospital asset)."""
        return self.kind is EndpointKind.DEVICE


@dataclass(frozen=True, slots=True)
class Topology:
    """Every endpoint of one hospital, devices first, in scenario order."""

    endpoints: tuple[Endpoint, ...]

    @property
    def devices(self) -> tuple[Endpoint, ...]:
        """The medical devices."""
        return tuple(e for e in self.endpoints if e.is_device)

    @property
    def assets(self) -> tuple[Endpoint, ...]:
        """The hospital's assets (PACS, EHR, CA, IdP)."""
        return tuple(e for e in self.endpoints if not e.is_device)

    def endpoint(self, endpoint_id: str) -> Endpoint:
        """The endpoint called ``endpoint_id``."""
        for endpoint in self.endpoints:
            if endpoint.id == endpoint_id:
                return endpoint
        raise KeyError(f"no endpoint {endpoint_id!r} in this hospital")

    @classmethod
    def from_scenario(cls, scenario: Scenario, profiles: Mapping[str, DeviceProfile]) -> Topology:
        """The fleet's devices (one endpoint each), the scenario's services, and the CA
        and IdP, placed beside the first EHR (else the first service)."""
        devices = [
            _device(group.device_id(i), profiles[group.profile], group.site, group.zone)
            for group in scenario.fleet
            for i in range(1, group.count + 1)
        ]
        services = [Endpoint(s.name, EndpointKind(s.kind.value), s.site, s.zone)
                    for s in scenario.services]  # fmt: skip
        home = next((s for s in scenario.services if s.kind is ServiceKind.EHR),
                    scenario.services[0])  # fmt: skip
        infrastructure = [Endpoint(kind.value, kind, home.site, home.zone)
                          for kind in (EndpointKind.CA, EndpointKind.IDP)]  # fmt: skip
        return cls(tuple(devices + services + infrastructure))


def _device(device_id: str, profile: DeviceProfile, site: str, zone: str) -> Endpoint:
    return Endpoint(
        device_id, EndpointKind.DEVICE, site, zone, profile.device_class, profile.id,
        tuple(profile.fhir_scopes), profile.ae_title_prefix is not None,
    )  # fmt: skip


class HasScenario(Protocol):
    """A hospital as the analysis reads it (:class:`~testbed.hospital.Hospital`)."""

    @property
    def scenario(self) -> Scenario:
        """The validated scenario."""
        ...

    @property
    def profiles(self) -> Mapping[str, DeviceProfile]:
        """The device profiles by id."""
        ...


def as_topology(hospital: Topology | HasScenario | Sequence[Endpoint]) -> Topology:
    """A topology from a topology, a hospital, or a list of endpoints."""
    if isinstance(hospital, Topology):
        return hospital
    if isinstance(hospital, Sequence):
        return Topology(tuple(hospital))
    return Topology.from_scenario(hospital.scenario, hospital.profiles)
