"""Ground truth for access decisions: was an allowance deserved?

The :class:`Oracle` listens to the access point (:meth:`AccessPoint.subscribe
<testbed.access.AccessPoint.subscribe>`) and judges every allowance against the facts
as the CA and the inventory know them at that moment, not as a relying party saw them
(a stale CRL, a skewed clock): an allowance for an unregistered, suspended or retired
device, for a certificate this CA did not issue to it, or for one revoked or outside
its validity window is unauthorized access.  Unauthorized access is measured, never
assumed to be zero.

An allowance that stands (:mod:`testbed.standing`) is judged again at each delivery
(given together with the device's others in a steady turn, its :meth:`Oracle.quiet`
says whether the judgement could differ), but what the judgement reads of it is the
same until one of these moves: the device's inventory entry (the access point gives
a standing allowance only at the version it was established at), the CA's
revocations (:attr:`CertificateAuthority.revocation_count
<testbed.pki.ca.CertificateAuthority.revocation_count>`), the shared credentials'
rotations and revocations (:attr:`SharedCredentials.changes
<testbed.network.shared.SharedCredentials.changes>`), and the time against the
certificate's validity window.  So the oracle notes on the standing allowance the
epoch of those counters at which it found it deserved (with the serial, or the
device's shared credential, not revoked at all: a revocation dated later is judged
each time), and until an epoch moves, checks only the window.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from testbed.access import AccessContext, AccessPoint, Attempt, Purpose
from testbed.decisions import Decision
from testbed.events import EventKind, EventLog
from testbed.lifecycle import ACTIVE_STATES, DeviceState
from testbed.metrics import Metrics
from testbed.network.shared import SharedCredentials
from testbed.pacs.ae_title import canonical_ae_title
from testbed.pacs.store import StoreDecision, StoreRequest
from testbed.pki.ca import CertificateAuthority

__all__ = ["Oracle", "StoreOracle", "misallowance", "wrongly_allowed"]


def misallowance(
    context: AccessContext, ca: CertificateAuthority, shared: SharedCredentials | None = None
) -> str | None:
    """Why allowing ``context``'s attempt would be wrong by the ground truth (None: it
    would not).  With ``shared``, a department's shared credential stands in for a
    certificate: right while the device presenting it is active."""
    entry, leaf, record = context.entry, context.leaf, context.record
    if entry is None or entry.lifecycle.state not in ACTIVE_STATES:
        return "the device is not registered or not active"
    if shared is not None and context.attempt.shared_credential is not None:
        return _shared_misallowance(context, shared)
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


def _shared_misallowance(context: AccessContext, shared: SharedCredentials) -> str | None:
    """Why allowing an active device's attempt with a shared credential would be wrong."""
    if not shared.vouches(context.attempt):
        return "the shared credential is no department's"
    revoked = shared.revoked_at(context.attempt.device_id)
    if revoked is not None and revoked <= context.now:
        return "the device's access was revoked, but a shared credential cannot be"
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
    #: a ``credentials: shared`` design's departments' credentials (None: other designs)
    shared: SharedCredentials | None = None

    def __call__(self, context: AccessContext, decision: Decision) -> None:
        """Judge one decision (only allowances can be wrong)."""
        if not decision.allowed:
            return
        standing = context.standing
        if standing is None:
            why = misallowance(context, self.ca, self.shared)
        else:
            shared, leaf = self.shared, context.leaf
            epoch = self._epoch()
            if standing.deserved == epoch and (
                leaf is None or leaf.not_before <= context.now <= leaf.not_after
            ):
                return  # deserved at this epoch: nothing it reads has moved but the time
            why = misallowance(context, self.ca, shared)
            if why is None and self._unrevoked(context):
                standing.deserved = epoch
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

    def _epoch(self) -> int:
        """The CA's revocations plus the shared credentials' changes: both only go up,
        so their sum moves when either does."""
        shared = self.shared
        return self.ca.revocation_count + (0 if shared is None else shared.changes)

    def settle(
        self, decided: Sequence[tuple[AccessContext, Decision]]
    ) -> tuple[object, datetime | None] | None:
        """The terms on which allowances that stand need no judging again (the
        :class:`~testbed.standing.SteadyHook` of the oracle): the present epoch, at
        which each was found deserved, until the earliest notAfter of the presented
        certificates (each valid now).  None when one needs judging."""
        epoch = self._epoch()
        until: datetime | None = None
        for context, decision in decided:
            standing, leaf, now = context.standing, context.leaf, context.now
            if not decision.allowed or standing is None or standing.deserved != epoch:
                return None
            if leaf is not None:
                if not leaf.not_before <= now <= leaf.not_after:
                    return None
                if until is None or leaf.not_after < until:
                    until = leaf.not_after
        return epoch, until

    def quiet(self, token: object, now: datetime) -> bool:
        """Whether the epoch is still ``token`` (before the time :meth:`settle` gave,
        every certificate is still valid)."""
        return token == self._epoch()

    def heard(self, count: int) -> None:
        """Nothing: allowances deserved at this epoch are not counted."""

    def _unrevoked(self, context: AccessContext) -> bool:
        """Whether nothing of ``context`` is revoked at all, not even from a later time."""
        shared, attempt, leaf = self.shared, context.attempt, context.leaf
        if shared is not None and attempt.shared_credential is not None:
            return shared.revoked_at(attempt.device_id) is None
        return leaf is not None and self.ca.revoked_at(leaf.serial) is None


@dataclass(frozen=True, slots=True)
class StoreOracle:
    """Judges every instance a PACS keeps (a store listener of each
    :class:`~testbed.pacs.Pacs`): by the ground truth at that moment, the device the
    association was accepted for must be active, the certificate it presented this
    CA's for it, unrevoked and valid, and the calling AE title the device's own.
    Each wrong one counts as unauthorized access and an unauthorized store, with one
    ``unauthorized-access`` event naming the instance."""

    access: AccessPoint
    metrics: Metrics
    log: EventLog

    def __call__(self, request: StoreRequest, answer: StoreDecision, now: datetime) -> None:
        """Judge one C-STORE answer (only stored instances can be wrong)."""
        if not answer.stored:
            return
        association = request.association
        attempt = Attempt(association.device_id, association.service, association.certificate,
                          association.source)  # fmt: skip
        context = self.access.context(attempt, now=now)
        why = misallowance(context, self.access.ca) or _ae_title_not_its_own(
            context, association.calling_ae
        )
        if why is None:
            return
        self.metrics.unauthorized_access += 1
        if self.metrics.dicom is not None:
            self.metrics.dicom.unauthorized_stores += 1
        entry, leaf = context.entry, context.leaf
        retired = entry is not None and entry.state is DeviceState.RETIRED
        self.metrics.stale_access_after_offboarding += int(retired)
        instance = answer.instance
        uid = None if instance is None else instance.sop_instance_uid
        self.log.emit(now, EventKind.UNAUTHORIZED_ACCESS, association.device_id,
                      service=association.service, purpose=Purpose.TRAFFIC.value,
                      serial=None if leaf is None else leaf.serial_hex,
                      state=None if entry is None else entry.state.value, why=why,
                      sop_instance_uid=uid)  # fmt: skip


def _ae_title_not_its_own(context: AccessContext, calling_ae: str) -> str | None:
    entry = context.entry
    own = None if entry is None or entry.record.ae_title is None else entry.record.ae_title
    if own is not None and canonical_ae_title(own) == calling_ae:
        return None
    return f"the calling AE title {calling_ae!r} is not the device's"
