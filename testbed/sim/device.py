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
from testbed.sim.enrollment import enroll, reenroll
from testbed.sim.preproduction import run_failure_tests

if TYPE_CHECKING:
    from testbed.core import Testbed
    from testbed.sim.agent import DeviceAgent

__all__ = ["onboard", "rebootstrap", "recover", "renewal"]

Proc = Generator[Any, Any, None]


def register(tb: Testbed, agent: DeviceAgent) -> None:
    """Seed §7 step 1: the identity record exists before the device connects."""
    password = operations.register(tb.hospital, agent.record)
    agent.bootstrap = (agent.device_id, password)
    if tb.scenario.pki.manual_approval:
        tb.env.process(_approve(tb, agent))


def _approve(tb: Testbed, agent: DeviceAgent) -> Proc:
    yield tb.env.timeout(tb.scenario.pki.approval_delay.total_seconds())
    if agent.retired:
        return  # offboarded before anyone approved it
    operations.approve(tb.hospital, agent.device_id)
    tb.metrics.manual_steps += 1


def onboard(tb: Testbed, agent: DeviceAgent) -> Proc:
    """Register, enroll, validate, promote; then run traffic and renewal."""
    yield tb.env.timeout(agent.onboard_at.total_seconds())
    began = tb.now()
    agent.onboarding_began = float(tb.env.now)
    register(tb, agent)
    yield from enroll(tb, agent)
    if agent.retired:
        return
    run_failure_tests(tb, agent)
    operations.validate(tb.hospital, agent.device_id)
    operations.promote(tb.hospital, agent.device_id)
    tb.metrics.onboarding_seconds.append((tb.now() - began).total_seconds())
    tb.metrics.devices_in_production += 1
    tb.traffic.start(agent)
    tb.env.process(renewal(tb, agent))


def _device_now_offset(agent: DeviceAgent) -> float:
    """Seconds the device's clock is ahead of true time (negative: behind)."""
    return agent.skew.total_seconds()


def renewal(tb: Testbed, agent: DeviceAgent) -> Proc:
    """Renew at the configured fraction of lifetime, by the device's own clock."""
    pki = tb.scenario.pki
    retry = pki.renewal_retry.total_seconds()
    renewed_at: float | None = None
    while not agent.retired and agent.certificate is not None:
        cert = agent.certificate
        if renewed_at == tb.env.now and _device_now_offset(agent) > 0:
            # a clock far enough ahead finds the new certificate due at once: the agent
            # backs off instead of renewing again in the same instant (forever)
            yield tb.env.timeout(retry)
            if agent.certificate is not cert or agent.retired:
                continue
        target = renewal_time(
            not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc,
            fraction=pki.renew_at,
            jitter=pki.jitter,
            rng=tb.rng,
            windows=tb.change_windows,
        )
        target_seconds = tb.clock.seconds(target)
        yield from _sleep_until_device_time(tb, agent, target_seconds, cert)
        while agent.certificate is cert and not agent.retired:
            if tb.now() >= cert.not_valid_after_utc:
                _missed(tb, agent)
                yield from recover(tb, agent, cert)
                break
            if agent.renewal_broken or agent.recovering:
                yield tb.env.timeout(retry)
                continue
            response = reenroll(tb, agent)
            if response.status == 200:
                tb.metrics.renewals_done += 1
                renewed_at = tb.env.now
                break
            if response.reason is Reason.DEVICE_SUSPENDED:
                # suspended for an incident: try again once resumed (or when it expires)
                yield from _wait_while_suspended(tb, agent, cert)
                continue
            if response.status in (401, 403):
                break  # refused for good: passive revocation, or the device left service
            yield tb.env.timeout(min(retry, _until_expiry(tb, cert) + 1.0))
        if agent.certificate is cert:
            # refused for good (revoked: passive revocation); wait for an operator
            yield from _wait_for_change(tb, agent)


