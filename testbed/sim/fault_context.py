"""What a fault's effect may touch: the hospital's services and the fault's devices.

Fault effects (:mod:`testbed.sim.effects`) reach the testbed only through a
:class:`FaultContext`, so this module is the one place that knows where the
services live on :class:`~testbed.core.Testbed`.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from testbed import operations
from testbed.events import EventKind, Value
from testbed.faults import DeviceFault, FaultSpec
from testbed.network.policy import DesignPolicy
from testbed.sim.device import recover, skew_changed
from testbed.sim.offboarding import revoke_identity

if TYPE_CHECKING:
    from testbed.clinical import Clinical
    from testbed.core import Testbed
    from testbed.dicom import AllowLists, DicomPath
    from testbed.hops import ServiceOutages
    from testbed.network import DesignPolicy, ZonePolicy
    from testbed.pacs.trust import PacsTrust
    from testbed.pki.fidelity import LeafCertificate
    from testbed.pki.outage import CaOutages
    from testbed.pki.trust import TrustDistribution
    from testbed.sim.agent import DeviceAgent
    from testbed.sim.ehr_traffic import EhrDelivery
    from testbed.sim.imaging import ImagingSender

__all__ = ["FaultContext"]


class FaultContext:
    """One fault's view of the hospital, its devices resolved when it is made.

    Made when the run is scheduled: a device target that names nothing is a
    :class:`~testbed.errors.ScenarioError` then, before the run, not inside it.
    """

    def __init__(self, tb: Testbed, fault: FaultSpec) -> None:
        self._tb = tb
        #: the devices the fault hits (none for a fault on the CA, a site or a route)
        self.devices: tuple[DeviceAgent, ...] = ()
        if isinstance(fault, DeviceFault):
            self.devices = tuple(tb.agents_for(fault.target, fault.count))

    @property
    def trust(self) -> TrustDistribution:
        """The trust bundles the sites' relying parties hold."""
        return self._tb.hospital.trust

    @property
    def policy(self) -> ZonePolicy | DesignPolicy:
        """The network's policy (the allow list, or the scenario's design compiled)."""
        return self._tb.hospital.policy

    @property
    def design_policy(self) -> DesignPolicy:
        """The scenario's design compiled (a fault on a design's exception needs one;
        the scenario's cross-checks refuse such a fault without a design)."""
        policy = self._tb.hospital.policy
        if not isinstance(policy, DesignPolicy):
            raise TypeError("this fault acts on a design: the scenario selects none")
        return policy

    @property
    def services(self) -> ServiceOutages:
        """The clinical services' outages in progress."""
        return self._tb.hospital.outages

    @property
    def dicom(self) -> DicomPath:
        """The hospital's DICOM path (where each PACS listens)."""
        return self._tb.hospital.dicom

    @property
    def allow_lists(self) -> AllowLists:
        """Every PACS's AE allow-list."""
        return self._tb.hospital.allow_lists

    @property
    def pacs_trust(self) -> PacsTrust:
        """The trust each site's PACS holds."""
        return self._tb.hospital.pacs_trust

    @property
    def imaging(self) -> ImagingSender:
        """The devices' DICOM side (a fault on DICOM needs a ``dicom:`` block, which
        the scenario's cross-check makes sure of)."""
        imaging = self._tb.traffic.imaging
        if imaging is None:
            raise RuntimeError("a DICOM fault in a scenario without a dicom: block")
        return imaging

    @property
    def outages(self) -> CaOutages:
        """The certificate authority's outages in progress."""
        return self._tb.hospital.ca_outages

    def now(self) -> datetime:
        """The scenario time now."""
        return self._tb.now()

    @property
    def clinical(self) -> Clinical:
        """The hospital's IdP and EHRs (a fault on them needs the ``ehr`` block, which
        the scenario's cross-check made sure of)."""
        clinical = self._tb.hospital.clinical
        assert clinical is not None, "an EHR fault in a scenario without an 'ehr' block"
        return clinical

    @property
    def ehr_delivery(self) -> EhrDelivery:
        """How devices deliver to the EHR (lost answers live there: the network's)."""
        delivery = self._tb.traffic.ehr
        assert delivery is not None, "an EHR fault in a scenario without an 'ehr' block"
        return delivery

    def later(self, delay: timedelta, action: Callable[[], None]) -> None:
        """Run ``action`` after ``delay`` (a fault with phases)."""

        def process() -> Generator[Any, Any, None]:
            yield self._tb.env.timeout(delay.total_seconds())
            action()

        self._tb.env.process(process())

    def move_patient(self, service: str, patient: str, to_location: str) -> None:
        """Move a patient now (the operation, as live mode's ``ehr move-patient``)."""
        operations.move_patient(self._tb.hospital, patient, to_location, service=service)

    def rotate_idp_key(self, overlap: timedelta) -> None:
        """The IdP signs with a new key from now (the operation)."""
        operations.rotate_idp_key(self._tb.hospital, overlap=overlap)

    def emit(self, kind: EventKind, subject: str, **data: Value) -> None:
        """Write an event to the run's log, now."""
        self._tb.log.emit(self._tb.now(), kind, subject, **data)

    def publish_crls(self, *, site: str | None = None) -> None:
        """Publish a CRL of every issuing CA that is up (only ``site``'s, if given)."""
        operations.publish_crls(self._tb.hospital, site=site)

    def revoke(self, agent: DeviceAgent) -> None:
        """Revoke every live certificate of the device (a fault, not an operator)."""
        revoke_identity(self._tb.sim, agent, why="fault")

    def is_revoked(self, certificate: LeafCertificate) -> bool:
        """Whether the CA has revoked ``certificate``."""
        return self._tb.hospital.ca.revoked_at(certificate.serial_number) is not None

    def recover(self, agent: DeviceAgent) -> None:
        """An operator re-bootstraps the device's current identity (a process)."""
        self._tb.env.process(recover(self._tb.sim, agent, agent.certificate))

    def set_skew(self, agent: DeviceAgent, skew: timedelta) -> None:
        """The device's clock is now ``skew`` off true time."""
        skew_changed(self._tb.sim, agent, skew)
