"""Expectations: what a scenario says must hold, checked against the run's measures.

A spec in YAML is a bare number (must equal), ``{max: N}``, ``{min: N}``, or, for
``fail_safe``, the word ``all``.  Each check is an object with an id, the measured
value, a verdict and a sentence saying why (after the Inferno test kits).

A bound may be *scoped*: ``data_lost: {max: 0, where: {site: north}}`` holds for the
devices the :class:`Scope` selects (site, zone, profile, group or device; several keys:
all of them), measured from the run's per-device story.  Only the measures a device
contributes to can be scoped (:data:`SCOPED_METRICS`).  A bound may carry a stable
``id`` (default: the measure, and ``@key=value`` for each selector) and a
``description``; a measure may have a list of bounds (several scopes).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Annotated, ClassVar, Literal

from pydantic import ConfigDict, Field, model_validator

__all__ = [
    "DICOM_METRICS",
    "EHR_METRICS",
    "SCOPED_METRICS",
    "STORE_METRICS",
    "Bound",
    "Expectation",
    "ExpectationResult",
    "ExpectationSpec",
    "Metric",
    "OneSpec",
    "Scope",
    "entries",
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


SCOPED_METRICS: Mapping[Metric, str] = {
    Metric.DATA_LOST: "data_lost",
    Metric.CLINICAL_DOWNTIME_MINUTES: "downtime_minutes",
    Metric.INCIDENTS: "incidents",
    Metric.RENEWALS_MISSED: "renewals_missed",
    Metric.UNAUTHORIZED_ACCESS: "unauthorized_access",
}
"""The measures an expectation can scope, and the per-device measure of the run's
story (:data:`testbed.report.story.DEVICE_MEASURES`) each is summed from."""

_ID = r"^[A-Za-z0-9][A-Za-z0-9_.@=,-]*$"


@dataclass(frozen=True, slots=True)
class Scope:
    """The devices a scoped expectation is about: those matching every key given."""

    __pydantic_config__: ClassVar[ConfigDict] = ConfigDict(
        extra="forbid", use_attribute_docstrings=True
    )

    site: str | None = None
    """Devices at this site."""
    zone: str | None = None
    """Devices in this zone (at any site, unless site is given too)."""
    profile: str | None = None
    """Devices of this profile."""
    group: str | None = None
    """Devices of this fleet group."""
    device: str | None = None
    """This one device (its id)."""

    @model_validator(mode="after")
    def _some(self) -> Scope:
        if not self.selectors():
            raise ValueError("a scope with at least one of site, zone, profile, group, device")
        return self

    def selectors(self) -> dict[str, str]:
        """The keys given and their values, in the order of the fields."""
        return {f.name: v for f in fields(self) if (v := getattr(self, f.name)) is not None}

    def matches(self, device: str, attributes: Mapping[str, str]) -> bool:
        """Whether ``device`` (with its site, zone, profile and group) is in scope."""
        here = {**attributes, "device": device}
        return all(here.get(key) == value for key, value in self.selectors().items())

    def text(self) -> str:
        """``site=north,zone=bedside``."""
        return ",".join(f"{k}={v}" for k, v in self.selectors().items())


@dataclass(frozen=True, slots=True)
class Bound:
    """``{min: N}`` and/or ``{max: N}``; optionally scoped (``where``), with a stable
    ``id`` and a ``description``."""

    __pydantic_config__: ClassVar[ConfigDict] = ConfigDict(
        extra="forbid", use_attribute_docstrings=True
    )

    min: float | None = None
    """The measure must be at least this."""
    max: float | None = None
    """The measure must be at most this."""
    where: Scope | None = None
    """Only the devices this selects (a measure counted per device; see docs/measures.md)."""
    id: Annotated[str | None, Field(pattern=_ID)] = None
    """A stable id for reports and JUnit (default: the measure, @key=value per selector)."""
    description: str = ""
    """What the expectation is for, in words (shown with it in the report)."""

    @model_validator(mode="after")
    def _one_side(self) -> Bound:
        if self.min is None and self.max is None:
            raise ValueError("a bound with 'min', 'max' or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"'min' at most 'max' (min {self.min:g} > max {self.max:g})")
        return self


OneSpec = float | Bound | Literal["all"]
"""One bound on a measure."""

ExpectationSpec = OneSpec | tuple[Bound, ...]
"""What a scenario writes for a measure: one bound, or a list of (scoped) bounds."""


@dataclass(frozen=True, slots=True)
class Expectation:
    """One expectation of a scenario: its id, its measure and its bound."""

    id: str
    metric: str
    spec: OneSpec
    #: where it sits in the file (``expectations.data_lost`` or ``...data_lost[1]``)
    field: str

    @property
    def where(self) -> Scope | None:
        """The scope of a scoped bound, else None."""
        return self.spec.where if isinstance(self.spec, Bound) else None


def entries(
    specs: Mapping[Metric, ExpectationSpec] | Mapping[str, ExpectationSpec],
) -> Iterator[Expectation]:
    """Every expectation of ``specs`` (a list of bounds: one each), in file order."""
    for metric, spec in specs.items():
        many = isinstance(spec, tuple)
        for i, one in enumerate(spec if isinstance(spec, tuple) else (spec,)):
            field = f"expectations.{metric}" + (f"[{i}]" if many else "")
            yield Expectation(_id(str(metric), one), str(metric), one, field)


def _id(metric: str, spec: OneSpec) -> str:
    if not isinstance(spec, Bound):
        return metric
    if spec.id is not None:
        return spec.id
    return metric if spec.where is None else f"{metric}@{spec.where.text()}"


@dataclass(frozen=True, slots=True)
class ExpectationResult:
    """One checked expectation (``metric``: its measure, ``where``: its scope)."""

    id: str
    expected: str
    measured: float
    passed: bool
    why: str
    metric: str = ""
    where: dict[str, str] | None = None
    description: str = ""

    @property
    def measure(self) -> str:
        """The measure it is about (its id, for an expectation made without one)."""
        return self.metric or self.id

    def to_dict(self) -> dict[str, object]:
        """JSON-ready."""
        out: dict[str, object] = {
            "id": self.id,
            "metric": self.measure,
            "expected": self.expected,
            "measured": self.measured,
            "passed": self.passed,
            "why": self.why,
        }
        if self.where is not None:
            out["where"] = self.where
        if self.description:
            out["description"] = self.description
        return out


def describe(spec: OneSpec) -> str:
    """The expectation as a person reads it."""
    if spec == "all":
        return "all"
    if isinstance(spec, Bound):
        parts = [f">= {_num(spec.min)}" if spec.min is not None else ""]
        parts.append(f"<= {_num(spec.max)}" if spec.max is not None else "")
        return " and ".join(p for p in parts if p)
    return f"== {_num(spec)}"


def check(metric: str, spec: OneSpec, measured: float) -> ExpectationResult:
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


ScopedMeasure = Callable[[str, Scope], float]
"""The value of a measure over the devices of a scope (the report's per-device story)."""


def evaluate(
    specs: Mapping[Metric, ExpectationSpec] | Mapping[str, ExpectationSpec],
    measures: Mapping[str, float],
    scoped: ScopedMeasure | None = None,
) -> list[ExpectationResult]:
    """Check every expectation in the scenario's order: on the run's measure, or, for a
    scoped one, on ``scoped(metric, scope)``."""
    results = []
    for one in entries(specs):
        where = one.where
        if where is None:
            result = check(one.metric, one.spec, measures[one.metric])
        else:
            if scoped is None:
                raise ValueError(f"{one.id}: a scoped expectation needs the per-device measures")
            result = check(f"{one.metric} where {where.text()}", one.spec,
                           scoped(one.metric, where))  # fmt: skip
        description = one.spec.description if isinstance(one.spec, Bound) else ""
        results.append(ExpectationResult(
            one.id, result.expected, result.measured, result.passed, result.why,
            metric=one.metric, where=None if where is None else where.selectors(),
            description=description,
        ))  # fmt: skip
    return results


def _num(value: float | None) -> str:
    if value is None:
        return "-"
    return str(int(value)) if float(value).is_integer() else f"{value:.4g}"
