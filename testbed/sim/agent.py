"""A simulated device: its record, its profile, its key and certificate, its buffers."""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

import simpy

from testbed.devices import DeviceProfile, DeviceRecord, ae_title_for, make_record
from testbed.errors import ScenarioError
from testbed.incidents import IncidentJournal
from testbed.metrics import Availability, Metrics
from testbed.pki.fidelity import DeviceKey, LeafCertificate
from testbed.scenario import Scenario
from testbed.sites import HealthSystem, ServiceKind

if TYPE_CHECKING:
    from testbed.faults import TlsFallback
    from testbed.sim.ehr_traffic import EhrSession
    from testbed.sim.imaging import Study


@dataclass(slots=True)
class NextKey:
    """A device's next key and its CSR, drawn when it installs a certificate.

    ``scalar`` is the EC private value (from the run's seeded generator); ``body``
    the base64 DER CSR once made.  A device keeps the same request across retries.
    """

    scalar: int
    body: bytes | None = None


__all__ = ["DeviceAgent", "build_fleet"]


@dataclass(slots=True, eq=False)
class DeviceAgent:
    """The device side of one device: what it holds and how it behaves."""

    record: DeviceRecord
    profile: DeviceProfile
    group: str
    onboard_at: timedelta
    offboard_at: timedelta | None
    availability: Availability
    key: DeviceKey | None = None
    next_key: NextKey | None = None  # used at the next (first) enrollment or renewal
    certificate: LeafCertificate | None = None
    #: its department's shared credential, in a ``credentials: shared`` design
    #: (testbed.network.shared), presented instead of a certificate
    shared_credential: str | None = None
    bootstrap: tuple[str, str] | None = None
    buffers: dict[str, int] = field(default_factory=dict)
    skew: timedelta = timedelta(0)
    renewal_broken: int = 0
    retired: bool = False
    recovering: bool = False
    # an operator found the CA down while acting for this (non-EST) device and waits
    # for it to come back: checking again is not another manual step
    awaiting_ca: bool = False
    changed: simpy.Event | None = None
    onboarding_began: float | None = None  # simulation seconds, once onboarding starts
    #: its SMART session with the EHR, when its profile uses the EHR (an ``ehr`` block)
    ehr: EhrSession | None = None
    #: DICOM (a scenario with a ``dicom:`` block): the studies held per PACS, oldest
    #: first, as many as ``buffers`` counts (testbed.sim.imaging); None: no DICOM
    studies: dict[str, deque[Study]] | None = None
    studies_made: int = 0
    #: firmware faults on its DICOM TLS in progress (the last one applies)
    tls_faults: tuple[TlsFallback, ...] = ()

    @property
    def capacity(self) -> int:
        """Items the device can hold for later (0 without store and forward)."""
        return self.profile.buffer_capacity if self.profile.store_and_forward else 0

    @property
    def device_id(self) -> str:
        """The device's identity."""
        return self.record.device_id

    def notify(self, env: simpy.Environment) -> None:
        """Wake the device's renewal timer (certificate replaced, clock changed)."""
        if self.changed is not None and not self.changed.triggered:
            self.changed.succeed()
        self.changed = env.event()


def _ae_title(profile: DeviceProfile, index: int, file: str, where: str) -> str | None:
    try:
        return ae_title_for(profile, index)
    except ValueError as err:
        raise ScenarioError(file, where, f"{err}; shorten the profile's ae_title_prefix") from None


def build_fleet(
    scenario: Scenario,
    profiles: dict[str, DeviceProfile],
    system: HealthSystem,
    rng: random.Random,
    metrics: Metrics,
    incidents: IncidentJournal | None = None,
) -> list[DeviceAgent]:
    """One agent per device of every fleet group, in file order (``incidents``: where
    their incidents are listed one by one)."""
    agents: list[DeviceAgent] = []
    for g, group in enumerate(scenario.fleet):
        profile = profiles[group.profile]
        spread = group.onboard_spread / max(group.count, 1)
        for i in range(1, group.count + 1):
            record = make_record(
                profile,
                system,
                device_id=group.device_id(i),
                serial=f"SN{rng.getrandbits(40):010X}",
                site=group.site,
                zone=group.zone,
                owner=group.owner,
                preferred_key=scenario.pki.key_type,
                services=group.services,
                ae_title=_ae_title(profile, len(agents) + 1, "scenario", f"fleet[{g}]"),
            )
            agents.append(
                DeviceAgent(
                    record=record,
                    profile=profile,
                    group=group.group,
                    onboard_at=group.onboard_at + spread * (i - 1),
                    offboard_at=group.offboard_at,
                    availability=Availability(
                        metrics, device=record.device_id, journal=incidents
                    ),
                    buffers=dict.fromkeys(record.intended_services, 0),
                    studies=_studies(scenario, system, record) if scenario.dicom else None,
                )
            )
    return agents


def _studies(
    scenario: Scenario, system: HealthSystem, record: DeviceRecord
) -> dict[str, deque[Study]] | None:
    """An empty study queue per PACS the device sends to (None: it sends to none)."""
    pacs = [s for s in record.intended_services if system.service(s).kind is ServiceKind.PACS]
    return {s: deque() for s in pacs} or None
