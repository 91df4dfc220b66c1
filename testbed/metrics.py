"""The measures of one run (DESIGN: Measures).

Counters are plain integers updated by the simulation; downtime and incidents are
tracked per device with :class:`Availability`: an outage runs from the first refused
delivery after a good one to the success that leaves nothing down, and opens one
incident per category of refusal seen in it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from testbed.decisions import Decision, Reason
from testbed.diagnosis import IncidentCategory, diagnose
from testbed.incidents import IncidentJournal
from testbed.standing import ALWAYS_QUIET
from testbed.verdicts import ValidationOutcome

if TYPE_CHECKING:
    from testbed.access import AccessContext

__all__ = [
    "CLINICAL_PURPOSES",
    "Availability",
    "DecisionCounts",
    "DicomCounts",
    "EhrMeasures",
    "Metrics",
]

CLINICAL_PURPOSES = frozenset({"traffic", "fhir-request"})
"""The purposes of access decisions that are clinical traffic (``access.Purpose``); the
others are the hospital's own checks: pre-production failure tests, stale probes of
offboarded devices, recovery checks."""


@dataclass(slots=True)
class EhrMeasures:
    """The identity provider's and the EHR's measures (a scenario with an ``ehr`` block;
    docs/measures.md): tokens, FHIR writes, duplicates, unauthorized writes."""

    tokens_granted: int = 0
    tokens_refused: Counter[str] = field(default_factory=Counter)
    #: per obtained token, seconds of simulation time from first needing it to the grant
    token_waits: list[float] = field(default_factory=list)
    writes_accepted: int = 0  # FHIR creates answered 201 or 200 (If-None-Exist matched)
    writes_refused: Counter[str] = field(default_factory=Counter)
    answers_lost: int = 0  # writes whose answer never reached the device
    duplicates: int = 0
    unauthorized_writes: int = 0

    def measures(self) -> dict[str, float]:
        """The flat measures (added to :meth:`Metrics.measures`)."""
        waits = self.token_waits
        return {
            "tokens_granted": self.tokens_granted,
            "tokens_refused": sum(self.tokens_refused.values()),
            "token_grant_latency_max_seconds": round(max(waits, default=0.0), 3),
            "token_grant_latency_mean_seconds": round(sum(waits) / len(waits), 3) if waits else 0.0,
            "fhir_writes_accepted": self.writes_accepted,
            "fhir_writes_refused": sum(self.writes_refused.values()),
            "duplicates": self.duplicates,
            "unauthorized_writes": self.unauthorized_writes,
        }


@dataclass(slots=True)
class DicomCounts:
    """The DICOM measures (issue 12; ``docs/measures.md``): counted by the PACS's
    listeners and the simulated imaging traffic, or folded from the events they write,
    through the same methods."""

    associations: Counter[str] = field(default_factory=Counter)  # by reason ("ok")
    stores: Counter[str] = field(default_factory=Counter)  # by reason ("ok")
    instances_stored: int = 0  # new instances kept
    retries_answered: int = 0  # an instance sent again: success, no second copy
    duplicates: int = 0  # a second copy of an instance a PACS had kept (must be 0)
    unauthorized_stores: int = 0
    studies_stored: int = 0
    studies_queued: int = 0
    study_wait_max_seconds: float = 0.0
    _kept: set[tuple[str, str]] = field(default_factory=set)  # (PACS, SOP Instance UID)

    def association(self, *, allowed: bool, reason: str) -> None:
        """One association decision."""
        self.associations["ok" if allowed else reason] += 1

    def store(
        self, *, service: str, sop_instance_uid: str | None, allowed: bool, reason: str,
        duplicate: bool,
    ) -> None:  # fmt: skip
        """One C-STORE decision: a new copy of an instance the PACS kept already is a
        duplicate, whatever the PACS answered."""
        self.stores["ok" if allowed else reason] += 1
        if not allowed:
            return
        if duplicate:
            self.retries_answered += 1
            return
        self.instances_stored += 1
        key = (service, sop_instance_uid or "")
        if key in self._kept:
            self.duplicates += 1
        self._kept.add(key)

    def study_stored(self, waited_seconds: float) -> None:
        """Every instance of a study stored, ``waited_seconds`` after it was made."""
        self.studies_stored += 1
        self.study_wait_max_seconds = max(self.study_wait_max_seconds, waited_seconds)

    def measures(self) -> dict[str, float]:
        """The flat DICOM measures."""
        accepted = self.associations["ok"]
        return {
            "dicom_associations_accepted": accepted,
            "dicom_associations_refused": sum(self.associations.values()) - accepted,
            "dicom_instances_stored": self.instances_stored,
            "dicom_stores_refused": sum(self.stores.values()) - self.stores["ok"],
            "dicom_retries_answered": self.retries_answered,
            "duplicates": self.duplicates,
            "unauthorized_stores": self.unauthorized_stores,
            "studies_stored": self.studies_stored,
            "studies_queued": self.studies_queued,
            "study_wait_max_minutes": round(self.study_wait_max_seconds / 60, 3),
        }

    def by_reason(self) -> dict[str, dict[str, int]]:
        """Associations and stores by reason (``ok``: accepted, stored)."""
        return {
            "associations": dict(sorted(self.associations.items())),
            "stores": dict(sorted(self.stores.items())),
        }


@dataclass(frozen=True, slots=True)
class DecisionCounts:
    """The steady hook (:class:`~testbed.standing.SteadyHook`) of
    :meth:`Metrics.on_decision`: allowances given again only count."""

    metrics: Metrics

    def settle(
        self, decided: Sequence[tuple[AccessContext, Decision]]
    ) -> tuple[object, datetime | None] | None:
        """Always quiet for allowances (refusals never stand): counting is all it does."""
        return (ALWAYS_QUIET, None) if all(decision.allowed for _, decision in decided) else None

    def quiet(self, token: object, now: datetime) -> bool:
        """Always (never asked: :data:`~testbed.standing.ALWAYS_QUIET`)."""
        return True

    def heard(self, count: int) -> None:
        """``count`` more decisions, all allowed."""
        metrics = self.metrics
        metrics.decisions += count
        metrics.allowed += count


@dataclass(slots=True)
class Metrics:
    """Everything the report measures, as counters."""

    decisions: int = 0  # access decisions, counted where they are made
    enrollment_answers: int = 0  # EST answers and operators' refusals, likewise
    operator_refusals: int = 0
    decision_events: int = 0  # the log's own count of the events of those decisions
    allowed: int = 0
    denied: int = 0
    unauthorized_access: int = 0
    stale_access_after_offboarding: int = 0
    delivered: int = 0
    buffered: int = 0  # items devices in service still held at the end
    data_lost: int = 0
    downtime_seconds: float = 0.0
    renewals_done: int = 0
    renewals_missed: int = 0
    manual_steps: int = 0
    enrollments: int = 0
    revoked: int = 0
    onboarding_seconds: list[float] = field(default_factory=list)
    devices_in_production: int = 0
    devices_offboarded: int = 0
    drift_alerts: int = 0
    incidents: Counter[str] = field(default_factory=Counter)
    denial_reasons: Counter[str] = field(default_factory=Counter)  # clinical traffic only
    #: denials of the hospital's own checks, by (purpose, reason)
    check_denials: Counter[tuple[str, str]] = field(default_factory=Counter)
    validation: Counter[str] = field(default_factory=Counter)
    recovery_checked: int = 0
    recovery_passed: int = 0
    #: the IdP's and EHR's measures; None without an ``ehr`` block (none reported)
    ehr: EhrMeasures | None = None
    #: the DICOM measures, in a scenario that sends DICOM (None: not measured)
    dicom: DicomCounts | None = None

    def on_decision(self, context: AccessContext, decision: Decision) -> None:
        """Count one access decision (a listener of the access point)."""
        self.decisions += 1
        if decision.allowed:
            self.allowed += 1
        else:
            self.denied += 1
            self.count_denial(context.attempt.purpose.value, decision.reason.value)

    @property
    def steady_hook(self) -> DecisionCounts:
        """:meth:`on_decision`'s part in allowances given again together."""
        return DecisionCounts(self)

    def count_denial(self, purpose: str, reason: str, count: int = 1) -> None:
        """``count`` denials (one, unless live mode tallied them): clinical traffic's by
        reason, a check's by purpose and reason."""
        if purpose in CLINICAL_PURPOSES:
            self.denial_reasons[reason] += count
        else:
            self.check_denials[purpose, reason] += count

    def audit_coverage(self) -> float:
        """Decisions with an event / all decisions (access and enrollment).

        The two sides are counted apart: decisions where they are made, events by
        reading the kept log (:func:`~testbed.report.record.record_from_testbed`), so a decision
        path that writes no event, or a log that keeps nothing, shows here.
        """
        made = self.decisions + self.enrollment_answers
        return 1.0 if made == 0 else self.decision_events / made

    def fail_safe_fraction(self) -> float:
        """Pre-production failure tests that failed safe / all of them."""
        total = sum(self.validation.values())
        return 1.0 if total == 0 else self.validation[ValidationOutcome.FAIL_SAFE] / total

    def measures(self) -> dict[str, float]:
        """The flat measures expectations refer to (see :class:`~testbed.expectations.Metric`)."""
        onboarding = max(self.onboarding_seconds, default=0.0) / 60
        recovered = (
            1.0 if self.recovery_checked == 0 else self.recovery_passed / self.recovery_checked
        )
        measures: dict[str, float] = {
            "unauthorized_access": self.unauthorized_access,
            "data_lost": self.data_lost,
            "clinical_downtime_minutes": round(self.downtime_seconds / 60, 3),
            "renewals_done": self.renewals_done,
            "renewals_missed": self.renewals_missed,
            "manual_steps": self.manual_steps,
            "onboarding_minutes_max": round(onboarding, 3),
            "devices_in_production": self.devices_in_production,
            "devices_offboarded": self.devices_offboarded,
            "audit_coverage": round(self.audit_coverage(), 6),
            "fail_safe": round(self.fail_safe_fraction(), 6),
            "incidents": sum(self.incidents.values()),
            "stale_access_after_offboarding": self.stale_access_after_offboarding,
            "drift_alerts": self.drift_alerts,
            "recovered": round(recovered, 6),
            "data_held_at_end": self.buffered,
        }
        duplicates = 0
        if self.dicom is not None:
            measures |= self.dicom.measures()
            duplicates += self.dicom.duplicates
        if self.ehr is not None:
            measures |= self.ehr.measures()
            duplicates += self.ehr.duplicates
        if self.dicom is not None or self.ehr is not None:
            measures["duplicates"] = duplicates  # FHIR creates and C-STOREs, summed
        return measures


