"""Offboarding and revocation of simulated devices, through the shared operations.

Seed §2: revoke every live certificate, remove the network allowance (NAC), invalidate
API access, and record the asset as retired (:func:`testbed.operations.offboard`);
here the device agent also stops, leaves with what it held, and keeps probing with
what it still holds (stale access must be refused).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from testbed import operations
from testbed.access import Attempt, Purpose
from testbed.lifecycle import DeviceState
from testbed.pki.revocation import RevocationReason
from testbed.sim.traffic import overflow

if TYPE_CHECKING:
    from testbed.sim.agent import DeviceAgent
    from testbed.sim.context import SimContext

__all__ = ["offboard", "revoke_identity", "stale_probes"]


def revoke_identity(
    sim: SimContext,
    agent: DeviceAgent,
    *,
    why: str,
    reason: RevocationReason = RevocationReason.UNSPECIFIED,
) -> tuple[int, ...]:
    """Revoke every live certificate of the device (CRLs show it when next published)."""
    serials = operations.revoke(sim.hospital, agent.device_id, reason=reason, why=why)
    sim.metrics.revoked += len(serials)
    return serials


def offboard(sim: SimContext, agent: DeviceAgent) -> None:
    """Run the four offboarding steps now (shared with live mode), then stop the device."""
    entry = sim.hospital.inventory.get(agent.device_id)
    if entry is None or agent.retired:
        return
    now = sim.now()
    done = operations.offboard(sim.hospital, agent.device_id)
    sim.metrics.revoked += len(done.serials)
    # it leaves with what it held
    overflow(sim.log, sim.metrics, agent, reason="device-retired", now=now, keep=False)
    agent.retired = True
    agent.availability.close(now)
    agent.notify(sim.env)
    sim.metrics.devices_offboarded += 1
    sim.metrics.devices_in_production -= int(done.transition.source is DeviceState.PRODUCTION)
    sim.env.process(stale_probes(sim, agent))


def stale_probes(
    sim: SimContext, agent: DeviceAgent, *, count: int = 3
) -> Generator[Any, Any, None]:
    """The retired device is still plugged in and keeps trying with what it holds
    (a shared credential too: nobody could take it back)."""
    retry = sim.workload.retry.total_seconds()
    source = (agent.record.site, agent.record.zone)
    for _ in range(count):
        yield sim.env.timeout(retry)
        for service in agent.record.intended_services:
            attempt = Attempt(agent.device_id, service, agent.certificate, source,
                              Purpose.STALE_PROBE, agent.shared_credential)  # fmt: skip
            sim.hospital.access.decide(attempt, now=sim.now())
