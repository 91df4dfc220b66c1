"""Expectations: what a scenario says must hold, checked against the run's measures.

A spec in YAML is a bare number (must equal), ``{max: N}``, ``{min: N}``, or, for
``fail_safe``, the word ``all``.  Each check is an object with an id, the measured
value, a verdict and a sentence saying why (after the Inferno test kits).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar, Literal

from pydantic import ConfigDict, model_validator

__all__ = [
    "DICOM_METRICS",
    "EHR_METRICS",
    "STORE_METRICS",
    "Bound",
    "ExpectationResult",
    "ExpectationSpec",
    "Metric",
    "evaluate",
]


class Metric(StrEnum):
    """Measures a scenario can set expectations on (see :mod:`testbed.metrics`)."""

    UNAUTHORIZED_ACCESS = "unauthorized_access"
    DATA_LOST = "data_lost"
    CLINICAL_DOWNTIME_MINUTES = "clinical_downtime_minutes"
    RENEWALS_DONE = "renewals_done"
    RENEWALS_MISSED = "renewals_missed"
    MANUAL_STEPS = "manual_steps"
    ONBOARDING_MINUTES_MAX = "onboarding_minutes_max"
    DEVICES_IN_PRODUCTION = "devices_in_production"
    DEVICES_OFFBOARDED = "devices_offboarded"
    AUDIT_COVERAGE = "audit_coverage"
    FAIL_SAFE = "fail_safe"
    INCIDENTS = "incidents"
    STALE_ACCESS_AFTER_OFFBOARDING = "stale_access_after_offboarding"
    DRIFT_ALERTS = "drift_alerts"
    RECOVERED = "recovered"
    DATA_HELD_AT_END = "data_held_at_end"
    # the identity provider and the EHR (a scenario with an ``ehr`` block)
    TOKENS_GRANTED = "tokens_granted"
    TOKENS_REFUSED = "tokens_refused"
    TOKEN_GRANT_LATENCY_MAX_SECONDS = "token_grant_latency_max_seconds"
    TOKEN_GRANT_LATENCY_MEAN_SECONDS = "token_grant_latency_mean_seconds"
    FHIR_WRITES_ACCEPTED = "fhir_writes_accepted"
    FHIR_WRITES_REFUSED = "fhir_writes_refused"
    UNAUTHORIZED_WRITES = "unauthorized_writes"
    # DICOM (issue 12): measured only in a scenario with a ``dicom:`` block
    DICOM_ASSOCIATIONS_ACCEPTED = "dicom_associations_accepted"
    DICOM_ASSOCIATIONS_REFUSED = "dicom_associations_refused"
    DICOM_INSTANCES_STORED = "dicom_instances_stored"
    DICOM_STORES_REFUSED = "dicom_stores_refused"
    DICOM_RETRIES_ANSWERED = "dicom_retries_answered"
    UNAUTHORIZED_STORES = "unauthorized_stores"
    STUDIES_STORED = "studies_stored"
    STUDIES_QUEUED = "studies_queued"
    STUDY_WAIT_MAX_MINUTES = "study_wait_max_minutes"
    # second copies of one item: FHIR creates (``ehr``) and C-STOREs (``dicom``) summed
    DUPLICATES = "duplicates"


EHR_METRICS = frozenset({
    Metric.TOKENS_GRANTED, Metric.TOKENS_REFUSED, Metric.TOKEN_GRANT_LATENCY_MAX_SECONDS,
    Metric.TOKEN_GRANT_LATENCY_MEAN_SECONDS, Metric.FHIR_WRITES_ACCEPTED,
    Metric.FHIR_WRITES_REFUSED, Metric.UNAUTHORIZED_WRITES,
})  # fmt: skip
"""The measures of the identity provider and the EHR (a scenario with an ``ehr:`` block)."""

DICOM_METRICS = frozenset({
    Metric.DICOM_ASSOCIATIONS_ACCEPTED, Metric.DICOM_ASSOCIATIONS_REFUSED,
    Metric.DICOM_INSTANCES_STORED, Metric.DICOM_STORES_REFUSED, Metric.DICOM_RETRIES_ANSWERED,
    Metric.UNAUTHORIZED_STORES, Metric.STUDIES_STORED,
    Metric.STUDIES_QUEUED, Metric.STUDY_WAIT_MAX_MINUTES,
})  # fmt: skip
"""The measures of DICOM traffic (a scenario with a ``dicom:`` block)."""

STORE_METRICS = frozenset({Metric.DUPLICATES})
"""Measured when the run writes to the EHR or the PACS (``ehr:`` or ``dicom:``)."""


@dataclass(frozen=True, slots=True)
class Bound:
    """``{min: N}`` and/or ``{max: N}``."""

    __pydantic_config__: ClassVar[ConfigDict] = ConfigDict(
        extra="forbid", use_attribute_docstrings=True
    )

    min: float | None = None
    """The measure must be at least this."""
    max: float | None = None
    """The measure must be at most this."""

    @model_validator(mode="after")
    def _one_side(self) -> Bound:
        if self.min is None and self.max is None:
            raise ValueError("a bound with 'min', 'max' or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"'min' at most 'max' (min {self.min:g} > max {self.max:g})")
        return self


ExpectationSpec = float | Bound | Literal["all"]


@dataclass(frozen=True, slots=True)
class ExpectationResult:
    """One checked expectation."""

    id: str
    expected: str
    measured: float
    passed: bool
    why: str

    def to_dict(self) -> dict[str, object]:
        """JSON-ready."""
        return {
            "id": self.id,
            "expected": self.expected,
            "measured": self.measured,
            "passed": self.passed,
            "why": self.why,
        }


def describe(spec: ExpectationSpec) -> str:
    """The expectation as a person reads it."""
    if spec == "all":
        return "all"
    if isinstance(spec, Bound):
        parts = [f">= {_num(spec.min)}" if spec.min is not None else ""]
        parts.append(f"<= {_num(spec.max)}" if spec.max is not None else "")
        return " and ".join(p for p in parts if p)
    return f"== {_num(spec)}"


def check(metric: str, spec: ExpectationSpec, measured: float) -> ExpectationResult:
    """Compare one measure with its expectation and say why it passed or failed."""
    target = 1.0 if spec == "all" else spec
    if isinstance(target, Bound):
        low_ok = target.min is None or measured >= target.min
        high_ok = target.max is None or measured <= target.max
        passed = low_ok and high_ok
    else:
        passed = measured == target
    verdict = "holds" if passed else "does not hold"
    if spec == "all":
        why = f"{metric}: the fraction that held is {_num(measured)}; expected all (1): {verdict}"
    else:
        why = f"{metric} measured {_num(measured)}, expected {describe(spec)}: {verdict}"
    return ExpectationResult(metric, describe(spec), measured, passed, why)


def evaluate(
    specs: Mapping[Metric, ExpectationSpec] | Mapping[str, ExpectationSpec],
    measures: Mapping[str, float],
) -> list[ExpectationResult]:
    """Check every expectation in the scenario's order."""
    return [check(name, spec, measures[name]) for name, spec in specs.items()]


def _num(value: float | None) -> str:
    if value is None:
        return "-"
    return str(int(value)) if float(value).is_integer() else f"{value:.4g}"
