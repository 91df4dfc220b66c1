"""Ground truth for access decisions: was an allowance deserved?

The :class:`Oracle` listens to the access point (:meth:`AccessPoint.subscribe
<testbed.access.AccessPoint.subscribe>`) and judges every allowance against the facts
as the CA and the inventory know them at that moment, not as a relying party saw them
(a stale CRL, a skewed clock): an allowance for an unregistered, suspended or retired
device, for a certificate this CA did not issue to it, or for one revoked or outside
its validity window is unauthorized access.  Unauthorized access is measured, never
assumed to be zero.
"""

from __future__ import annotations

from dataclasses import dataclass

from testbed.access import AccessContext
from testbed.decisions import Decision
from testbed.events import EventKind, EventLog
from testbed.lifecycle import ACTIVE_STATES, DeviceState
from testbed.metrics import Metrics
from testbed.pki.ca import CertificateAuthority

__all__ = ["Oracle", "misallowance", "wrongly_allowed"]


def misallowance(context: AccessContext, ca: CertificateAuthority) -> str | None:
    """Why allowing ``context``'s attempt would be wrong by the ground truth (None: it
    would not)."""
    entry, leaf, record = context.entry, context.leaf, context.record
    if entry is None or entry.lifecycle.state not in ACTIVE_STATES:
        return "the device is not registered or not active"
    if leaf is None:
        return "no certificate was presented"
    if record is None or record.device_id != context.attempt.device_id:
        return "the certificate was not issued to this device"
    revoked = ca.revoked_at(leaf.serial)
    now = context.now
    if revoked is not None and revoked <= now:
        return "the certificate was revoked at the CA"
    if not leaf.not_before <= now <= leaf.not_after:
        return "the certificate was outside its validity"
    return None


def wrongly_allowed(context: AccessContext, ca: CertificateAuthority) -> bool:
    """Whether allowing ``context``'s attempt would be wrong by the ground truth."""
    return misallowance(context, ca) is not None


@dataclass(frozen=True, slots=True)
class Oracle:
    """Counts allowances that should not have happened into ``metrics`` and writes one
    ``unauthorized-access`` event for each, after the decision's own (a decision
    listener)."""

    ca: CertificateAuthority
    metrics: Metrics
    log: EventLog

    def __call__(self, context: AccessContext, decision: Decision) -> None:
        """Judge one decision (only allowances can be wrong)."""
        if not decision.allowed:
            return
        why = misallowance(context, self.ca)
        if why is None:
            return
        self.metrics.unauthorized_access += 1
        entry = context.entry
        retired = entry is not None and entry.state is DeviceState.RETIRED
        self.metrics.stale_access_after_offboarding += int(retired)
        attempt, leaf = context.attempt, context.leaf
        self.log.emit(context.now, EventKind.UNAUTHORIZED_ACCESS, attempt.device_id,
                      service=attempt.service, purpose=attempt.purpose.value,
                      serial=None if leaf is None else leaf.serial_hex,
                      state=None if entry is None else entry.state.value, why=why)  # fmt: skip
