"""A run record: everything a report needs, as plain data, with no simulation object.

A :class:`RunRecord` holds the validated scenario, the seed, the run's events (kept in
memory, or read lazily from ``events.jsonl``), its measures and counts, the measures it
could not have (with the reason) and the device groups the plots draw.  It comes from a
finished simulation (:func:`record_from_testbed`, measures counted by
:class:`~testbed.metrics.Metrics`) or from a directory on disk
(:func:`testbed.report.directory.load_record`, measures folded from the events by
:mod:`testbed.report.fold`); :func:`~testbed.report.build.build_report`, the HTML page
and the plots read only the record.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from testbed.events import Event, EventSource
from testbed.expectations import Metric
from testbed.faults import FaultSpec
from testbed.incidents import Incident
from testbed.metrics import Metrics
from testbed.report.fold import DECISION_KINDS, CertificateCounts
from testbed.report.needs import ENROLLMENT_REFUSALS
from testbed.scenario import Scenario
from testbed.sim.preproduction import TEST_REQUESTER

if TYPE_CHECKING:
    from testbed.core import Testbed

__all__ = [
    "LIVE_UNMEASURED",
    "RunRecord",
    "Tally",
    "Transport",
    "closing_time",
    "fleet_groups",
    "record_from_testbed",
    "tally_of",
]


class Transport(StrEnum):
    """How the run was driven."""

    SIMULATION = "simulation"
    LIVE = "live"


_NO_TRAFFIC = (
    "live devices carry no clinical items through the testbed yet (the services' ping "
    "endpoints decide access but deliver nothing)"
)
_SIMULATED_ONLY = "only the simulation runs them"

LIVE_UNMEASURED: dict[str, str] = {
    Metric.DATA_LOST: _NO_TRAFFIC,
    Metric.DATA_HELD_AT_END: _NO_TRAFFIC,
    Metric.CLINICAL_DOWNTIME_MINUTES: _NO_TRAFFIC,
    Metric.INCIDENTS: _NO_TRAFFIC,
    Metric.RENEWALS_MISSED: "a live device's missed renewal is not seen by the hospital",
    Metric.ONBOARDING_MINUTES_MAX: "live devices are not validated or promoted to production",
    Metric.FAIL_SAFE: f"the pre-production failure tests: {_SIMULATED_ONLY}",
    Metric.DRIFT_ALERTS: f"the daily drift scans: {_SIMULATED_ONLY}",
    Metric.RECOVERED: f"the closing recovery checks: {_SIMULATED_ONLY}",
}
"""The measures a live run cannot have, and why (docs/measures.md says the same)."""

EHR_LIVE_UNMEASURED: dict[str, str] = {
    Metric.TOKEN_GRANT_LATENCY_MAX_SECONDS: "a live client's wait for a token is not seen by "
    "the hospital (the simulation's devices measure it)",
    Metric.TOKEN_GRANT_LATENCY_MEAN_SECONDS: "a live client's wait for a token is not seen by "
    "the hospital (the simulation's devices measure it)",
}
"""With an ``ehr`` block, the measures a live run cannot have either."""

NO_TALLY = (
    "no audit-tally event: the decision points' own count of their decisions is not in "
    "this log (a live server writes it when it stops cleanly)"
)


@dataclass(frozen=True, slots=True)
class Tally:
    """The measures and counts of one run (the contents of ``report.json`` they make)."""

    measures: dict[str, float]
    counts: dict[str, int]
    incidents_by_category: dict[str, int]
    denials_by_reason: dict[str, int]  # clinical traffic
    preproduction_tests: dict[str, int]
    events: int
    devices_registered: int = 0
    enrollment_refusals_by_reason: dict[str, int] = field(default_factory=dict)
    #: with an ``ehr`` block: tokens and FHIR writes refused, by reason (else None)
    tokens_refused_by_reason: dict[str, int] | None = None
    fhir_writes_refused_by_reason: dict[str, int] | None = None
    #: DICOM associations and stores by reason (a scenario that sends DICOM; else empty)
    dicom_by_reason: dict[str, dict[str, int]] = field(default_factory=dict)
    #: the hospital's own checks refused (tests, stale probes, recovery checks), by
    #: purpose, then reason
    check_denials_by_purpose: dict[str, dict[str, int]] = field(default_factory=dict)


def tally_of(
    metrics: Metrics,
    certificates: CertificateCounts,
    *,
    events: int,
    registered: int,
    refusals: Mapping[str, int],
) -> Tally:
    """Measures and counts from the run's counters (simulated or folded)."""
    ehr = metrics.ehr
    return Tally(
        measures=metrics.measures(),
        counts={
            "decisions": metrics.decisions,
            "allowed": metrics.allowed,
            "denied": metrics.denied,
            "delivered_items": metrics.delivered,
            # device identities; the pre-production tests' own certificates apart
            "certificates_issued": certificates.issued,
            "certificates_revoked": certificates.revoked,
            "test_certificates_issued": certificates.test_issued,
            "test_certificates_revoked": certificates.test_revoked,
            "enrollments": metrics.enrollments,
        },
        incidents_by_category=dict(sorted(metrics.incidents.items())),
        denials_by_reason=dict(sorted(metrics.denial_reasons.items())),
        preproduction_tests=dict(sorted(metrics.validation.items())),
        events=events,
        devices_registered=registered,
        enrollment_refusals_by_reason=dict(sorted(refusals.items())),
        tokens_refused_by_reason=None if ehr is None else dict(sorted(ehr.tokens_refused.items())),
        fhir_writes_refused_by_reason=(
            None if ehr is None else dict(sorted(ehr.writes_refused.items()))
        ),
        dicom_by_reason={} if metrics.dicom is None else metrics.dicom.by_reason(),
        check_denials_by_purpose=_by_purpose(metrics.check_denials),
    )


