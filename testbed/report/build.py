"""Gather a finished run into a :class:`Report` (the contents of ``report.json``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from testbed.clock import isoformat
from testbed.events import EventKind
from testbed.expectations import ExpectationResult, evaluate
from testbed.sim.preproduction import TEST_REQUESTER
from testbed.units import format_duration

if TYPE_CHECKING:
    from testbed.core import Testbed

__all__ = ["Report", "build_report"]

#: the events decisions write: access decisions, and enrollment answers (issued,
#: renewed or refused) by the EST service or an operator
_DECISION_KINDS = (
    EventKind.ACCESS_DECISION,
    EventKind.CERTIFICATE_ISSUED,
    EventKind.CERTIFICATE_RENEWED,
    EventKind.ENROLLMENT_REFUSED,
)


@dataclass(frozen=True, slots=True)
class Report:
    """Measures, expectations and context of one run."""

    scenario: str
    seed: int
    measures: dict[str, float]
    expectations: tuple[ExpectationResult, ...]
    data: dict[str, Any]

    @property
    def passed(self) -> bool:
        """Whether every expectation holds."""
        return all(e.passed for e in self.expectations)

    def to_dict(self) -> dict[str, Any]:
        """The whole report as JSON-ready data."""
        return {
            "scenario": self.scenario,
            "seed": self.seed,
            "passed": self.passed,
            "measures": self.measures,
            "expectations": [e.to_dict() for e in self.expectations],
            **self.data,
        }

    def to_json(self) -> str:
        """Stable JSON text (sorted keys, fixed indentation)."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    def _repr_html_(self) -> str:
        from testbed.report.html import summary_html

        return summary_html(self)


def build_report(tb: Testbed) -> Report:
    """Measure the finished run and check the scenario's expectations."""
    m = tb.metrics
    m.enrollment_answers = tb.est.answers + m.operator_refusals
    m.decision_events = tb.log.kept_of(*_DECISION_KINDS)
    measures = m.measures()
    results = tuple(evaluate(tb.scenario.expectations, measures))
    sc = tb.scenario
    tests = {s for s, r in tb.ca.records.items() if r.requester == TEST_REQUESTER}
    revoked_tests = sum(1 for s in tb.ca.revocations if s in tests)
    data = {
        "description": sc.description,
        "start": isoformat(sc.start),
        "duration": format_duration(sc.duration),
        "recovery_window": format_duration(sc.recovery_window),
        "fidelity": sc.fidelity.value,  # the declared level the run's artefacts had
        "devices": len(tb.agents),
        "events": len(tb.log),
        "counts": {
            "decisions": m.decisions,
            "allowed": m.allowed,
            "denied": m.denied,
            "delivered_items": m.delivered,
            # device identities; the pre-production tests' own certificates apart
            "certificates_issued": len(tb.ca.records) - len(tests),
            "certificates_revoked": len(tb.ca.revocations) - revoked_tests,
            "test_certificates_issued": len(tests),
            "test_certificates_revoked": revoked_tests,
            "enrollments": m.enrollments,
        },
        "incidents_by_category": dict(sorted(m.incidents.items())),
        "denials_by_reason": dict(sorted(m.denial_reasons.items())),
        "preproduction_tests": dict(sorted(m.validation.items())),
        "faults": [_fault(f, sc.start) for f in sc.faults],
    }
    return Report(sc.name, sc.seed, measures, results, data)


def _fault(fault: Any, start: Any) -> dict[str, Any]:
    return {
        "kind": fault.kind,
        "target": getattr(fault, "target", "ca"),
        "start": isoformat(start + fault.start),
        "end": isoformat(start + fault.end),
    }
