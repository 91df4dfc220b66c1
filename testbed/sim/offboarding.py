"""Seed §2: every onboarding has an offboarding path, and each step is an event.

Revoke every live certificate, remove the network allowance (NAC), invalidate API
access, and record the asset as retired in the inventory.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from testbed.access import Attempt
from testbed.events import EventKind
from testbed.lifecycle import DeviceState
from testbed.offboard import offboard_device
from testbed.pki.revocation import RevocationReason
from testbed.sim.device import overflow

if TYPE_CHECKING:
    from testbed.core import Testbed
    from testbed.sim.agent import DeviceAgent

__all__ = ["offboard", "revoke_current"]


def revoke_current(
    tb: Testbed,
    agent: DeviceAgent,
    *,
    why: str,
    reason: RevocationReason = RevocationReason.UNSPECIFIED,
) -> int | None:
    """Revoke the device's current certificate at the CA (CRLs show it when next published)."""
    cert = agent.certificate
    if cert is None or tb.ca.revoked_at(cert.serial_number) is not None:
        return None
    tb.ca.revoke(cert.serial_number, now=tb.now(), reason=reason.flag)
    tb.metrics.revoked += 1
    tb.log.emit(
        tb.now(),
        EventKind.CERTIFICATE_REVOKED,
        agent.device_id,
        serial=f"{cert.serial_number:x}",
        why=why,
        reason=reason.value,
    )
    return cert.serial_number


def offboard(tb: Testbed, agent: DeviceAgent) -> None:
    """Run the four offboarding steps now (shared with live mode), then stop the device."""
    entry = tb.inventory.get(agent.device_id)
    if entry is None or agent.retired:
        return
    now = tb.now()
    done = offboard_device(agent.device_id, ca=tb.ca, inventory=tb.inventory,
                           nac=tb.access.nac, log=tb.log, now=now)  # fmt: skip
    tb.metrics.revoked += len(done.serials)
    overflow(tb, agent, reason="device-retired", keep=False)  # it leaves with what it held
    agent.retired = True
    agent.availability.close(now)
    agent.notify(tb.env)
    tb.metrics.devices_offboarded += 1
    tb.metrics.devices_in_production -= int(done.transition.source is DeviceState.PRODUCTION)
    tb.env.process(stale_probes(tb, agent))


def stale_probes(tb: Testbed, agent: DeviceAgent, *, count: int = 3) -> Generator[Any, Any, None]:
    """The retired device is still plugged in and keeps trying with what it holds."""
    retry = tb.scenario.workload.retry.total_seconds()
    for _ in range(count):
        yield tb.env.timeout(retry)
        for service in agent.record.intended_services:
            attempt = Attempt(agent.device_id, service, agent.certificate, purpose="stale-probe")
            tb.access.decide(attempt, now=tb.now())
