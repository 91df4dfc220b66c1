"""Seed §7 step 3: validate before production with simulated failures.

Each device, once enrolled, is tried with an expired credential, a revoked
certificate and a blocked route.  A test *fails safe* when the hospital refuses the
action, the device reports the failure and keeps the data; it *fails silent* when
the hospital refuses but the device neither reports nor keeps the data; it is
*unsafe* when the hospital lets the faulty action through.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, TypeVar

from testbed.access import AccessPoint, Attempt, DecisionListener, Purpose
from testbed.decisions import Decision, Hop, Reason
from testbed.events import EventKind
from testbed.hops import CrlSource, RoutePolicy, standard_chains
from testbed.pki.fidelity import LeafCertificate
from testbed.pki.renewal import OnExpiry
from testbed.pki.revocation import PublishedCrl
from testbed.verdicts import ValidationOutcome

if TYPE_CHECKING:
    from testbed.hospital import Hospital
    from testbed.network.peer import Peer
    from testbed.sim.agent import DeviceAgent
    from testbed.sim.context import SimContext

__all__ = ["FAILURE_TESTS", "TEST_REQUESTER", "ValidationLab", "run_failure_tests"]

_T = TypeVar("_T")
_TEST_LIFETIME = timedelta(hours=1)
TEST_REQUESTER = "preproduction-validation"
"""The requester of the short-lived certificates the failure tests use (not identities)."""


FAILURE_TESTS: tuple[Purpose, ...] = (
    Purpose.EXPIRED_CREDENTIAL,
    Purpose.REVOKED_CERTIFICATE,
    Purpose.BLOCKED_ROUTE,
)
"""The seed's simulated failure tests, in the order they run: each is the purpose of
its attempt, and the ``test`` of its ``validation-test`` event."""


def _test_certificate(
    sim: SimContext, agent: DeviceAgent, *, issued_at_offset: timedelta
) -> LeafCertificate:
    """A short-lived certificate for the device's key, issued for the test only.

    The validation harness works with the device's enrolled key, so it asks the CA
    for that key itself (:meth:`~testbed.pki.ca.CertificateAuthority.issue_key`); a
    CSR would only prove to the CA what the harness knows.
    """
    if agent.certificate is None:
        raise ValueError(f"device {agent.device_id} has no certificate: enroll it first")
    public = sim.hospital.ca.artefacts.subject_key(agent.certificate)
    r = agent.record
    cert = sim.hospital.ca.issue_key(
        public,
        device_id=r.device_id,
        site=r.site,
        services=r.intended_services,
        requester=TEST_REQUESTER,
        on_expiry=OnExpiry.DISCARD,
        lifetime=_TEST_LIFETIME,
        now=sim.now() + issued_at_offset,
    )
    sim.hospital.inventory.add_test_serial(r.device_id, cert.serial_number)
    return cert


class _Listed(AbstractSet[int]):
    """The serials a CRL lists and the lab's own, as one set without copying the CRL's
    (which lists every test certificate the lab revoked before: a copy per test made
    onboarding a fleet quadratic)."""

    __slots__ = ("_crl", "_lab")

    def __init__(self, crl: AbstractSet[int], lab: frozenset[int]) -> None:
        self._crl, self._lab = crl, lab

    def __contains__(self, serial: object) -> bool:
        return serial in self._lab or serial in self._crl

    def __iter__(self) -> Iterator[int]:
        yield from self._crl
        yield from (serial for serial in self._lab if serial not in self._crl)

    def __len__(self) -> int:
        return len(self._crl) + sum(serial not in self._crl for serial in self._lab)

    __hash__ = AbstractSet._hash

    @classmethod
    def _from_iterable(cls, items: Iterable[_T]) -> frozenset[_T]:
        """What the set operators (``|``, ``&``, ``-``, ``^``) build: a plain frozenset."""
        return frozenset(items)


class _LabCrls:
    """The hospital's CRLs, with the lab's own revocations already on them (the lab
    republishes at once what the hospital publishes on its schedule)."""

    def __init__(self, base: CrlSource) -> None:
        self.base = base
        self.revoked: frozenset[int] = frozenset()

    def current(self, issuer_name: str) -> PublishedCrl | None:
        crl = self.base.current(issuer_name)
        if crl is None or not self.revoked:
            return crl
        return replace(crl, serials=_Listed(crl.serials, self.revoked))


class _LabRoutes:
    """The hospital's zone policy, with one route the lab blocks."""

    def __init__(self, base: RoutePolicy) -> None:
        self.base = base
        self.blocked: tuple[str, str] | None = None  # (zone, service)

    def decide(
        self, *, site: str, zone: str, service: str, peer: Peer | None = None,
        now: datetime | None = None,
    ) -> Decision:
        if self.blocked == (zone, service):
            detail = f"{zone}->{service} blocked by the validation lab"
            return Decision.deny(Reason.ROUTE_BLOCKED, Hop.NETWORK, detail)
        return self.base.decide(site=site, zone=zone, service=service, peer=peer, now=now)

    def until(
        self, *, site: str, zone: str, service: str, peer: Peer | None, now: datetime
    ) -> datetime | None:
        return self.base.until(site=site, zone=zone, service=service, peer=peer, now=now)


