"""Faults and operator operations on the timeline (Jepsen: start, stop, heal everything)."""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

from testbed import operations
from testbed.events import EventKind
from testbed.faults import (
    BlockedRoute,
    CaOutage,
    ClockSkew,
    ExpiredCertificate,
    FaultSpec,
    RevokedCertificate,
    TrustBundleMissing,
    TrustBundleStale,
)
from testbed.lifecycle import DeviceState
from testbed.pki.revocation import RevocationReason
from testbed.scenario import Operation, OperationAction
from testbed.sim.device import rebootstrap, recover, skew_changed
from testbed.sim.offboarding import offboard, revoke_identity

if TYPE_CHECKING:
    from testbed.core import Testbed
    from testbed.pki.trust import TrustBundle

__all__ = ["fault_process", "operation_process"]

Action = Callable[[], None]


def _site(target: str) -> str:
    return target.partition(":")[2]


def _actions(tb: Testbed, fault: FaultSpec) -> tuple[Action, Action]:
    """What starting and healing ``fault`` does."""
    if isinstance(fault, CaOutage):
        return _ca_down(tb), _ca_up(tb)
    if isinstance(fault, TrustBundleMissing):
        site = _site(fault.target)
        release = tb.hospital.trust.release
        return (lambda: tb.hospital.trust.withhold(site)), (lambda: _restored(tb, site, release))
    if isinstance(fault, TrustBundleStale):
        site = _site(fault.target)
        trust = tb.hospital.trust
        return (lambda: trust.stale(site, now=tb.now())), (lambda: _restored(tb, site, trust.thaw))
    if isinstance(fault, BlockedRoute):
        key = (fault.source, fault.to, fault.site)
        return (lambda: tb.hospital.policy.block(*key)), (lambda: tb.hospital.policy.unblock(*key))
    agents = tb.agents_for(fault.target, fault.count)
    if isinstance(fault, ExpiredCertificate):
        return _each(agents, lambda a: _broken(a, +1)), _each(agents, lambda a: _broken(a, -1))
    if isinstance(fault, RevokedCertificate):

        def heal(a: Any) -> None:
            if a.certificate is not None and tb.hospital.ca.revoked_at(a.certificate.serial_number):
                tb.env.process(recover(tb, a, a.certificate))

        return _each(agents, lambda a: revoke_identity(tb, a, why="fault")), _each(agents, heal)
    if isinstance(fault, ClockSkew):
        # overlapping skews on one device add up; each end takes back its own
        offset = fault.offset if fault.ahead else -fault.offset
        return (
            _each(agents, lambda a: skew_changed(tb, a, a.skew + offset)),
            _each(agents, lambda a: skew_changed(tb, a, a.skew - offset)),
        )
    raise TypeError(f"no injector for fault {fault!r}")


def _each(agents: list[Any], act: Callable[[Any], object]) -> Action:
    def run() -> None:
        for agent in agents:
            act(agent)

    return run


def _broken(agent: Any, delta: int) -> None:
    agent.renewal_broken += delta


def _ca_down(tb: Testbed) -> Action:
    def run() -> None:
        tb.ca_outages += 1
        tb.hospital.est.outage = True

    return run


def _ca_up(tb: Testbed) -> Action:
    def run() -> None:
        tb.ca_outages -= 1
        tb.hospital.est.outage = tb.ca_outages > 0
        if not tb.ca_outages:
            operations.publish_crls(tb.hospital)  # back up: relying parties get a fresh CRL at once

    return run


def _restored(tb: Testbed, site: str, end: Callable[..., TrustBundle]) -> None:
    before = tb.hospital.trust.bundle(site, now=tb.now())
    bundle = end(site, now=tb.now())
    if bundle != before:  # an overlapping fault may still hold the site: nothing changed
        tb.log.emit(tb.now(), EventKind.TRUST_BUNDLE_UPDATED, site, version=bundle.version)


def fault_process(tb: Testbed, fault: FaultSpec) -> Generator[Any, Any, None]:
    """The process that starts ``fault`` at its start and heals it at its end.

    Its targets are resolved now, when the run is scheduled, so a target that names
    nothing is a :class:`~testbed.errors.ScenarioError` before the run, not inside it.
    """
    start, heal = _actions(tb, fault)
    return _fault_timeline(tb, fault, start, heal)


def _fault_timeline(
    tb: Testbed, fault: FaultSpec, start: Action, heal: Action
) -> Generator[Any, Any, None]:
    yield tb.env.timeout(fault.start.total_seconds())
    start()
    target = getattr(fault, "target", "ca")
    tb.log.emit(
        tb.now(),
        EventKind.FAULT_STARTED,
        target,
        fault=fault.kind,
        ends=(tb.scenario.start + fault.end).isoformat().replace("+00:00", "Z"),
    )
    yield tb.env.timeout((fault.end - fault.start).total_seconds())
    heal()
    tb.log.emit(tb.now(), EventKind.FAULT_HEALED, target, fault=fault.kind)


def operation_process(tb: Testbed, op: Operation) -> Generator[Any, Any, None]:
    """The process that carries out one planned operator action at its time (its
    devices are resolved now, as a fault's targets are)."""
    if op.action is OperationAction.ROTATE_CA_KEY:
        site = None if op.target == "ca" else _site(op.target)
        return _rotation_at(tb, op, site)
    return _operations_at(tb, op, tb.agents_for(op.target, op.count))


def _rotation_at(tb: Testbed, op: Operation, site: str | None) -> Generator[Any, Any, None]:
    yield tb.env.timeout(op.at.total_seconds())
    operations.rotate_ca_key(tb.hospital, site=site, overlap=op.overlap)


def _operations_at(
    tb: Testbed, op: Operation, agents: list[Any]
) -> Generator[Any, Any, None]:
    yield tb.env.timeout(op.at.total_seconds())
    for agent in agents:
        _operate(tb, op, agent)


def _operate(tb: Testbed, op: Operation, agent: Any) -> None:
    """Carry out one operator action on one device (:mod:`testbed.operations`); a manual
    step only if it acts (suspending a device not in production, or revoking a device
    with no live certificate, is nothing done)."""
    action = op.action
    entry = tb.hospital.inventory.get(agent.device_id)
    if entry is None:
        return  # not onboarded yet: nothing to act on
    acted = True
    if action is OperationAction.REVOKE:
        reason = op.reason or RevocationReason.UNSPECIFIED
        acted = bool(revoke_identity(tb, agent, why="operation", reason=reason))
    elif action is OperationAction.OFFBOARD:
        acted = not agent.retired
        offboard(tb, agent)
    elif action is OperationAction.SUSPEND:
        acted = operations.suspend(tb.hospital, agent.device_id)
    elif action is OperationAction.REBOOTSTRAP and entry.state is DeviceState.PRODUCTION:
        tb.env.process(rebootstrap(tb, agent))
    elif action is OperationAction.RESUME:
        acted = operations.resume(tb.hospital, agent.device_id)
        if acted:
            agent.notify(tb.env)  # a renewal held back by the suspension goes ahead
    else:
        acted = False
    tb.metrics.manual_steps += int(acted)
