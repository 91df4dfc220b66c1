"""A stateful property test of the identity lifecycle against a simple model.

Hypothesis drives the real services (CA, inventory, EST, CRL distribution, access
point; P-256, three devices) with register / enroll / renew / revoke / offboard /
suspend / resume / advance-time / publish-CRL / attempt rules.  After every step:

- a revoked (once the CRL shows it), expired or offboarded identity never authenticates;
- each device has at most one active identity (at most one of its certificates is
  allowed), and it is the one the model says is current;
- every access decision has its event.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cryptography import x509
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from testbed.access import Attempt
from testbed.decisions import Reason
from testbed.events import EventKind
from testbed.lifecycle import DeviceState, LifecycleEvent

DEVICES = ("ct-0", "ct-1", "ct-2")
LIFETIME = timedelta(days=10)
CRL_VALIDITY = timedelta(days=3)
SERVICE = "pacs-north"
SOURCE = ("north", "imaging")

devices = st.sampled_from(DEVICES)
# a revoked certificate that is still in its window is refused for one of these reasons
_REFUSED_REVOKED = {
    Reason.CERT_REVOKED, Reason.CERT_SUPERSEDED, Reason.DEVICE_RETIRED,
    Reason.DEVICE_SUSPENDED, Reason.REVOCATION_UNKNOWN,
}


@dataclass
class ModelDevice:
    """What the model believes about one device."""

    state: DeviceState = DeviceState.PROCURED
    current: x509.Certificate | None = None
    certificates: list[x509.Certificate] = field(default_factory=list)


class LifecycleMachine(RuleBasedStateMachine):
    """Real hospital services against the model above."""

    def __init__(self, make_hospital: Callable[..., Any]) -> None:
        super().__init__()
        self.h = make_hospital()
        self.now: datetime = self.h.start
        self.model = {d: ModelDevice() for d in DEVICES}
        self.revoked: set[int] = set()  # serials on the published CRL
        self.crl_next_update: datetime | None = None

    # -- helpers ---------------------------------------------------------------------

    def _publish(self) -> None:
        self.h.publish_crls(now=self.now, validity=CRL_VALIDITY)
        self.revoked = {s for s in self.h.ca.revocations if self.h.ca.revoked_at(s) <= self.now}
        self.crl_next_update = self.now + CRL_VALIDITY

    def _valid_now(self, cert: x509.Certificate) -> bool:
        return cert.not_valid_before_utc <= self.now <= cert.not_valid_after_utc

    def _should_allow(self, device_id: str, cert: x509.Certificate | None) -> bool:
        device = self.model[device_id]
        return (
            device.state is DeviceState.PRODUCTION
            and cert is not None
            and cert is device.current
            and self._valid_now(cert)
            and cert.serial_number not in self.revoked
            and self.h.ca.revoked_at(cert.serial_number) is None
            and self.crl_next_update is not None
            and self.now <= self.crl_next_update
        )

    def _issued(self, device_id: str, response: Any) -> x509.Certificate:
        assert response.status == 200, (response.status, response.reason, response.body)
        cert = response.certificate
        assert cert is not None
        device = self.model[device_id]
        device.current = cert
        device.certificates.append(cert)
        assert self.h.inventory.entry(device_id).serial == cert.serial_number
        return cert

    # -- rules -----------------------------------------------------------------------

    @initialize()
    def first_crl(self) -> None:
        self._publish()

    @rule(device_id=devices)
    def register(self, device_id: str) -> None:
        device = self.model[device_id]
        if device.state is not DeviceState.PROCURED:
            return
        self.h.register(device_id, now=self.now, lifetime=LIFETIME)
        device.state = DeviceState.REGISTERED

    @rule(device_id=devices)
    def enroll(self, device_id: str) -> None:
        """Simpleenroll with the bootstrap secret (an operator re-bootstraps a device
        in service whose identity was lost, as the simulation's recovery does)."""
        device = self.model[device_id]
        if device.state in (DeviceState.PRODUCTION, DeviceState.SUSPENDED):
            password = f"again-{len(device.certificates)}"
            self.h.inventory.set_bootstrap(device_id, password)
            self.h.passwords[device_id] = password
        issued_before = len(self.h.ca.records)
        response = self.h.simpleenroll(device_id, now=self.now)
        if device.state in (DeviceState.REGISTERED, DeviceState.PRODUCTION):
            self._issued(device_id, response)
            if device.state is DeviceState.REGISTERED:
                self.h.promote(device_id, now=self.now)
                device.state = DeviceState.PRODUCTION
        else:
            assert response.status in (401, 403), response.status
            assert len(self.h.ca.records) == issued_before

    @rule(device_id=devices)
    def renew(self, device_id: str) -> None:
        """Simplereenroll with the current certificate."""
        device = self.model[device_id]
        if device.current is None:
            return
        cert = device.current
        issued_before = len(self.h.ca.records)
        response = self.h.reenroll(device_id, cert, now=self.now)
        ok = (
            device.state is DeviceState.PRODUCTION
            and self._valid_now(cert)
            and self.h.ca.revoked_at(cert.serial_number) is None
        )
        if ok:
            self._issued(device_id, response)
        else:
            assert response.status == 403, (response.status, response.reason)
            assert len(self.h.ca.records) == issued_before

    @rule(device_id=devices)
    def revoke(self, device_id: str) -> None:
        """Revoke the current certificate and publish the CRL at once."""
        cert = self.model[device_id].current
        if cert is None:
            return
        self.h.ca.revoke(cert.serial_number, now=self.now)
        self._publish()

    @rule(device_id=devices)
    def offboard(self, device_id: str) -> None:
        """The offboarding steps of testbed.sim.offboarding: revoke, NAC, API, retire."""
        device = self.model[device_id]
        if device.state in (DeviceState.PROCURED, DeviceState.RETIRED):
            return
        for record in self.h.ca.records_for(device_id):
            if record.not_after > self.now and self.h.ca.revoked_at(record.serial) is None:
                self.h.ca.revoke(record.serial, now=self.now)
        self.h.nac.remove(device_id)
        self.h.inventory.entry(device_id).bootstrap_digest = None
        self.h.inventory.transition(device_id, LifecycleEvent.OFFBOARD, now=self.now)
        device.state = DeviceState.RETIRED

    @rule(device_id=devices)
    def suspend(self, device_id: str) -> None:
        device = self.model[device_id]
        if device.state is DeviceState.PRODUCTION:
            self.h.inventory.transition(device_id, LifecycleEvent.SUSPEND, now=self.now)
            device.state = DeviceState.SUSPENDED

    @rule(device_id=devices)
    def resume(self, device_id: str) -> None:
        device = self.model[device_id]
        if device.state is DeviceState.SUSPENDED:
            self.h.inventory.transition(device_id, LifecycleEvent.RESUME, now=self.now)
            device.state = DeviceState.PRODUCTION

    @rule(hours=st.integers(min_value=1, max_value=24 * 6))
    def advance_time(self, hours: int) -> None:
        self.now += timedelta(hours=hours)

    @rule()
    def publish_crl(self) -> None:
        self._publish()

    @precondition(lambda self: any(d.certificates for d in self.model.values()))
    @rule(device_id=devices, pick=st.integers(min_value=0, max_value=100), service=st.sampled_from(
        ["pacs-north", "ehr", "pacs-south"]))
    def attempt(self, device_id: str, pick: int, service: str) -> None:
        """The device tries a service with one of its certificates (or none)."""
        own = [None, *self.model[device_id].certificates]
        cert = own[pick % len(own)]
        decision = self.h.access.decide(Attempt(device_id, service, cert, SOURCE), now=self.now)
        if decision.allowed:
            assert service != "pacs-south"  # no rule lets north imaging reach it
            assert self._should_allow(device_id, cert), decision
        elif service != "pacs-south" and self._should_allow(device_id, cert):
            raise AssertionError(f"refused a good identity: {decision}")

    # -- invariants ------------------------------------------------------------------

    @invariant()
    def only_the_current_identity_authenticates(self) -> None:
        for device_id, device in self.model.items():
            allowed = []
            for cert in device.certificates:
                attempt = Attempt(device_id, SERVICE, cert, SOURCE)
                decision = self.h.access.decide(attempt, now=self.now)
                assert decision.allowed is self._should_allow(device_id, cert), (
                    device_id, device.state, decision)
                if decision.allowed:
                    allowed.append(cert)
                elif cert.serial_number in self.revoked and self._valid_now(cert):
                    assert decision.reason in _REFUSED_REVOKED, decision
            assert len(allowed) <= 1
            if device.state is DeviceState.RETIRED:
                assert not allowed

    @invariant()
    def every_decision_has_an_event(self) -> None:
        events = self.h.log.of_kind(EventKind.ACCESS_DECISION)
        metrics = self.h.metrics
        # counted apart: where decided, and by reading the log
        assert metrics.decisions == len(events) == self.h.log.kept_of(EventKind.ACCESS_DECISION)
        assert metrics.allowed + metrics.denied == metrics.decisions
        assert metrics.unauthorized_access == 0  # CRLs are published on revocation

    @invariant()
    def the_inventory_agrees_with_the_model(self) -> None:
        for device_id, device in self.model.items():
            entry = self.h.inventory.get(device_id)
            if device.state is DeviceState.PROCURED:
                assert entry is None
            else:
                assert entry is not None
                assert entry.state is device.state
                current = device.current
                assert entry.serial == (None if current is None else current.serial_number)


def test_the_lifecycle_against_the_model(make_hospital: Callable[..., Any]) -> None:
    # max_examples and deadline come from the profile loaded in the top-level conftest
    run_state_machine_as_test(
        lambda: LifecycleMachine(make_hospital), settings=settings(stateful_step_count=25)
    )
