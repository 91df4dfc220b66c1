"""The life of one simulated device: onboarding, clinical traffic, renewal, recovery."""

from __future__ import annotations

from collections.abc import Generator
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from testbed import operations
from testbed.clock import isoformat
from testbed.decisions import Reason
from testbed.events import EventKind
from testbed.lifecycle import DeviceState
from testbed.pki.fidelity import LeafCertificate
from testbed.pki.renewal import renewal_time
from testbed.sim.ehr_traffic import enroll_session, session_key
from testbed.sim.enrollment import enroll, reenroll
from testbed.sim.preproduction import run_failure_tests
from testbed.smart.client import public_jwks
from testbed.smart.settings import ClientAuth

if TYPE_CHECKING:
    from testbed.sim.agent import DeviceAgent
    from testbed.sim.context import SimContext

__all__ = ["onboard", "rebootstrap", "recover", "renewal"]

Proc = Generator[Any, Any, None]


def register(sim: SimContext, agent: DeviceAgent) -> None:
    """Seed §7 step 1: the identity record exists before the device connects (and, for
    a device that uses the EHR, its SMART client and its place in the EHR)."""
    hospital = sim.hospital
    clinical = hospital.clinical
    key = None
    if (
        clinical is not None
        and clinical.uses_ehr(agent.record, agent.profile) is not None
        and clinical.client_auth is ClientAuth.PRIVATE_KEY_JWT
    ):
        key = session_key(hospital.scenario.seed, agent.device_id)
    jwks = None if key is None else public_jwks(key)
    password = operations.register(hospital, agent.record, jwks=jwks)
    agent.bootstrap = (agent.device_id, password)
    enrollment = operations.smart_enrollment(hospital, agent.device_id)
    if enrollment is not None:
        agent.ehr = enroll_session(hospital, agent, enrollment, key)
    if sim.pki.manual_approval and not uses_shared_credential(sim, agent):
        sim.env.process(_approve(sim, agent))


def uses_shared_credential(sim: SimContext, agent: DeviceAgent) -> bool:
    """Whether the device holds its department's shared credential instead of a
    certificate: in a ``credentials: shared`` design, unless it uses the EHR or a PACS
    (their mutual TLS asks every client for a certificate here; docs/designs.md)."""
    return sim.hospital.shared is not None and agent.ehr is None and agent.studies is None


def _approve(sim: SimContext, agent: DeviceAgent) -> Proc:
    yield sim.env.timeout(sim.pki.approval_delay.total_seconds())
    if agent.retired:
        return  # offboarded before anyone approved it
    operations.approve(sim.hospital, agent.device_id)
    sim.metrics.manual_steps += 1


def onboard(sim: SimContext, agent: DeviceAgent) -> Proc:
    """Register, enroll, validate, promote; then run traffic and renewal."""
    yield sim.env.timeout(agent.onboard_at.total_seconds())
    began = sim.now()
    agent.onboarding_began = float(sim.env.now)
    register(sim, agent)
    shared = uses_shared_credential(sim, agent)
    if shared:
        # no certificate: nothing to enroll, test, renew or lose in a CA outage
        agent.shared_credential = operations.hand_shared_credential(sim.hospital,
                                                                    agent.device_id)
    else:
        yield from enroll(sim, agent)
        if agent.retired:
            return
        run_failure_tests(sim, agent)
    operations.validate(sim.hospital, agent.device_id)
    operations.promote(sim.hospital, agent.device_id)
    sim.metrics.onboarding_seconds.append((sim.now() - began).total_seconds())
    sim.metrics.devices_in_production += 1
    sim.traffic.start(agent)
    if not shared:
        sim.env.process(renewal(sim, agent))


def _device_now_offset(agent: DeviceAgent) -> float:
    """Seconds the device's clock is ahead of true time (negative: behind)."""
    return agent.skew.total_seconds()


def renewal(sim: SimContext, agent: DeviceAgent) -> Proc:
    """Renew at the configured fraction of lifetime, by the device's own clock."""
    pki = sim.pki
    retry = pki.renewal_retry.total_seconds()
    renewed_at: float | None = None
    while not agent.retired and agent.certificate is not None:
        cert = agent.certificate
        if renewed_at == sim.env.now and _device_now_offset(agent) > 0:
            # a clock far enough ahead finds the new certificate due at once: the agent
            # backs off instead of renewing again in the same instant (forever)
            yield sim.env.timeout(retry)
            if agent.certificate is not cert or agent.retired:
                continue
        target = renewal_time(
            not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc,
            fraction=pki.renew_at,
            jitter=pki.jitter,
            rng=sim.rng,
            windows=sim.change_windows,
        )
        target_seconds = sim.clock.seconds(target)
        yield from _sleep_until_device_time(sim, agent, target_seconds, cert)
        while agent.certificate is cert and not agent.retired:
            if sim.now() >= cert.not_valid_after_utc:
                _missed(sim, agent)
                yield from recover(sim, agent, cert)
                break
            if agent.renewal_broken or agent.recovering:
                yield sim.env.timeout(retry)
                continue
            response = reenroll(sim, agent)
            if response.status == 200:
                sim.metrics.renewals_done += 1
                renewed_at = sim.env.now
                break
            if response.reason is Reason.DEVICE_SUSPENDED:
                # suspended for an incident: try again once resumed (or when it expires)
                yield from _wait_while_suspended(sim, agent, cert)
                continue
            if response.status in (401, 403):
                break  # refused for good: passive revocation, or the device left service
            yield sim.env.timeout(min(retry, _until_expiry(sim, cert) + 1.0))
        if agent.certificate is cert:
            # refused for good (revoked: passive revocation); wait for an operator
            yield from _wait_for_change(sim, agent)


