"""Expectations: specs as YAML writes them, checked against measures, with a reason."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from testbed.expectations import (
    DICOM_METRICS,
    EHR_METRICS,
    STORE_METRICS,
    Bound,
    ExpectationSpec,
    Metric,
    OneSpec,
    check,
    describe,
    evaluate,
)
from testbed.metrics import DicomCounts, EhrMeasures, Metrics

SPEC = TypeAdapter(ExpectationSpec)


@pytest.mark.parametrize(
    ("spec", "measured", "passed"),
    [
        (0.0, 0, True),
        (0.0, 1, False),
        (Bound(max=2), 2, True),
        (Bound(max=2), 3, False),
        (Bound(min=0.9), 0.9, True),
        (Bound(min=0.9), 0.89, False),
        (Bound(min=1, max=3), 2, True),
        (Bound(min=1, max=3), 0, False),
        (Bound(min=1, max=3), 4, False),
        ("all", 1.0, True),
        ("all", 0.97, False),
    ],
)
def test_check(spec: OneSpec, measured: float, passed: bool) -> None:
    result = check("renewals_missed", spec, measured)
    assert result.passed is passed
    assert result.measured == measured
    assert result.id == "renewals_missed"
    assert result.why.endswith("holds" if passed else "does not hold")
    assert ("does not hold" in result.why) is (not passed)


@pytest.mark.parametrize(
    ("spec", "text"),
    [(0.0, "== 0"), (0.5, "== 0.5"), (Bound(max=2), "<= 2"), (Bound(min=0.9), ">= 0.9"),
     (Bound(min=1, max=3), ">= 1 and <= 3"), ("all", "all")],
)
def test_describe(spec: OneSpec, text: str) -> None:
    assert describe(spec) == text


def test_the_reason_names_the_measure_and_the_expectation() -> None:
    result = check("data_lost", Bound(max=0), 12)
    assert result.why == "data_lost measured 12, expected <= 0: does not hold"
    assert result.to_dict() == {"id": "data_lost", "metric": "data_lost", "expected": "<= 0",
                                "measured": 12, "passed": False, "why": result.why}  # fmt: skip


def test_yaml_specs_validate() -> None:
    assert SPEC.validate_python(0) == 0
    assert SPEC.validate_python({"max": 2}) == Bound(max=2)
    assert SPEC.validate_python("all") == "all"


@pytest.mark.parametrize("bad", [{}, {"max": 1, "typo": 2}, "most", [1]])
def test_bad_specs_are_refused(bad: object) -> None:
    with pytest.raises(ValidationError):
        SPEC.validate_python(bad)


def test_evaluate_keeps_the_scenario_order() -> None:
    measures = Metrics().measures()
    specs = {"renewals_missed": Bound(max=0), "unauthorized_access": 0.0, "fail_safe": "all"}
    results = evaluate(specs, measures)  # type: ignore[arg-type]
    assert [r.id for r in results] == list(specs)
    assert all(r.passed for r in results)


def test_every_metric_is_measured() -> None:
    """Every metric with both blocks; the DICOM ones only with DICOM, the EHR ones only
    with the EHR, duplicates with either (and summed)."""
    everything = {m.value for m in Metric}
    dicom = {m.value for m in DICOM_METRICS}
    ehr = {m.value for m in EHR_METRICS}
    store = {m.value for m in STORE_METRICS}
    assert set(Metrics(dicom=DicomCounts(), ehr=EhrMeasures()).measures()) == everything
    assert set(Metrics(dicom=DicomCounts()).measures()) == everything - ehr
    assert set(Metrics(ehr=EhrMeasures()).measures()) == everything - dicom
    assert set(Metrics().measures()) == everything - dicom - ehr - store


def test_duplicates_sum_the_ehr_and_the_pacs() -> None:
    both = Metrics(dicom=DicomCounts(duplicates=2), ehr=EhrMeasures(duplicates=3))
    assert both.measures()["duplicates"] == 5
    assert Metrics(ehr=EhrMeasures(duplicates=3)).measures()["duplicates"] == 3
