"""Seed §7 step 2: an operator approves a registered device's enrollment.

With ``pki.manual_approval`` a device is registered pending, and EST answers its
bootstrap enrollment 202 + Retry-After until this approval.  The simulation
(:mod:`testbed.sim.device`, after ``pki.approval_delay``) and the live hospital
(``testbed devices approve``) both call :func:`approve_enrollment`, so the approval
is the same state change and the same ``policy-changed`` event in both.
"""

from __future__ import annotations

from datetime import datetime

from testbed.errors import RegistrationError
from testbed.events import EventKind, EventLog
from testbed.inventory import Inventory
from testbed.lifecycle import DeviceState

__all__ = ["approve_enrollment"]


def approve_enrollment(
    device_id: str, *, inventory: Inventory, log: EventLog, now: datetime
) -> bool:
    """Approve the device's enrollment; False when nothing was pending.

    Raises :class:`RegistrationError` for an unknown, suspended or retired device
    (nothing is changed then).
    """
    entry = inventory.entry(device_id)
    if entry.state in (DeviceState.SUSPENDED, DeviceState.RETIRED):
        raise RegistrationError(f"device {device_id!r} is {entry.state}; it may not enroll")
    if entry.approved:
        return False
    inventory.approve(device_id)
    log.emit(now, EventKind.POLICY_CHANGED, device_id, change="enrollment-approved")
    return True
