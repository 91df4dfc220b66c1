"""The measures of a run, by folding its events in order (the source of ``testbed report``).

:class:`MeasureFold` replays an event stream into the same :class:`~testbed.metrics.Metrics`
and :class:`~testbed.metrics.Availability` objects the simulation counts with, so the
measures are computed by the same code (rounding and types included).  What it reads:

- ``access-decision``: decisions, allowed and denied by reason; a traffic decision is
  a delivery attempt of the device (allowed: one item, or the ``items`` of the
  ``data-forwarded`` event that follows it; denied: downtime and incidents);
- ``unauthorized-access`` (written by the oracle after a decision), ``data-lost``,
  ``data-held`` (items still held at the end);
- ``certificate-issued`` / ``-renewed`` / ``-revoked``, ``enrollment-refused``,
  ``renewal-missed``, ``validation-test``, ``drift-detected``, ``recovery-check``;
- ``device-registered`` and ``device-transition`` (onboarding time, production);
- operators' actions (manual steps): approvals and re-bootstraps (``policy-changed``),
  suspensions and resumptions, operator revocations (one per device and moment),
  offboardings, and every enrollment answer for a device whose profile has no EST
  (an operator enrolls and renews it);
- ``audit-tally``: the decision points' own count of their decisions, for audit coverage;
- with an ``ehr`` block: ``fhir-delivery`` (a device's turn of FHIR creates: items
  delivered, downtime and incidents, the token wait), ``token-granted`` /
  ``token-refused``, ``ehr-write`` (creates), ``duplicate-write``, and
  ``unauthorized-access`` with ``write`` (an unauthorized FHIR write).
- DICOM (a scenario with a ``dicom:`` block): ``dicom-association`` and ``dicom-store``
  (by reason; a refused traffic association or store is a failed delivery: downtime
  and incidents), ``study-queued``, ``study-stored`` (a delivered study), and an
  ``unauthorized-access`` naming an instance (an unauthorized store).

Facts that are not events come in a :class:`FoldContext`: when the simulation's closing
checks ran (downtime still open is closed there) and which profiles enroll by hand.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from testbed.access import Purpose
from testbed.decisions import Reason
from testbed.events import UNAUTHENTICATED, Event, EventKind
from testbed.incidents import IncidentJournal
from testbed.lifecycle import DeviceState, LifecycleEvent
from testbed.metrics import Availability, DicomCounts, EhrMeasures, Metrics
from testbed.offboard import OFFBOARDING_STEPS

__all__ = ["CertificateCounts", "FoldContext", "MeasureFold", "fold_events"]

#: the events decisions write (access decisions, enrollment answers)
DECISION_KINDS = frozenset({
    EventKind.ACCESS_DECISION,
    EventKind.CERTIFICATE_ISSUED,
    EventKind.CERTIFICATE_RENEWED,
    EventKind.ENROLLMENT_REFUSED,
})  # fmt: skip
_ENROLLMENT_ANSWERS = DECISION_KINDS - {EventKind.ACCESS_DECISION}
_OPERATOR_TRANSITIONS = frozenset({LifecycleEvent.SUSPEND, LifecycleEvent.RESUME})
_OPERATOR_CHANGES = frozenset({"enrollment-approved", "re-bootstrap"})  # policy-changed
_FAULT = "fault"  # a revocation's ``why`` when a fault, not an operator, revoked
_REVOKE_STEP, _RETIRE_STEP = OFFBOARDING_STEPS[0], OFFBOARDING_STEPS[-1]
_OUT_OF_SERVICE = frozenset({DeviceState.SUSPENDED, DeviceState.RETIRED})


@dataclass(slots=True)
class CertificateCounts:
    """Device certificates issued and revoked; the pre-production tests' own apart."""

    issued: int = 0
    revoked: int = 0
    test_issued: int = 0
    test_revoked: int = 0


@dataclass(frozen=True, slots=True)
class FoldContext:
    """What the fold needs that no event says.

    ``closing``: when the simulation's closing checks ran (None: a live run, none
    ran); ``manual_profiles``: profiles without EST, whose devices an operator
    enrolls and renews; ``devices``: the fleet's devices in file order (downtime
    still open at the closing is closed in that order, as the simulation does);
    ``ehr``: whether the hospital had an IdP and EHRs (their measures are reported).
    """

    closing: datetime | None = None
    manual_profiles: frozenset[str] = frozenset()
    devices: tuple[str, ...] = ()
    #: the scenario has an ``ehr`` block: the IdP's and EHR's measures are folded
    ehr: bool = False
    dicom: bool = False  # the scenario sends DICOM: the DICOM measures are folded


