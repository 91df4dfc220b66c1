"""Seed §7 step 3: validate before production with simulated failures.

Each device, once enrolled, is tried with an expired credential, a revoked
certificate and a blocked route.  A test *fails safe* when the hospital refuses the
action, the device reports the failure and keeps the data; it *fails silent* when
the hospital refuses but the device neither reports nor keeps the data; it is
*unsafe* when the hospital lets the faulty action through.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from testbed.access import Attempt
from testbed.decisions import Decision
from testbed.events import EventKind
from testbed.metrics import ValidationOutcome
from testbed.pki.fidelity import LeafCertificate

if TYPE_CHECKING:
    from testbed.core import Testbed
    from testbed.sim.agent import DeviceAgent

__all__ = ["TEST_REQUESTER", "FailureTest", "run_failure_tests"]

_TEST_LIFETIME = timedelta(hours=1)
TEST_REQUESTER = "preproduction-validation"
"""The requester of the short-lived certificates the failure tests use (not identities)."""


class FailureTest(StrEnum):
    """The seed's simulated failure tests."""

    EXPIRED_CREDENTIAL = "expired-credential"
    REVOKED_CERTIFICATE = "revoked-certificate"
    BLOCKED_ROUTE = "blocked-route"


def _test_certificate(
    tb: Testbed, agent: DeviceAgent, *, issued_at_offset: timedelta
) -> LeafCertificate:
    """A short-lived certificate for the device's key, issued for the test only.

    The validation harness works with the device's enrolled key, so it asks the CA
    for that key itself (:meth:`~testbed.pki.ca.CertificateAuthority.issue_key`); a
    CSR would only prove to the CA what the harness knows.
    """
    if agent.certificate is None:
        raise ValueError(f"device {agent.device_id} has no certificate: enroll it first")
    public = tb.ca.artefacts.subject_key(agent.certificate)
    r = agent.record
    cert = tb.ca.issue_key(
        public,
        device_id=r.device_id,
        site=r.site,
        services=r.intended_services,
        requester=TEST_REQUESTER,
        on_expiry="discard",
        lifetime=_TEST_LIFETIME,
        now=tb.now() + issued_at_offset,
    )
    tb.inventory.entry(r.device_id).test_serials.add(cert.serial_number)
    return cert


def _attempt(tb: Testbed, agent: DeviceAgent, test: FailureTest) -> Decision:
    service = agent.record.intended_services[0]
    now = tb.now()
    if test is FailureTest.EXPIRED_CREDENTIAL:
        cert = _test_certificate(tb, agent, issued_at_offset=-2 * _TEST_LIFETIME)
        return tb.access.decide(
            Attempt(agent.device_id, service, cert, purpose=test.value), now=now
        )
    if test is FailureTest.REVOKED_CERTIFICATE:
        cert = _test_certificate(tb, agent, issued_at_offset=timedelta(0))
        tb.ca.revoke(cert.serial_number, now=now)
        issuer = tb.ca.records[cert.serial_number].issuer
        current = tb.crls.current(issuer)
        staged = (
            None
            if current is None
            else replace(current, serials=current.serials | {cert.serial_number})
        )
        attempt = Attempt(agent.device_id, service, cert, purpose=test.value, crl_override=staged)
        return tb.access.decide(attempt, now=now)
    route = (agent.record.zone, service, None)
    attempt = Attempt(
        agent.device_id, service, agent.certificate, purpose=test.value, extra_blocks=(route,)
    )
    return tb.access.decide(attempt, now=now)


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


def run_failure_tests(tb: Testbed, agent: DeviceAgent) -> list[tuple[FailureTest, str]]:
    """Run the three tests against one enrolled device and record each outcome."""
    results = []
    for test in FailureTest:
        decision = _attempt(tb, agent, test)
        outcome, why = _outcome(agent, decision)
        tb.metrics.validation[outcome] += 1
        tb.log.emit(
            tb.now(),
            EventKind.VALIDATION_TEST,
            agent.device_id,
            test=test.value,
            outcome=outcome,
            reason=decision.reason.value,
            detail=why,
        )
        results.append((test, outcome))
    return results
