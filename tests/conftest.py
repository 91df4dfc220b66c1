"""Shared pytest fixtures for the decision-core tests.

Not to be confused with the top-level ``fixtures/`` directory (device profiles as
data files).  :class:`Hospital` wires the real services (CA, trust distribution, CRL
distribution, inventory, EST, access point) the way :class:`testbed.core.Testbed`
does, but without SimPy, so that a test drives time by passing ``now`` explicitly.
Everything is deterministic: one ``random.Random(seed)`` per hospital.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from pydantic import TypeAdapter

from testbed.access import Attempt
from testbed.clock import ManualClock
from testbed.decisions import Decision
from testbed.devices import DeviceRecord, load_profiles
from testbed.events import EventKind, EventLog
from testbed.hospital import Hospital as RealHospital
from testbed.inputs import validate
from testbed.lifecycle import LifecycleEvent
from testbed.pki.ca import IssuingMode
from testbed.pki.est import EstResponse
from testbed.pki.fidelity import Artefacts, DeviceKey
from testbed.pki.keys import KeyType
from testbed.pki.revocation import build_crl
from testbed.scenario import Scenario
from testbed.sites import Service, ServiceKind, Site

NOW = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
PKCS10 = "application/pkcs10"
REPO = Path(__file__).resolve().parent.parent

SITES = (
    Site("north", ("imaging", "bedside", "datacenter")),
    Site("south", ("imaging", "bedside", "datacenter")),
)
SERVICES = (
    Service("pacs-north", ServiceKind.PACS, "north", "datacenter"),
    Service("pacs-south", ServiceKind.PACS, "south", "datacenter"),
    Service("ehr", ServiceKind.EHR, "north", "datacenter"),
)
ROUTES = (
    ("imaging", "pacs-north", "north"),
    ("imaging", "pacs-south", "south"),
    ("imaging", "ehr", None),
)
PROFILES = load_profiles(REPO / "fixtures" / "profiles")


def scenario_for_tests(
    *, seed: int = 1, issuing: IssuingMode = IssuingMode.CENTRAL,
    trust_delay: timedelta = timedelta(hours=1),
) -> Scenario:
    """Two sites, three services, the imaging routes; one (unused) fleet group."""
    sites = [{"name": s.name, "zones": list(s.zones)} for s in SITES]
    services = [{"name": s.name, "kind": s.kind.value, "site": s.site, "zone": s.zone}
                for s in SERVICES]  # fmt: skip
    network = [{"from": z, "to": t, **({"site": site} if site else {})} for z, t, site in ROUTES]
    data = {
        "name": "unit", "seed": seed, "start": NOW.isoformat(), "duration": "30d",
        "sites": sites, "services": services, "network": network,
        "fleet": [{"profile": "ct-ai-onbox", "count": 1, "site": "north", "zone": "imaging",
                   "owner": "radiology"}],
        "pki": {"issuing": issuing.value,
                "trust_distribution_delay": f"{int(trust_delay.total_seconds())}s"},
    }  # fmt: skip
    return validate(TypeAdapter(Scenario), data, file="tests/conftest.py")


class Hospital:
    """The real composition root (:class:`testbed.hospital.Hospital`) with helpers, time
    passed in by the test (the hospital's own clock is a :class:`ManualClock`).

    ``start`` is the default ``now`` of every helper; the CA was created a day earlier.
    """

    start = NOW

    def __init__(
        self,
        *,
        seed: int = 1,
        issuing: IssuingMode = IssuingMode.CENTRAL,
        trust_delay: timedelta = timedelta(hours=1),
        artefacts: Artefacts | None = None,
    ) -> None:
        self.rng = random.Random(seed)
        self.clock = ManualClock(NOW)
        self.log = EventLog()
        scenario = scenario_for_tests(seed=seed, issuing=issuing, trust_delay=trust_delay)
        self.root = RealHospital(scenario, profiles=PROFILES, clock=self.clock, rng=self.rng,
                                 log=self.log, artefacts=artefacts)  # fmt: skip
        self.access = self.root.access
        self.metrics = self.root.metrics
        self.system, self.ca, self.trust = self.root.system, self.root.ca, self.root.trust
        self.crls, self.inventory, self.est = self.root.crls, self.root.inventory, self.root.est
        self.policy, self.nac, self.outages = self.root.policy, self.root.nac, self.root.outages
        self.passwords: dict[str, str] = {}
        self.keys: dict[str, DeviceKey] = {}

    # -- records and lifecycle ------------------------------------------------

    @staticmethod
    def record(
        device_id: str,
        *,
        site: str = "north",
        zone: str = "imaging",
        services: tuple[str, ...] = ("pacs-north", "ehr"),
    ) -> DeviceRecord:
        """A device record with the seed's fields filled in."""
        return DeviceRecord(
            device_id=device_id,
            vendor="Meridian Imaging",
            model="Apex CT 128 AI",
            serial=f"SN-{device_id}",
            site=site,
            zone=zone,
            owner="radiology",
            profile="ct-ai-onbox",
            intended_services=services,
            certificate_type=KeyType.EC_P256,
        )

    def register(
        self,
        device_id: str,
        *,
        now: datetime = NOW,
        lifetime: timedelta = timedelta(days=30),
        admit: bool = True,
        **record_options: object,
    ) -> str:
        """Register (with a bootstrap secret) and admit to NAC; returns the secret."""
        record = self.record(device_id, **record_options)  # type: ignore[arg-type]
        self.inventory.register(record, now=now, lifetime=lifetime)
        password = f"{self.rng.getrandbits(64):016x}"
        self.inventory.set_bootstrap(device_id, password)
        self.passwords[device_id] = password
        if admit:
            self.nac.admit(device_id)
        return password

    def transition(self, device_id: str, *events: LifecycleEvent, now: datetime = NOW) -> None:
        """Apply lifecycle events in order."""
        for event in events:
            self.inventory.transition(device_id, event, now=now)

    def promote(self, device_id: str, *, now: datetime = NOW) -> None:
        """Enrolled -> validated -> production."""
        self.transition(device_id, LifecycleEvent.VALIDATE, LifecycleEvent.PROMOTE, now=now)

    # -- EST ------------------------------------------------------------------

    def csr_body(self, device_id: str, *, common_name: str | None = None) -> bytes:
        """A CSR with a fresh P-256 key, as a device sends it (base64 DER at full
        fidelity)."""
        key = self.ca.artefacts.new_key(KeyType.EC_P256, self.rng)
        self.keys[device_id] = key
        return self.ca.artefacts.request(key, common_name or device_id)

    def simpleenroll(self, device_id: str, *, now: datetime = NOW) -> EstResponse:
        """First enrollment with the bootstrap secret."""
        basic = (device_id, self.passwords.get(device_id, "wrong"))
        return self.est.simpleenroll(
            self.csr_body(device_id), content_type=PKCS10, basic=basic, client_cert=None, now=now
        )

    def enroll(self, device_id: str, *, now: datetime = NOW) -> x509.Certificate:
        """Enroll and return the certificate (the enrollment must succeed)."""
        response = self.simpleenroll(device_id, now=now)
        if response.certificate is None:
            raise AssertionError(f"enrollment of {device_id} refused: {response.body!r}")
        return response.certificate

    def reenroll(self, device_id: str, cert: x509.Certificate, *, now: datetime) -> EstResponse:
        """Re-enrollment with the current certificate and a new key."""
        return self.est.simplereenroll(
            self.csr_body(device_id), content_type=PKCS10, client_cert=cert, now=now
        )

    def onboard(
        self, device_id: str, *, now: datetime = NOW, **options: object
    ) -> x509.Certificate:
        """Register, enroll, validate and promote; returns the certificate."""
        self.register(device_id, now=now, **options)  # type: ignore[arg-type]
        cert = self.enroll(device_id, now=now)
        self.promote(device_id, now=now)
        return cert

    # -- revocation and access ------------------------------------------------

    def publish_crls(self, *, now: datetime, validity: timedelta = timedelta(days=7)) -> None:
        """Sign and publish a CRL for every issuing CA."""
        for issuing in self.ca.issuing_cas(now=now):
            self.crls.publish(build_crl(self.ca, issuing, now=now, next_update_after=validity))

    def attempt(
        self,
        device_id: str,
        cert: x509.Certificate | None,
        *,
        service: str = "pacs-north",
        now: datetime = NOW,
    ) -> Decision:
        """One device action through the access point."""
        return self.access.decide(Attempt(device_id, service, cert, self.source(device_id)),
                                  now=now)  # fmt: skip

    def source(self, device_id: str) -> tuple[str, str]:
        """Where the device's traffic comes from: its registered zone (north/imaging
        for a device the hospital does not know)."""
        entry = self.inventory.get(device_id)
        return ("north", "imaging") if entry is None else (entry.record.site, entry.record.zone)

    def decision_events(self) -> list[dict[str, object]]:
        """Every access-decision event, as its JSON-ready mapping."""
        return [e.to_dict() for e in self.log.of_kind(EventKind.ACCESS_DECISION)]


@pytest.fixture
def hospital() -> Hospital:
    """A fresh hospital (central issuing CA, CA key from ``random.Random(1)``)."""
    return Hospital()


@pytest.fixture(scope="session")
def make_hospital() -> Callable[..., Hospital]:
    """The :class:`Hospital` factory, for tests that build several (or per example)."""
    return Hospital


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository checkout (for shipped scenarios and profiles)."""
    return REPO


TINY_SCENARIO = """\
name: tiny
seed: 7
start: 2026-01-05T00:00:00Z
duration: 5d
recovery_window: 1d
sites:
  - name: north
    zones: [imaging, datacenter]
services:
  - {name: pacs-north, kind: pacs, site: north, zone: datacenter}
  - {name: ehr, kind: ehr, site: north, zone: datacenter}
network:
  - {from: imaging, to: pacs-north}
  - {from: imaging, to: ehr}
fleet:
  - {profile: ct-ai-onbox, count: 2, site: north, zone: imaging, owner: radiology}
expectations:
  unauthorized_access: 0
"""


@pytest.fixture
def write_scenario(tmp_path: Path) -> Callable[..., Path]:
    """Write scenario text into ``tmp_path`` (the tiny valid scenario by default)."""

    def write(text: str = TINY_SCENARIO, *, name: str = "scenario.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture(scope="session")
def tiny_scenario() -> str:
    """The text of a valid two-device, five-day scenario."""
    return TINY_SCENARIO