@dataclass(slots=True)
class MeasureFold:
    """Reads a run's events in order into :class:`Metrics` and :class:`CertificateCounts`."""

    context: FoldContext = field(default_factory=FoldContext)
    metrics: Metrics = field(default_factory=Metrics)
    certificates: CertificateCounts = field(default_factory=CertificateCounts)
    events: int = 0
    tallied: bool = False
    first: datetime | None = None  # the first and last event times
    last: datetime | None = None
    refusals: Counter[str] = field(default_factory=Counter)  # enrollment refusals by reason
    incidents: IncidentJournal = field(default_factory=IncidentJournal)  # one by one
    _availability: dict[str, Availability] = field(default_factory=dict)
    _registered: dict[str, datetime] = field(default_factory=dict)
    _profiles: dict[str, str] = field(default_factory=dict)
    _states: dict[str, str] = field(default_factory=dict)
    _revocation: tuple[str, datetime, str] | None = None
    _closed: bool = False

    def __post_init__(self) -> None:
        if self.context.ehr and self.metrics.ehr is None:
            self.metrics.ehr = EhrMeasures()
        if self.context.dicom and self.metrics.dicom is None:
            self.metrics.dicom = DicomCounts()

    @property
    def profiles(self) -> dict[str, str]:
        """Each registered device's profile, in registration order."""
        return dict(self._profiles)

    def add(self, event: Event) -> None:
        """Fold one event (events must come in the order they were written)."""
        closing = self.context.closing
        if not self._closed and closing is not None and event.time > closing:
            self.close(closing)
        self.events += 1
        self.first = event.time if self.first is None else self.first
        self.last = event.time
        if event.kind in DECISION_KINDS:  # an aggregated event stands for ``count`` of them
            self.metrics.decision_events += _count(event)
        if event.kind in _ENROLLMENT_ANSWERS and self._manual(event.subject):
            self.metrics.manual_steps += 1
        handler = _HANDLERS.get(event.kind)
        if handler is not None:
            handler(self, event)

    def close(self, now: datetime) -> None:
        """The simulation's closing: downtime still open ends ``now`` (once)."""
        if self._closed:
            return
        self._closed = True
        order = [d for d in self.context.devices if d in self._availability]
        known = set(order)
        order += [d for d in self._availability if d not in known]
        for device in order:
            self._availability[device].close(now, at_end=True)

    def finish(self) -> None:
        """Close the fold at the end of the stream (the closing, if it was not passed)."""
        if self.context.closing is not None:
            self.close(self.context.closing)

    def _manual(self, device: str) -> bool:
        return self._profiles.get(device) in self.context.manual_profiles

    def _outage(self, device: str) -> Availability:
        found = self._availability.get(device)
        if found is None:
            found = self._availability[device] = Availability(
                self.metrics, device=device, journal=self.incidents
            )
        return found

    # -- handlers, one per event kind -------------------------------------------------

    def _decision(self, event: Event) -> None:
        m, data = self.metrics, event.data
        count = _count(event)  # live mode tallies refusals of peers with no certificate
        m.decisions += count
        service = str(data.get("service"))
        if data.get("allowed") is True:
            m.allowed += 1
            if data.get("purpose") == Purpose.TRAFFIC:
                m.delivered += 1
                self._outage(event.subject).succeeded(service, event.time)
            return
        m.denied += count
        reason = str(data.get("reason"))
        m.count_denial(str(data.get("purpose", "traffic")), reason, count)
        if data.get("purpose") == Purpose.TRAFFIC and event.subject != UNAUTHENTICATED:
            self._outage(event.subject).failed(service, Reason(reason), event.time)

    def _fhir_delivery(self, event: Event) -> None:
        """A device's turn of FHIR creates: items delivered, and the turn's outcome."""
        self.metrics.delivered += _int(event, "delivered")
        service, reason = str(event.data.get("service")), str(event.data.get("reason"))
        outage = self._outage(event.subject)
        if reason == Reason.OK:
            outage.succeeded(service, event.time)
        else:
            outage.failed(service, Reason(reason), event.time)
        wait = event.data.get("token_wait_s")
        ehr = self.metrics.ehr
        if ehr is not None and isinstance(wait, int | float) and not isinstance(wait, bool):
            ehr.token_waits.append(float(wait))

    def _token(self, event: Event) -> None:
        ehr = self.metrics.ehr
        if ehr is None:
            return
        if event.kind is EventKind.TOKEN_GRANTED:
            ehr.tokens_granted += 1
        else:
            ehr.tokens_refused[str(event.data.get("reason"))] += _count(event)

    def _ehr_write(self, event: Event) -> None:
        ehr = self.metrics.ehr
        if ehr is None or event.data.get("interaction") != "create":
            return
        if event.data.get("allowed") is True:
            ehr.writes_accepted += 1
        else:
            ehr.writes_refused[str(event.data.get("reason"))] += 1

    def _duplicate(self, event: Event) -> None:
        if self.metrics.ehr is not None:
            self.metrics.ehr.duplicates += 1

    def _forwarded(self, event: Event) -> None:
        self.metrics.delivered += _int(event, "items") - 1  # its decision counted one

    def _unauthorized(self, event: Event) -> None:
        self.metrics.unauthorized_access += 1
        if event.data.get("write") is True and self.metrics.ehr is not None:
            self.metrics.ehr.unauthorized_writes += 1
        stale = event.data.get("state") == DeviceState.RETIRED
        self.metrics.stale_access_after_offboarding += int(stale)
        dicom = self.metrics.dicom
        if dicom is not None and "sop_instance_uid" in event.data:
            dicom.unauthorized_stores += 1

    def _association(self, event: Event) -> None:
        dicom, data = self.metrics.dicom, event.data
        if dicom is None:
            return
        allowed, reason = data.get("allowed") is True, str(data.get("reason"))
        dicom.association(allowed=allowed, reason=reason)
        if not allowed and data.get("purpose") == Purpose.TRAFFIC:
            self._outage(event.subject).failed(str(data.get("service")), Reason(reason),
                                               event.time)  # fmt: skip

    def _store(self, event: Event) -> None:
        dicom, data = self.metrics.dicom, event.data
        if dicom is None:
            return
        allowed, reason = data.get("allowed") is True, str(data.get("reason"))
        uid = data.get("sop_instance_uid")
        dicom.store(service=str(data.get("service")), allowed=allowed, reason=reason,
                    sop_instance_uid=None if uid is None else str(uid),
                    duplicate=data.get("duplicate") is True)  # fmt: skip
        if not allowed:
            self._outage(event.subject).failed(str(data.get("service")), Reason(reason),
                                               event.time)  # fmt: skip

    def _study_queued(self, event: Event) -> None:
        if self.metrics.dicom is not None:
            self.metrics.dicom.studies_queued += 1

    def _study_stored(self, event: Event) -> None:
        dicom = self.metrics.dicom
        if dicom is None:
            return
        waited = event.data.get("waited_seconds")
        dicom.study_stored(float(waited) if isinstance(waited, int | float) else 0.0)
        self.metrics.delivered += 1
        self._outage(event.subject).succeeded(str(event.data.get("service")), event.time)

    def _lost(self, event: Event) -> None:
        self.metrics.data_lost += _int(event, "items")

    def _held(self, event: Event) -> None:
        self.metrics.buffered += _int(event, "items")

    def _issued(self, event: Event) -> None:
        self.certificates.issued += 1
        self.metrics.enrollments += 1

    def _renewed(self, event: Event) -> None:
        self.certificates.issued += 1
        self.metrics.renewals_done += 1

    def _revoked(self, event: Event) -> None:
        self.certificates.revoked += 1
        why = str(event.data.get("why"))
        action = (event.subject, event.time, why)
        if why != _FAULT and action != self._revocation:
            self.metrics.manual_steps += 1  # one operator action revokes every live one
        self._revocation = action

    def _refused(self, event: Event) -> None:
        self.refusals[str(event.data.get("reason"))] += _count(event)

    def _missed(self, event: Event) -> None:
        self.metrics.renewals_missed += 1

    def _validation(self, event: Event) -> None:
        self.metrics.validation[str(event.data.get("outcome"))] += 1
        if event.data.get("test_serial") is not None:
            self.certificates.test_issued += 1
            revoked = event.data.get("test") == Purpose.REVOKED_CERTIFICATE
            self.certificates.test_revoked += int(revoked)  # the lab revoked it at once

    def _drift(self, event: Event) -> None:
        self.metrics.drift_alerts += 1

    def _registered_device(self, event: Event) -> None:
        self._registered[event.subject] = event.time
        self._profiles[event.subject] = str(event.data.get("profile"))

    def _transition(self, event: Event) -> None:
        self._states[event.subject] = str(event.data.get("target"))
        action = event.data.get("event")
        if action in _OPERATOR_TRANSITIONS:
            self.metrics.manual_steps += 1
        elif action == LifecycleEvent.PROMOTE:
            self._onboarded(event.subject, event.time)
            self.metrics.devices_in_production += 1

    def _onboarded(self, device: str, now: datetime) -> None:
        began = self._registered.get(device)
        if began is not None:
            self.metrics.onboarding_seconds.append((now - began).total_seconds())

    def _shared_step(self, event: Event) -> None:
        """A shared credential rotated, or handed to one device by hand: a step each."""
        self.metrics.manual_steps += 1

    def _policy(self, event: Event) -> None:
        self.metrics.manual_steps += int(event.data.get("change") in _OPERATOR_CHANGES)

    def _offboarding(self, event: Event) -> None:
        step = event.data.get("step")
        if step == _REVOKE_STEP:
            serials = str(event.data.get("serials") or "")
            self.certificates.revoked += len([s for s in serials.split(",") if s])
        elif step == _RETIRE_STEP:
            m = self.metrics
            m.manual_steps += 1
            m.devices_offboarded += 1
            m.devices_in_production -= int(event.data.get("source") == DeviceState.PRODUCTION)
            self._outage(event.subject).close(event.time)

    def _recovery(self, event: Event) -> None:
        m = self.metrics
        m.recovery_checked += 1
        m.recovery_passed += int(event.data.get("recovered") is True)
        state = self._states.get(event.subject)
        if state != DeviceState.PRODUCTION and state not in _OUT_OF_SERVICE:
            self._onboarded(event.subject, event.time)  # still onboarding: its time so far

    def _tally(self, event: Event) -> None:
        self.tallied = True
        self.metrics.decisions = _int(event, "access_decisions")
        self.metrics.enrollment_answers = _int(event, "enrollment_answers")


