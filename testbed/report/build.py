"""Gather a run record into a :class:`Report` (the contents of ``report.json``)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from testbed.clock import isoformat
from testbed.expectations import ExpectationResult, evaluate
from testbed.faults import FaultSpec
from testbed.report.record import RunRecord
from testbed.report.story import breakdowns, fault_effects, incident_list, scoped_measure
from testbed.scenario import Scenario
from testbed.units import format_duration

__all__ = ["Report", "build_report"]


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


def build_report(record: RunRecord) -> Report:
    """The report of a run: its measures, and the scenario's expectations checked on
    those it has (an expectation on a measure the run could not have is left out;
    ``not_measured`` says why)."""
    sc, tally = record.scenario, record.tally
    measures = tally.measures
    specs = {k: v for k, v in sc.expectations.items() if k in measures}
    results = tuple(evaluate(specs, measures, scoped_measure(record)))
    data: dict[str, Any] = {
        "description": sc.description,
        "start": isoformat(sc.start),
        "duration": format_duration(sc.duration),
        "recovery_window": format_duration(sc.recovery_window),
        "fidelity": sc.fidelity.value,  # the declared level the run's artefacts had
        "devices": record.devices,
        "events": tally.events,
        "counts": tally.counts,
        "incidents_by_category": tally.incidents_by_category,
        "denials_by_reason": tally.denials_by_reason,
        "check_denials_by_purpose": tally.check_denials_by_purpose,
        "preproduction_tests": tally.preproduction_tests,
        "devices_registered": tally.devices_registered,
        "enrollment_refusals_by_reason": tally.enrollment_refusals_by_reason,
        "faults": [_fault(f, sc.start) for f in record.faults],
    }
    if tally.tokens_refused_by_reason is not None:  # an ``ehr`` block: the IdP and EHR
        data["tokens_refused_by_reason"] = tally.tokens_refused_by_reason
        data["fhir_writes_refused_by_reason"] = tally.fhir_writes_refused_by_reason or {}
    if tally.dicom_by_reason:
        data["dicom_by_reason"] = tally.dicom_by_reason
    if record.not_measured:
        data["not_measured"] = dict(record.not_measured)
        data["transport"] = record.transport.value
    data["provenance"] = provenance(record)
    data["fault_effects"] = fault_effects(record)
    data["incidents"] = incident_list(record)
    data["breakdowns"] = breakdowns(record)
    if record.stopped_at is not None:
        data["incomplete"] = {
            "stopped_at": isoformat(record.stopped_at),
            "reason": "interrupted: the run stopped before the scenario's end, so the "
                      "measures cover only the time before it",
        }  # fmt: skip
    return Report(sc.name, record.seed, measures, results, data)


def provenance(record: RunRecord) -> dict[str, Any]:
    """What made this report: the tool and its version, the scenario (SHA-256 of its
    validated content as canonical JSON, so the same scenario however it is written or
    given; where its files lie is not content: the profile directory and a design's
    path are left out, a design by its name), the seed, the fidelity level and the
    transport."""
    content = TypeAdapter(Scenario).dump_python(record.scenario, mode="json")
    content.pop("profiles_dir", None)
    if content.get("design") is not None:
        content["design"] = Path(str(content["design"])).stem
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"))
    return {
        "tool": DISTRIBUTION,
        "version": _version(),
        "scenario": record.scenario.name,
        "scenario_sha256": hashlib.sha256(canonical.encode()).hexdigest(),
        "seed": record.seed,
        "fidelity": record.scenario.fidelity.value,
        "transport": record.transport.value,
    }


DISTRIBUTION = "hospital-device-identity-testbed"


def _version() -> str:
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:  # run from a source tree that is not installed
        return "unknown"


def _fault(fault: FaultSpec, start: datetime) -> dict[str, Any]:
    return {
        "kind": fault.kind,
        "target": getattr(fault, "target", "ca"),
        "start": isoformat(start + fault.start),
        "end": isoformat(start + fault.end),
    }
