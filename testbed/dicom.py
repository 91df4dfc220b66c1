"""The hospital's DICOM path: one entry for an association and its requests, for both
transports (DESIGN: one decision core, two transports; ``docs/pacs.md``).

The simulation (a device's agent, with the TLS its profile offers) and live mode (the
pynetdicom acceptor's event handlers, with the TLS facts the handshake saw) both call
:class:`DicomPath`, never a :class:`~testbed.pacs.Pacs` hop by hop:

1. the network hop of the access path (:class:`~testbed.hops.NetworkHop`: NAC and the
   zone policy from the peer's source), for the device the certificate names (else the
   device the calling AE title belongs to); a refusal is the PACS's
   ``dicom-association`` event with reason ``route-blocked``;
2. the site's PACS: TLS profile, certificate, AE titles, identity, zone, service.

Requests on an accepted association (C-ECHO, C-STORE, A-RELEASE) go to the PACS that
accepted it.

Where a PACS listens is its endpoint: the called AE title (:class:`PacsEndpoint`) and a
port.  :meth:`DicomPath.move` changes either (a ``dicom-endpoint-changed`` fault); a
simulated device names the port it connects to, and one where the PACS no longer
listens is refused ``dicom-port-closed`` at the network (live mode passes no port: its
acceptor is where the peer connected).

:class:`AllowLists` keeps every PACS's allow-list following the inventory: a
registered device with an AE title joins the lists of its DICOM endpoints, an
offboarded one leaves them; a suspended one stays (the PACS refuses it
``device-suspended``, the clearer reason).  A fault can withhold a title from one
PACS's list (``ae-title-not-allowed``) and give it back.  The frozen
:class:`~testbed.pacs.AllowList` a PACS decides with is rebuilt lazily, on the first
association after a change, so registering a large fleet costs one build.  Every
change of a list moves the hospital's :class:`~testbed.revision.Revision` (what a PACS
decides with moved: a live acceptor asks again before its next handshake), as a change
no hop of the access point reads (:meth:`~testbed.revision.Revision.outside_hops`: an
allowance that stands is not let go).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Protocol

from testbed.access import AccessPoint, Attempt, Purpose
from testbed.decisions import Decision, Hop, Reason
from testbed.devices import DeviceRecord
from testbed.errors import RegistrationError
from testbed.holds import Holds
from testbed.hops import NetworkHop
from testbed.pacs import (
    AllowedAe,
    AllowList,
    Association,
    AssociationDecision,
    AssociationRequest,
    EchoRequest,
    MemoryStore,
    Pacs,
    PacsEndpoint,
    StoreRequest,
)
from testbed.pacs.ae_title import canonical_ae_title
from testbed.pacs.echo import EchoDecision
from testbed.pacs.store import InstanceStore, StoreDecision
from testbed.revision import Revision

__all__ = ["AllowLists", "DicomPath", "InstanceStores", "memory_instances"]


class InstanceStores(Protocol):
    """Where each PACS keeps its instances (live mode: durable, in the state directory)."""

    def __call__(self, endpoint: PacsEndpoint) -> InstanceStore:
        """The instance store of the PACS at ``endpoint``."""
        ...


def memory_instances(endpoint: PacsEndpoint) -> InstanceStore:
    """A new in-memory store (the simulation's and the tests')."""
    return MemoryStore()


class AllowLists:
    """The allow-list of every PACS service, following the inventory."""

    def __init__(self, services: Iterable[str], *, revision: Revision | None = None) -> None:
        self.revision = revision or Revision()
        self._entries: dict[str, dict[str, AllowedAe]] = {s: {} for s in services}
        self._endpoints: dict[str, tuple[str, ...]] = {}  # device -> the PACS it is on
        self._withheld: Holds[tuple[str, str]] = Holds()
        self._built: dict[str, AllowList] = {}

    def check(self, record: DeviceRecord) -> None:
        """:class:`RegistrationError` when ``record``'s AE title is another device's at
        one of its DICOM endpoints (the PACS could not tell the two apart)."""
        for service, entry in self._of(record):
            held = self._entries[service].get(entry.ae_title)
            if held is not None and held.device_id != record.device_id:
                raise RegistrationError(
                    f"AE title {entry.ae_title!r} of {record.device_id!r} is already "
                    f"{held.device_id!r}'s at PACS {service!r}; give each device its own title"
                )

    def add(self, record: DeviceRecord) -> None:
        """Put a registered device on the lists of its DICOM endpoints."""
        self.check(record)
        chosen = self._of(record)
        for service, entry in chosen:
            self._entries[service][entry.ae_title] = entry
            self._built.pop(service, None)
        if chosen:
            self._endpoints[record.device_id] = tuple(s for s, _ in chosen)
            self.revision.outside_hops()

    def remove(self, device_id: str) -> None:
        """Take an offboarded device off every list (nothing when it was on none)."""
        services = self._endpoints.pop(device_id, ())
        for service in services:
            entries = self._entries[service]
            for title in [t for t, e in entries.items() if e.device_id == device_id]:
                del entries[title]
            self._built.pop(service, None)
        if services:
            self.revision.outside_hops()

    def withhold(self, service: str, ae_title: str) -> None:
        """Leave ``ae_title`` off ``service``'s list until :meth:`restore` (withholdings
        nest)."""
        self._entries[service]  # KeyError: not a PACS
        self._withheld.hold((service, ae_title))
        self._built.pop(service, None)
        self.revision.outside_hops()

    def restore(self, service: str, ae_title: str) -> None:
        """End one withholding of ``ae_title`` at ``service``."""
        self._withheld.release((service, ae_title))
        self._built.pop(service, None)
        self.revision.outside_hops()

    def current(self, service: str) -> AllowList:
        """``service``'s list now (built once per change)."""
        built = self._built.get(service)
        if built is None:
            kept = (
                e for e in self._entries[service].values()
                if (service, e.ae_title) not in self._withheld
            )  # fmt: skip
            built = self._built[service] = AllowList.of(service, kept)
        return built

    def _of(self, record: DeviceRecord) -> list[tuple[str, AllowedAe]]:
        if record.ae_title is None:
            return []
        entry = AllowedAe.of(record)
        return [(s, entry) for s in record.dicom_endpoints if s in self._entries]