def _until_expiry(tb: Testbed, cert: LeafCertificate) -> float:
    return max((cert.not_valid_after_utc - tb.now()).total_seconds(), 0.0)


def _sleep_until_device_time(tb: Testbed, agent: DeviceAgent, target: float, cert: Any) -> Proc:
    """Sleep until the device's clock reads ``target`` (woken by skew or a new certificate)."""
    while agent.certificate is cert and not agent.retired:
        true_target = target - _device_now_offset(agent)
        remaining = true_target - tb.env.now
        if remaining <= 0:
            return
        changed = agent.changed or tb.env.event()
        agent.changed = changed
        yield tb.env.any_of([tb.env.timeout(remaining), changed])


def _wait_while_suspended(tb: Testbed, agent: DeviceAgent, cert: LeafCertificate) -> Proc:
    """Wait until the device is resumed (its agent is notified), retired, has another
    certificate, or ``cert`` expires."""
    entry = tb.hospital.inventory.entry(agent.device_id)
    while entry.state is DeviceState.SUSPENDED and agent.certificate is cert:
        changed = agent.changed or tb.env.event()
        agent.changed = changed
        yield tb.env.any_of([changed, tb.env.timeout(_until_expiry(tb, cert) + 1.0)])
        if tb.now() > cert.not_valid_after_utc:
            return


def _wait_for_change(tb: Testbed, agent: DeviceAgent) -> Proc:
    cert = agent.certificate
    while agent.certificate is cert and not agent.retired and tb.env.now < tb.horizon:
        changed = agent.changed or tb.env.event()
        agent.changed = changed
        yield tb.env.any_of([changed, tb.env.timeout(max(tb.horizon - tb.env.now, 1.0))])


def _missed(tb: Testbed, agent: DeviceAgent) -> None:
    """The device finds its certificate expired (it may notice late: a clock behind);
    the event says when the certificate expired, ``not_after``, as well."""
    cert = agent.certificate
    tb.metrics.renewals_missed += 1
    serial = f"{cert.serial_number:x}" if cert is not None else None
    expired = isoformat(cert.not_valid_after_utc) if cert is not None else None
    tb.log.emit(tb.now(), EventKind.CERTIFICATE_EXPIRED, agent.device_id, serial=serial,
                not_after=expired)  # fmt: skip
    tb.log.emit(tb.now(), EventKind.RENEWAL_MISSED, agent.device_id, serial=serial)


def recover(tb: Testbed, agent: DeviceAgent, cert: Any) -> Proc:
    """An expired or revoked identity is re-bootstrapped by an operator (manual step)."""
    if agent.recovering:
        return
    agent.recovering = True
    pki = tb.scenario.pki
    yield tb.env.timeout(pki.manual_recovery_delay.total_seconds())
    entry = tb.hospital.inventory.entry(agent.device_id)
    # the operator waits for the agent to be fixed, the CA to be back and the
    # device's suspension (an incident) to be lifted
    while (
        agent.renewal_broken
        or tb.hospital.ca_outages.down(agent.record.site)
        or entry.state is DeviceState.SUSPENDED
    ) and not agent.retired:
        yield tb.env.timeout(pki.renewal_retry.total_seconds())
    if agent.retired or agent.certificate is not cert:
        agent.recovering = False
        return
    tb.metrics.manual_steps += 1
    agent.recovering = False
    yield from rebootstrap(tb, agent)


def rebootstrap(tb: Testbed, agent: DeviceAgent) -> Proc:
    """An operator re-bootstraps the device now: a fresh one-time bootstrap secret, then
    a first enrollment again (the new certificate supersedes any earlier one)."""
    password = operations.rebootstrap(tb.hospital, agent.device_id)
    agent.bootstrap = (agent.device_id, password)
    yield from enroll(tb, agent)


def skew_changed(tb: Testbed, agent: DeviceAgent, skew: timedelta) -> None:
    """The device's clock moves (fault start or heal)."""
    agent.skew = skew
    agent.notify(tb.env)
