"""Put every process of a run on the SimPy timeline, and close the run."""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from testbed.access import Attempt, Purpose
from testbed.events import EventKind
from testbed.lifecycle import DeviceState
from testbed.sim.device import onboard
from testbed.sim.injector import fault_process, operation_process
from testbed.sim.network_drift import network_drift_scans, scans_network
from testbed.sim.offboarding import offboard
from testbed.sim.pki_ops import crl_publisher

if TYPE_CHECKING:
    from testbed.core import Testbed
    from testbed.drift_watch import DriftWatch
    from testbed.sim.agent import DeviceAgent
    from testbed.sim.context import SimContext

__all__ = ["schedule_all"]

DRIFT_SCAN_SECONDS = 86400.0
FORGET_EVERY_DAYS = 7


def schedule_all(tb: Testbed) -> None:
    """Devices, CRL publication, faults, operations, drift scans and the closing checks."""
    env = tb.env
    env.process(crl_publisher(tb.sim))
    for agent in tb.agents:
        env.process(onboard(tb.sim, agent))
        if agent.offboard_at is not None:
            env.process(_offboard_at(tb, agent))
    for fault in tb.scenario.faults:
        env.process(fault_process(tb, fault))
    for op in tb.scenario.operations:
        env.process(operation_process(tb, op))
    env.process(_drift_scans(tb.sim, tb.drift_watch))
    if scans_network(tb.scenario):  # only then: other runs' timelines stay as they were
        env.process(network_drift_scans(tb.sim, every=DRIFT_SCAN_SECONDS))
    env.process(_closing(tb))


def _offboard_at(tb: Testbed, agent: DeviceAgent) -> Generator[Any, Any, None]:
    assert agent.offboard_at is not None
    yield tb.env.timeout(agent.offboard_at.total_seconds())
    if agent.retired or tb.hospital.inventory.get(agent.device_id) is None:
        return  # offboarded already (by an operation), or never onboarded: nothing to do
    tb.metrics.manual_steps += 1
    offboard(tb.sim, agent)


def drift_scan(sim: SimContext, watch: DriftWatch) -> int:
    """Compare the inventory with the CA (and the IdP's clients and the EHRs' device
    registries); each new disagreement is an alert event (:class:`DriftWatch`)."""
    new = watch.scan(sim.hospital, sim.log, sim.now()).new
    sim.metrics.drift_alerts += len(new)
    return len(new)


def _drift_scans(sim: SimContext, watch: DriftWatch) -> Generator[Any, Any, None]:
    """Daily: the drift scan; weekly: the decision caches forget expired certificates
    (memory stays bounded by a week of expiries; decisions do not depend on it)."""
    days = 0
    while sim.env.now + DRIFT_SCAN_SECONDS < sim.horizon:
        yield sim.env.timeout(DRIFT_SCAN_SECONDS)
        drift_scan(sim, watch)
        days += 1
        if days % FORGET_EVERY_DAYS == 0:
            sim.hospital.forget_expired(sim.now())


def _closing(tb: Testbed) -> Generator[Any, Any, None]:
    """At the horizon: close downtime, check that every device in service recovered.

    A device still onboarding (registered, enrolled or validated: it never reached
    production) has not recovered, and its onboarding time so far counts; items a
    device still holds are reported (``data_held_at_end``), neither delivered nor lost.
    """
    yield tb.env.timeout(max(tb.horizon - 1.0, 0.0))
    now = tb.now()
    for agent in tb.agents:
        entry = tb.hospital.inventory.get(agent.device_id)
        if agent.retired:
            continue
        held = sum(agent.buffers.values())
        tb.metrics.buffered += held  # suspended devices' too
        if held:
            tb.log.emit(now, EventKind.DATA_HELD, agent.device_id, items=held,
                        detail="still held at the end of the run")  # fmt: skip
        if entry is not None and entry.state in _OUT_OF_SERVICE:
            continue
        if entry is not None and entry.state is DeviceState.PRODUCTION:
            _recovery_check(tb, agent)
        else:
            _still_onboarding(tb, agent, None if entry is None else entry.state)
    for agent in tb.agents:
        agent.availability.close(now, at_end=True)
    drift_scan(tb.sim, tb.drift_watch)


_OUT_OF_SERVICE = frozenset({DeviceState.SUSPENDED, DeviceState.RETIRED})


def _still_onboarding(tb: Testbed, agent: DeviceAgent, state: DeviceState | None) -> None:
    now = tb.now()
    if agent.onboarding_began is not None:
        tb.metrics.onboarding_seconds.append(float(tb.env.now) - agent.onboarding_began)
    tb.metrics.recovery_checked += 1
    where = "never registered" if state is None else f"still {state.value}"
    tb.log.emit(now, EventKind.RECOVERY_CHECK, agent.device_id, recovered=False,
                detail=f"{where}: it never reached production")  # fmt: skip


def _recovery_check(tb: Testbed, agent: DeviceAgent) -> None:
    now = tb.now()
    ok = True
    imaging, studies = tb.traffic.imaging, agent.studies
    for service in agent.record.intended_services:
        if imaging is not None and studies is not None and service in studies:
            ok = imaging.check(agent, service, now) and ok  # over DICOM, as its studies go
            continue
        source = (agent.record.site, agent.record.zone)
        attempt = Attempt(agent.device_id, service, agent.certificate, source,
                          Purpose.RECOVERY_CHECK, agent.shared_credential)  # fmt: skip
        ok = tb.hospital.access.decide(attempt, now=now).allowed and ok
    if agent.ehr is not None and tb.traffic.ehr is not None:
        ok = tb.traffic.ehr.recovers(agent, now) and ok  # and a token the EHR accepts
    tb.metrics.recovery_checked += 1
    tb.metrics.recovery_passed += int(ok)
    tb.log.emit(now, EventKind.RECOVERY_CHECK, agent.device_id, recovered=ok)
