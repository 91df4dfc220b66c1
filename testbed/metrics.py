"""The measures of one run (DESIGN: Measures).

Counters are plain integers updated by the simulation; downtime and incidents are
tracked per device with :class:`Availability`: an outage runs from the first refused
delivery after a good one to the success that leaves nothing down, and opens one
incident per category of refusal seen in it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from testbed.decisions import Decision, Reason
from testbed.diagnosis import IncidentCategory, diagnose
from testbed.verdicts import ValidationOutcome

if TYPE_CHECKING:
    from testbed.access import AccessContext

__all__ = ["Availability", "EhrMeasures", "Metrics"]


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
    denial_reasons: Counter[str] = field(default_factory=Counter)
    validation: Counter[str] = field(default_factory=Counter)
    recovery_checked: int = 0
    recovery_passed: int = 0
    #: the IdP's and EHR's measures; None without an ``ehr`` block (none reported)
    ehr: EhrMeasures | None = None

    def on_decision(self, context: AccessContext, decision: Decision) -> None:
        """Count one access decision (a listener of the access point)."""
        self.decisions += 1
        if decision.allowed:
            self.allowed += 1
        else:
            self.denied += 1
            self.denial_reasons[decision.reason.value] += 1

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
        if self.ehr is not None:
            measures |= self.ehr.measures()
        return measures


class Availability:
    """Whether one device can deliver to each of its services, and since when not."""

    __slots__ = ("_categories", "_down", "_since", "metrics")

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics
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
        return category

    def succeeded(self, service: str, now: datetime) -> None:
        """A delivered item; closes the device's downtime when nothing else is down."""
        if service not in self._down:
            return
        self._down.discard(service)
        if not self._down:
            self.close(now)

    def close(self, now: datetime) -> None:
        """Stop counting downtime (recovery, or the device left service)."""
        if self._since is not None:
            self.metrics.downtime_seconds += (now - self._since).total_seconds()
        self._since = None
        self._down.clear()
        self._categories.clear()
