"""Seed §2 offboarding and revocation as plain functions over the hospital's services.

The simulation (:mod:`testbed.sim.offboarding`) and the live hospital
(:mod:`testbed.live.hospital`) both run these, so a device leaves the same way in
both: revoke every live certificate, remove the network allowance (NAC), invalidate
API access (the bootstrap secret), and record the asset as retired.  Each step writes
one ``offboarding-step`` event; nothing here knows about simulated agents or sockets.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from testbed.errors import LifecycleError
from testbed.events import AuditCode, EventKind, EventLog
from testbed.inventory import Inventory
from testbed.lifecycle import LifecycleEvent, Transition
from testbed.network import Nac
from testbed.pki.ca import CertificateAuthority
from testbed.pki.revocation import RevocationReason

__all__ = ["OFFBOARDING_STEPS", "Offboarding", "live_serials", "offboard_device", "revoke_device"]

_AUDIT = AuditCode.DETACH.value

OFFBOARDING_STEPS = (
    "revoke-certificates",
    "remove-network-allowance",
    "invalidate-api-access",
    "mark-retired",
)
"""The four offboarding steps, in the order they run (seed §2)."""


@dataclass(frozen=True, slots=True)
class Offboarding:
    """What one offboarding did: the serials it revoked and the lifecycle row it took."""

    device_id: str
    serials: tuple[int, ...]
    transition: Transition


def live_serials(ca: CertificateAuthority, device_id: str, *, now: datetime) -> list[int]:
    """The device's certificates that are unexpired and unrevoked at ``now``."""
    return [
        r.serial
        for r in ca.records_for(device_id)
        if r.not_after > now and ca.revoked_at(r.serial) is None
    ]


def _hexes(serials: tuple[int, ...] | list[int]) -> str:
    return ",".join(f"{s:x}" for s in serials)


def revoke_device(
    device_id: str,
    *,
    ca: CertificateAuthority,
    log: EventLog,
    now: datetime,
    why: str,
    reason: RevocationReason = RevocationReason.UNSPECIFIED,
) -> tuple[int, ...]:
    """Revoke every live certificate of a device; one ``certificate-revoked`` event each.

    ``reason`` is the CRL entry's and OCSP answer's reason code (RFC 5280 §5.3.1).
    """
    serials = tuple(live_serials(ca, device_id, now=now))
    for serial in serials:
        ca.revoke(serial, now=now, reason=reason.flag)
        log.emit(now, EventKind.CERTIFICATE_REVOKED, device_id, serial=f"{serial:x}", why=why,
                 reason=reason.value)  # fmt: skip
    return serials


def offboard_device(
    device_id: str,
    *,
    ca: CertificateAuthority,
    inventory: Inventory,
    nac: Nac,
    log: EventLog,
    now: datetime,
    api_access: Callable[[], str] | None = None,
) -> Offboarding:
    """Run the four offboarding steps now, one event each.

    ``api_access``: invalidates the device's API access beyond its bootstrap secret
    (its SMART client at the identity provider) and says what it did, for the step's
    event.

    Raises :class:`~testbed.errors.RegistrationError` for an unknown device and
    :class:`~testbed.errors.LifecycleError` for one that is already retired (nothing
    is changed then).
    """
    entry = inventory.entry(device_id)
    if not entry.lifecycle.allows(LifecycleEvent.OFFBOARD):
        state = entry.state.value
        raise LifecycleError(f"device {device_id!r} is {state}; it cannot be offboarded again")
    serials = tuple(live_serials(ca, device_id, now=now))
    for serial in serials:
        # RFC 5280 §5.3.1: the device is out of service; its key was not compromised
        ca.revoke(serial, now=now, reason=RevocationReason.CESSATION_OF_OPERATION.flag)
    step = EventKind.OFFBOARDING_STEP
    log.emit(now, step, device_id, step=OFFBOARDING_STEPS[0], serials=_hexes(serials),
             audit_code=_AUDIT)  # fmt: skip
    nac.remove(device_id)
    log.emit(now, step, device_id, step=OFFBOARDING_STEPS[1], zone=entry.record.zone,
             audit_code=_AUDIT)  # fmt: skip
    inventory.clear_bootstrap(device_id)
    detail = "bootstrap secret cleared; " + (
        "no SMART client is registered in this release" if api_access is None else api_access()
    )
    log.emit(now, step, device_id, step=OFFBOARDING_STEPS[2], detail=detail,
             audit_code=_AUDIT)  # fmt: skip
    row = inventory.transition(device_id, LifecycleEvent.OFFBOARD, now=now)
    log.emit(now, step, device_id, step=OFFBOARDING_STEPS[3], source=row.source.value,
             audit_code=_AUDIT)  # fmt: skip
    return Offboarding(device_id, serials, row)
