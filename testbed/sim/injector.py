"""Faults and operator operations on the timeline (Jepsen: start, stop, heal everything)."""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from testbed import operations
from testbed.events import EventKind
from testbed.faults import FaultSpec
from testbed.lifecycle import DeviceState
from testbed.pki.revocation import RevocationReason
from testbed.scenario import Operation, OperationAction
from testbed.sim.device import rebootstrap
from testbed.sim.effects import Effect, effect_for
from testbed.sim.fault_context import FaultContext
from testbed.sim.offboarding import offboard, revoke_identity

if TYPE_CHECKING:
    from testbed.core import Testbed

__all__ = ["fault_process", "operation_process"]


def _site(target: str) -> str:
    return target.partition(":")[2]


def fault_process(tb: Testbed, fault: FaultSpec) -> Generator[Any, Any, None]:
    """The process that starts ``fault`` at its start and heals it at its end.

    Its effect is looked up (:data:`~testbed.sim.effects.EFFECTS`) and its targets
    resolved now, when the run is scheduled, so a target that names nothing is a
    :class:`~testbed.errors.ScenarioError` before the run, not inside it.
    """
    effect = effect_for(fault.kind)
    return _fault_timeline(tb, fault, effect, FaultContext(tb, fault))


def _fault_timeline(
    tb: Testbed, fault: FaultSpec, effect: Effect[Any], ctx: FaultContext
) -> Generator[Any, Any, None]:
    yield tb.env.timeout(fault.start.total_seconds())
    effect.start(ctx, fault)
    tb.log.emit(
        tb.now(),
        EventKind.FAULT_STARTED,
        fault.target,
        fault=fault.kind,
        **fault.event_data(),
        ends=(tb.scenario.start + fault.end).isoformat().replace("+00:00", "Z"),
    )
    yield tb.env.timeout((fault.end - fault.start).total_seconds())
    effect.heal(ctx, fault)
    tb.log.emit(tb.now(), EventKind.FAULT_HEALED, fault.target, fault=fault.kind,
                **fault.event_data())  # fmt: skip


def operation_process(tb: Testbed, op: Operation) -> Generator[Any, Any, None]:
    """The process that carries out one planned operator action at its time (its
    devices are resolved now, as a fault's targets are)."""
    if op.action is OperationAction.ROTATE_CA_KEY:
        site = None if op.target == "ca" else _site(op.target)
        return _rotation_at(tb, op, site)
    if op.action is OperationAction.ROTATE_SHARED_CREDENTIAL:
        return _shared_rotation_at(tb, op, tb.agents_for(op.target, op.count))
    return _operations_at(tb, op, tb.agents_for(op.target, op.count))


def _rotation_at(tb: Testbed, op: Operation, site: str | None) -> Generator[Any, Any, None]:
    yield tb.env.timeout(op.at.total_seconds())
    operations.rotate_ca_key(tb.hospital, site=site, overlap=op.overlap)


def _shared_rotation_at(
    tb: Testbed, op: Operation, agents: list[Any]
) -> Generator[Any, Any, None]:
    """Rotate the shared credential of each department the target's devices belong to
    (retired or revoked ones included: taking the credential from them is the point),
    then hand the new one to each of the department's devices that holds the old one
    and is neither retired nor revoked (a suspended one gets it, for its resumption).
    The rotation and each hand-over are manual steps.  Under a design that issues
    certificates there is no shared credential and nothing is done, so one scenario
    can be compared under every design."""
    yield tb.env.timeout(op.at.total_seconds())
    shared = tb.hospital.shared
    if shared is None:
        return
    departments = sorted({agent.record.owner for agent in agents})
    for department in departments:
        operations.rotate_shared_credential(tb.hospital, department,
                                            why="operation")  # fmt: skip
        tb.metrics.manual_steps += 1
        for agent in tb.agents:
            if (agent.record.owner != department or agent.retired
                    or agent.shared_credential is None
                    or shared.revoked_at(agent.device_id) is not None):  # fmt: skip
                continue
            agent.shared_credential = operations.hand_rotated_credential(
                tb.hospital, agent.device_id)
            tb.metrics.manual_steps += 1


def _operations_at(tb: Testbed, op: Operation, agents: list[Any]) -> Generator[Any, Any, None]:
    yield tb.env.timeout(op.at.total_seconds())
    for agent in agents:
        _operate(tb, op, agent)


def _rebootstrap(tb: Testbed, agent: Any, state: DeviceState) -> bool:
    """A fresh bootstrap secret for a device not retired, as the live admin API gives
    one: a device still enrolling for the first time (awaiting approval or the CA)
    enrolls with the new secret; any other enrolls anew with it now (a suspended one is
    refused until resumed, as a real device would be)."""
    if state is DeviceState.RETIRED:
        return False
    if state is DeviceState.REGISTERED and agent.certificate is None:
        password = operations.rebootstrap(tb.hospital, agent.device_id)
        if password is not None:
            agent.bootstrap = (agent.device_id, password)  # the enrollment under way uses it
        return password is not None
    tb.env.process(rebootstrap(tb.sim, agent))
    return True


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
        acted = bool(revoke_identity(tb.sim, agent, why="operation", reason=reason))
    elif action is OperationAction.OFFBOARD:
        acted = not agent.retired
        offboard(tb.sim, agent)
    elif action is OperationAction.SUSPEND:
        acted = operations.suspend(tb.hospital, agent.device_id)
    elif action is OperationAction.REBOOTSTRAP:
        acted = _rebootstrap(tb, agent, entry.state)
    elif action is OperationAction.RESUME:
        acted = operations.resume(tb.hospital, agent.device_id)
        if acted:
            agent.notify(tb.env)  # a renewal held back by the suspension goes ahead
    else:
        acted = False
    tb.metrics.manual_steps += int(acted)
