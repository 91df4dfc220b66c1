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
from testbed.lifecycle import ACTIVE_STATES, DeviceState
from testbed.metrics import Metrics
from testbed.pki.ca import CertificateAuthority

__all__ = ["Oracle", "wrongly_allowed"]


def wrongly_allowed(context: AccessContext, ca: CertificateAuthority) -> bool:
    """Whether allowing ``context``'s attempt would be wrong by the ground truth."""
    entry, leaf, record = context.entry, context.leaf, context.record
    if entry is None or entry.lifecycle.state not in ACTIVE_STATES or leaf is None:
        return True
    if record is None or record.device_id != context.attempt.device_id:
        return True
    revoked = ca.revoked_at(leaf.serial)
    now = context.now
    if revoked is not None and revoked <= now:
        return True
    return not leaf.not_before <= now <= leaf.not_after


@dataclass(frozen=True, slots=True)
class Oracle:
    """Counts allowances that should not have happened into ``metrics`` (a decision
    listener)."""

    ca: CertificateAuthority
    metrics: Metrics

    def __call__(self, context: AccessContext, decision: Decision) -> None:
        """Judge one decision (only allowances can be wrong)."""
        if not decision.allowed or not wrongly_allowed(context, self.ca):
            return
        self.metrics.unauthorized_access += 1
        entry = context.entry
        if entry is not None and entry.state is DeviceState.RETIRED:
            self.metrics.stale_access_after_offboarding += 1