def _until_expiry(sim: SimContext, cert: LeafCertificate) -> float:
    return max((cert.not_valid_after_utc - sim.now()).total_seconds(), 0.0)


def _sleep_until_device_time(sim: SimContext, agent: DeviceAgent, target: float, cert: Any) -> Proc:
    """Sleep until the device's clock reads ``target`` (woken by skew or a new certificate)."""
    while agent.certificate is cert and not agent.retired:
        true_target = target - _device_now_offset(agent)
        remaining = true_target - sim.env.now
        if remaining <= 0:
            return
        changed = agent.changed or sim.env.event()
        agent.changed = changed
        yield sim.env.any_of([sim.env.timeout(remaining), changed])


def _wait_while_suspended(sim: SimContext, agent: DeviceAgent, cert: LeafCertificate) -> Proc:
    """Wait until the device is resumed (its agent is notified), retired, has another
    certificate, or ``cert`` expires."""
    entry = sim.hospital.inventory.entry(agent.device_id)
    while entry.state is DeviceState.SUSPENDED and agent.certificate is cert:
        changed = agent.changed or sim.env.event()
        agent.changed = changed
        yield sim.env.any_of([changed, sim.env.timeout(_until_expiry(sim, cert) + 1.0)])
        if sim.now() > cert.not_valid_after_utc:
            return


def _wait_for_change(sim: SimContext, agent: DeviceAgent) -> Proc:
    cert = agent.certificate
    while agent.certificate is cert and not agent.retired and sim.env.now < sim.horizon:
        changed = agent.changed or sim.env.event()
        agent.changed = changed
        yield sim.env.any_of([changed, sim.env.timeout(max(sim.horizon - sim.env.now, 1.0))])


def _missed(sim: SimContext, agent: DeviceAgent) -> None:
    """The device finds its certificate expired (it may notice late: a clock behind);
    the event says when the certificate expired, ``not_after``, as well."""
    cert = agent.certificate
    sim.metrics.renewals_missed += 1
    serial = f"{cert.serial_number:x}" if cert is not None else None
    expired = isoformat(cert.not_valid_after_utc) if cert is not None else None
    sim.log.emit(sim.now(), EventKind.CERTIFICATE_EXPIRED, agent.device_id, serial=serial,
                not_after=expired)  # fmt: skip
    sim.log.emit(sim.now(), EventKind.RENEWAL_MISSED, agent.device_id, serial=serial)


def recover(sim: SimContext, agent: DeviceAgent, cert: Any) -> Proc:
    """An expired or revoked identity is re-bootstrapped by an operator (manual step)."""
    if agent.recovering:
        return
    agent.recovering = True
    pki = sim.pki
    yield sim.env.timeout(pki.manual_recovery_delay.total_seconds())
    entry = sim.hospital.inventory.entry(agent.device_id)
    # the operator waits for the agent to be fixed, the CA to be back and the
    # device's suspension (an incident) to be lifted
    while (
        agent.renewal_broken
        or sim.hospital.ca_outages.down(agent.record.site)
        or entry.state is DeviceState.SUSPENDED
    ) and not agent.retired:
        yield sim.env.timeout(pki.renewal_retry.total_seconds())
    if agent.retired or agent.certificate is not cert:
        agent.recovering = False
        return
    sim.metrics.manual_steps += 1
    agent.recovering = False
    yield from rebootstrap(sim, agent)


def rebootstrap(sim: SimContext, agent: DeviceAgent) -> Proc:
    """An operator re-bootstraps the device now: a fresh one-time bootstrap secret, then
    a first enrollment again (the new certificate supersedes any earlier one)."""
    password = operations.rebootstrap(sim.hospital, agent.device_id)
    if password is None:  # retired meanwhile: nothing to enroll
        return
    agent.bootstrap = (agent.device_id, password)
    yield from enroll(sim, agent)


def skew_changed(sim: SimContext, agent: DeviceAgent, skew: timedelta) -> None:
    """The device's clock moves (fault start or heal)."""
    agent.skew = skew
    agent.notify(sim.env)
