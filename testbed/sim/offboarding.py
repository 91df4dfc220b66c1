"""Seed §2: every onboarding has an offboarding path, and each step is an event.

Revoke every live certificate, remove the network allowance (NAC), invalidate API
access, and record the asset as retired in the inventory.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from testbed.access import Attempt
from testbed.events import EventKind
from testbed.lifecycle import LifecycleEvent

if TYPE_CHECKING:
    from testbed.core import Testbed
    from testbed.sim.agent import DeviceAgent

__all__ = ["offboard", "revoke_current"]


def revoke_current(tb: Testbed, agent: DeviceAgent, *, why: str) -> int | None:
    """Revoke the device's current certificate at the CA (CRLs show it when next published)."""
    cert = agent.certificate
    if cert is None or tb.ca.revoked_at(cert.serial_number) is not None:
        return None
    tb.ca.revoke(cert.serial_number, now=tb.now())
    tb.metrics.revoked += 1
    tb.log.emit(
        tb.now(),
        EventKind.CERTIFICATE_REVOKED,
        agent.device_id,
        serial=f"{cert.serial_number:x}",
        why=why,
    )
    return cert.serial_number


def _live_serials(tb: Testbed, device_id: str) -> list[int]:
    now = tb.now()
    return [
        r.serial
        for r in tb.ca.records_for(device_id)
        if r.not_after > now and tb.ca.revoked_at(r.serial) is None
    ]


def offboard(tb: Testbed, agent: DeviceAgent) -> None:
    """Run the four offboarding steps now."""
    entry = tb.inventory.get(agent.device_id)
    if entry is None or agent.retired:
        return
    now = tb.now()
    serials = _live_serials(tb, agent.device_id)
    for serial in serials:
        tb.ca.revoke(serial, now=now)
        tb.metrics.revoked += 1
    tb.log.emit(
        now,
        EventKind.OFFBOARDING_STEP,
        agent.device_id,
        step="revoke-certificates",
        serials=",".join(f"{s:x}" for s in serials),
        audit_code="110108/110125",
    )
    tb.access.nac.discard(agent.device_id)
    tb.log.emit(
        now,
        EventKind.OFFBOARDING_STEP,
        agent.device_id,
        step="remove-network-allowance",
        zone=agent.record.zone,
        audit_code="110108/110125",
    )
    entry.bootstrap_digest = None
    tb.log.emit(
        now,
        EventKind.OFFBOARDING_STEP,
        agent.device_id,
        step="invalidate-api-access",
        detail="bootstrap secret cleared; no SMART client is registered in this release",
        audit_code="110108/110125",
    )
    row = tb.inventory.transition(agent.device_id, LifecycleEvent.OFFBOARD, now=now)
    tb.log.emit(
        now,
        EventKind.OFFBOARDING_STEP,
        agent.device_id,
        step="mark-retired",
        source=row.source.value,
        audit_code="110108/110125",
    )
    agent.retired = True
    agent.availability.close(now)
    agent.notify(tb.env)
    tb.metrics.devices_offboarded += 1
    tb.metrics.devices_in_production -= int(row.source.value == "production")
    tb.env.process(stale_probes(tb, agent))


def stale_probes(tb: Testbed, agent: DeviceAgent, *, count: int = 3) -> Generator[Any, Any, None]:
    """The retired device is still plugged in and keeps trying with what it holds."""
    retry = tb.scenario.workload.retry.total_seconds()
    for _ in range(count):
        yield tb.env.timeout(retry)
        for service in agent.record.intended_services:
            attempt = Attempt(agent.device_id, service, agent.certificate, purpose="stale-probe")
            tb.access.decide(attempt, now=tb.now())