def _by_purpose(counts: Counter[tuple[str, str]]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for (purpose, reason), n in sorted(counts.items()):
        out.setdefault(purpose, {})[reason] = n
    return out


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One finished run as plain data.

    ``events`` can be read more than once, whole or by filter (an event log, or a
    file read lazily each time; a streamed log keeps only what a report reads,
    :mod:`testbed.report.needs`); ``not_measured`` maps each measure the run could
    not have to the reason (those are absent from the tally's measures); ``groups``
    maps each device to the group its plots row shows, in row order; ``window`` the
    first and last event times of a live run (its plots span them, not the
    scenario's timeline).
    """

    scenario: Scenario
    seed: int
    transport: Transport
    events: EventSource
    tally: Tally
    groups: Mapping[str, str]
    devices: int
    not_measured: Mapping[str, str] = field(default_factory=dict)
    window: tuple[datetime, datetime] | None = None
    #: where an interrupted run stopped (its report is partial); None: it ran to its end
    stopped_at: datetime | None = None
    #: every incident, one by one, in the order they opened
    incidents: tuple[Incident, ...] = ()

    @property
    def start(self) -> datetime:
        """Time zero of the plots: the scenario's start, or a live run's first event."""
        return self.scenario.start if self.window is None else self.window[0]

    @property
    def span(self) -> timedelta:
        """The time the plots cover: the scenario and its recovery window, or a live
        run's first to last event."""
        if self.window is None:
            return self.scenario.duration + self.scenario.recovery_window
        return self.window[1] - self.window[0]

    @property
    def faults(self) -> tuple[FaultSpec, ...]:
        """The faults injected: the scenario's in a simulation, none in a live run."""
        return self.scenario.faults if self.transport is Transport.SIMULATION else ()


def fleet_groups(scenario: Scenario) -> dict[str, str]:
    """Each fleet device's group, in file order (device ids as the simulation names them)."""
    return {
        group.device_id(i): group.group
        for group in scenario.fleet
        for i in range(1, group.count + 1)
    }


def closing_time(scenario: Scenario) -> datetime:
    """When the simulation's closing checks run: one second before the horizon."""
    horizon = scenario.duration + scenario.recovery_window
    return scenario.start + max(horizon - timedelta(seconds=1), timedelta(0))


def record_from_testbed(tb: Testbed) -> RunRecord:
    """The record of a finished simulation (measures as its :class:`Metrics` counted)."""
    m = tb.metrics
    m.enrollment_answers = tb.hospital.est.answers + m.operator_refusals
    m.decision_events = tb.log.recorded_of(*DECISION_KINDS)
    ca = tb.hospital.ca
    tests = {s for s, r in ca.records.items() if r.requester == TEST_REQUESTER}
    revoked_tests = sum(1 for s in ca.revocations if s in tests)
    certificates = CertificateCounts(
        issued=len(ca.records) - len(tests),
        revoked=len(ca.revocations) - revoked_tests,
        test_issued=len(tests),
        test_revoked=revoked_tests,
    )
    return RunRecord(
        scenario=tb.scenario,
        seed=tb.scenario.seed,
        transport=Transport.SIMULATION,
        events=tb.log,
        tally=tally_of(m, certificates, events=len(tb.log), registered=len(tb.hospital.inventory),
                       refusals=_refusals(tb.log.select(ENROLLMENT_REFUSALS))),
        groups={a.device_id: a.group for a in tb.agents},
        devices=len(tb.agents),
        stopped_at=tb.stopped_at,
        incidents=tuple(tb.incidents.incidents),
    )



def _refusals(events: Iterable[Event]) -> Counter[str]:
    """Enrollment refusals by reason (EST's and operators'), read from the kept log."""
    return Counter(str(e.data.get("reason")) for e in events)