class ValidationLab:
    """Seed §7 step 3's test bench: the hospital's own hops and services, but with the
    lab's revocations on the CRLs and one route blocked at will, so a failure test never
    changes what the hospital's relying parties see.  Its decisions are real ones: the
    same log, the same listeners."""

    def __init__(self, hospital: Hospital, listeners: Sequence[DecisionListener]) -> None:
        self.crls = _LabCrls(hospital.crls)
        self.routes = _LabRoutes(hospital.policy)
        self.access = AccessPoint(
            system=hospital.system,
            inventory=hospital.inventory,
            ca=hospital.ca,
            log=hospital.log,
            chains=standard_chains(
                system=hospital.system, nac=hospital.nac, policy=self.routes,
                trust=hospital.trust, crls=self.crls, verifier=hospital.verifier,
                outages=hospital.outages,
            ),
        )  # fmt: skip
        for listener in listeners:
            self.access.subscribe(listener)

    def decide(
        self,
        attempt: Attempt,
        *,
        now: datetime,
        revoked: frozenset[int] = frozenset(),
        blocked: tuple[str, str] | None = None,
    ) -> Decision:
        """Decide ``attempt`` with ``revoked`` on the CRLs and ``blocked`` cut."""
        self.crls.revoked, self.routes.blocked = revoked, blocked
        try:
            return self.access.decide(attempt, now=now)
        finally:
            self.crls.revoked, self.routes.blocked = frozenset(), None


def _attempt(sim: SimContext, agent: DeviceAgent, test: Purpose) -> tuple[Decision, int | None]:
    """The test's decision, and the serial of the certificate issued for it (if any)."""
    record = agent.record
    service = record.intended_services[0]
    source = (record.site, record.zone)
    purpose = test
    now = sim.now()
    if test is Purpose.EXPIRED_CREDENTIAL:
        cert = _test_certificate(sim, agent, issued_at_offset=-2 * _TEST_LIFETIME)
        attempt = Attempt(agent.device_id, service, cert, source, purpose)
        return sim.lab.decide(attempt, now=now), cert.serial_number
    if test is Purpose.REVOKED_CERTIFICATE:
        cert = _test_certificate(sim, agent, issued_at_offset=timedelta(0))
        sim.hospital.ca.revoke(cert.serial_number, now=now)
        attempt = Attempt(agent.device_id, service, cert, source, purpose)
        revoked = frozenset({cert.serial_number})
        return sim.lab.decide(attempt, now=now, revoked=revoked), cert.serial_number
    attempt = Attempt(agent.device_id, service, agent.certificate, source, purpose)
    return sim.lab.decide(attempt, now=now, blocked=(record.zone, service)), None


def _outcome(agent: DeviceAgent, decision: Decision) -> tuple[str, str]:
    if decision.allowed:
        return ValidationOutcome.UNSAFE, "the hospital let the faulty action through"
    missing = []
    if not agent.profile.reports_failures:
        missing.append("does not report the failure")
    if not agent.profile.store_and_forward:
        missing.append("does not keep the data")
    if missing:
        return ValidationOutcome.FAIL_SILENT, f"refused ({decision.reason}), but the device " + (
            " and ".join(missing)
        )
    return ValidationOutcome.FAIL_SAFE, f"refused ({decision.reason}), reported, data kept"


def run_failure_tests(sim: SimContext, agent: DeviceAgent) -> list[tuple[Purpose, str]]:
    """Run the three tests against one enrolled device and record each outcome."""
    results = []
    for test in FAILURE_TESTS:
        decision, serial = _attempt(sim, agent, test)
        outcome, why = _outcome(agent, decision)
        sim.metrics.validation[outcome] += 1
        sim.log.emit(
            sim.now(),
            EventKind.VALIDATION_TEST,
            agent.device_id,
            test=test.value,
            outcome=outcome,
            reason=decision.reason.value,
            detail=why,
            test_serial=None if serial is None else f"{serial:x}",
        )
        results.append((test, outcome))
    return results