def _count(event: Event) -> int:
    """How many answers an event stands for: its ``count`` when live mode aggregated
    it (:mod:`testbed.live.refusals`), else one."""
    count = _int(event, "count")
    return count if count > 0 else 1


def _int(event: Event, key: str) -> int:
    value = event.data.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


_HANDLERS: dict[EventKind, Callable[[MeasureFold, Event], None]] = {
    EventKind.ACCESS_DECISION: MeasureFold._decision,
    EventKind.DATA_FORWARDED: MeasureFold._forwarded,
    EventKind.UNAUTHORIZED_ACCESS: MeasureFold._unauthorized,
    EventKind.DATA_LOST: MeasureFold._lost,
    EventKind.DATA_HELD: MeasureFold._held,
    EventKind.CERTIFICATE_ISSUED: MeasureFold._issued,
    EventKind.CERTIFICATE_RENEWED: MeasureFold._renewed,
    EventKind.CERTIFICATE_REVOKED: MeasureFold._revoked,
    EventKind.ENROLLMENT_REFUSED: MeasureFold._refused,
    EventKind.RENEWAL_MISSED: MeasureFold._missed,
    EventKind.VALIDATION_TEST: MeasureFold._validation,
    EventKind.DRIFT_DETECTED: MeasureFold._drift,
    EventKind.DEVICE_REGISTERED: MeasureFold._registered_device,
    EventKind.DEVICE_TRANSITION: MeasureFold._transition,
    EventKind.POLICY_CHANGED: MeasureFold._policy,
    EventKind.SHARED_CREDENTIAL_ROTATED: MeasureFold._shared_step,
    EventKind.SHARED_CREDENTIAL_HANDED: MeasureFold._shared_step,
    EventKind.OFFBOARDING_STEP: MeasureFold._offboarding,
    EventKind.RECOVERY_CHECK: MeasureFold._recovery,
    EventKind.AUDIT_TALLY: MeasureFold._tally,
    EventKind.FHIR_DELIVERY: MeasureFold._fhir_delivery,
    EventKind.TOKEN_GRANTED: MeasureFold._token,
    EventKind.TOKEN_REFUSED: MeasureFold._token,
    EventKind.EHR_WRITE: MeasureFold._ehr_write,
    EventKind.DUPLICATE_WRITE: MeasureFold._duplicate,
    EventKind.DICOM_ASSOCIATION: MeasureFold._association,
    EventKind.DICOM_STORE: MeasureFold._store,
    EventKind.STUDY_QUEUED: MeasureFold._study_queued,
    EventKind.STUDY_STORED: MeasureFold._study_stored,
}


def fold_events(events: Iterable[Event], context: FoldContext) -> MeasureFold:
    """Fold every event of a run, in order, and close the fold."""
    fold = MeasureFold(context)
    for event in events:
        fold.add(event)
    fold.finish()
    return fold