class DicomPath:
    """The hospital's DICOM entry: the network hop, then the site's PACS."""

    def __init__(
        self,
        *,
        pacs: Mapping[str, Pacs],
        allow_lists: AllowLists,
        access: AccessPoint,
        network: NetworkHop,
        port: int,
    ) -> None:
        self.pacs = pacs
        self.allow_lists = allow_lists
        self.access = access
        self.network = network
        #: the port each PACS listens on now
        self.ports = dict.fromkeys(pacs, port)

    def endpoint(self, service: str) -> tuple[PacsEndpoint, int]:
        """Where PACS ``service`` listens now: its endpoint (called AE title) and port."""
        return self.pacs[service].policy.endpoint, self.ports[service]

    def move(self, service: str, *, port: int | None = None, ae_title: str | None = None) -> None:
        """PACS ``service`` listens on another port and/or answers to another called AE
        title from now on (ValueError: not a valid AE title)."""
        policy = self.pacs[service].policy
        if ae_title is not None:
            policy.endpoint = replace(policy.endpoint, ae_title=canonical_ae_title(ae_title))
        if port is not None:
            self.ports[service] = port

    def associate(
        self,
        service: str,
        request: AssociationRequest,
        *,
        now: datetime,
        port: int | None = None,
        purpose: Purpose = Purpose.TRAFFIC,
    ) -> AssociationDecision:
        """An A-ASSOCIATE request to PACS ``service`` (KeyError: not a PACS) at ``port``
        (None: where it listens), decided and recorded once."""
        pacs = self.pacs[service]
        allow_list = self.allow_lists.current(service)
        if pacs.policy.allow_list is not allow_list:
            pacs.replace_allow_list(allow_list)
        entry = pacs.policy.entry(request.calling_ae)
        listed = None if entry is None else entry.device_id
        holder = self._holder(request)
        denial = self._network(service, request, holder or listed, now) or self._port(
            service, port
        )
        if denial is not None:
            return pacs.refuse(request, denial, device_id=listed, now=now, peer=holder,
                               purpose=purpose)  # fmt: skip
        return pacs.associate(request, now=now, peer=holder, purpose=purpose)

    def echo(self, association: Association, *, now: datetime) -> EchoDecision:
        """C-ECHO on an association."""
        return self.pacs[association.service].echo(EchoRequest(association), now=now)

    def store(self, request: StoreRequest, *, now: datetime) -> StoreDecision:
        """C-STORE on an association."""
        return self.pacs[request.association.service].store_instance(request, now=now)

    def release(self, association: Association) -> None:
        """A-RELEASE (KeyError: not open)."""
        self.pacs[association.service].release(association)

    def _holder(self, request: AssociationRequest) -> str | None:
        """The device the CA issued the peer's certificate to (None: no certificate,
        or not one of this CA's)."""
        certificate = request.certificate
        if certificate is None:
            return None
        record = self.access.ca.record(self.access.leaves.facts(certificate).serial)
        return None if record is None else record.device_id

    def _network(
        self, service: str, request: AssociationRequest, device: str | None, now: datetime
    ) -> Decision | None:
        """The network hop for the device behind the peer: the certificate's holder
        (the identity NAC admitted), else the calling AE title's device."""
        attempt = Attempt(device or "", service, request.certificate, request.source)
        return self.network.check(self.access.context(attempt, now=now))

    def _port(self, service: str, port: int | None) -> Decision | None:
        """Nothing listens at ``port`` when the PACS moved away from it."""
        listening = self.ports[service]
        if port is None or port == listening:
            return None
        detail = f"nothing listens at port {port} of {service!r}: it moved to {listening}"
        return Decision.deny(Reason.DICOM_PORT_CLOSED, Hop.NETWORK, detail)