class Availability:
    """Whether one device can deliver to each of its services, and since when not."""

    __slots__ = ("_categories", "_down", "_since", "device", "journal", "metrics")

    def __init__(
        self, metrics: Metrics, *, device: str = "", journal: IncidentJournal | None = None
    ) -> None:
        self.metrics = metrics
        #: the device, and where its incidents are listed one by one (optional)
        self.device = device
        self.journal = journal
        self._down: set[str] = set()
        self._since: datetime | None = None
        self._categories: set[IncidentCategory] = set()  # opened during this outage

    @property
    def down(self) -> bool:
        """Whether some intended service cannot be reached."""
        return bool(self._down)

    def failed(self, service: str, reason: Reason, now: datetime) -> IncidentCategory | None:
        """A refused delivery; returns the category when it opens an incident.

        One outage of a device (from its first refusal to the success that leaves
        nothing down) opens one incident per category of refusal seen in it: a
        blocked route, then an expired certificate during the same outage, are two.
        """
        if not self._down:
            self._since = now
        self._down.add(service)
        category = diagnose(reason)
        if category in self._categories:
            return None
        self._categories.add(category)
        self.metrics.incidents[category.value] += 1
        if self.journal is not None:
            self.journal.opened(self.device, service, category, reason.value, now)
        return category

    def succeeded(self, service: str, now: datetime) -> None:
        """A delivered item; closes the device's downtime when nothing else is down."""
        if service not in self._down:
            return
        self._down.discard(service)
        if not self._down:
            self.close(now)

    def close(self, now: datetime, *, at_end: bool = False) -> None:
        """Stop counting downtime (recovery, the device left service, or, ``at_end``,
        the run's closing checks)."""
        if self._since is not None:
            self.metrics.downtime_seconds += (now - self._since).total_seconds()
            if self.journal is not None:
                self.journal.closed(self.device, now, at_end=at_end)
        self._since = None
        self._down.clear()
        self._categories.clear()
