"""Measures and availability: downtime and incidents per device."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from testbed.decisions import Reason
from testbed.diagnosis import IncidentCategory
from testbed.metrics import Availability, Metrics
from testbed.verdicts import ValidationOutcome

T0 = datetime(2026, 1, 5, tzinfo=UTC)


def test_an_empty_run_measures_zero_and_full_coverage() -> None:
    measures = Metrics().measures()
    assert measures["audit_coverage"] == 1.0
    assert measures["fail_safe"] == 1.0
    assert measures["recovered"] == 1.0
    assert measures["unauthorized_access"] == 0
    assert measures["clinical_downtime_minutes"] == 0


def test_audit_coverage_is_events_over_decisions() -> None:
    metrics = Metrics(decisions=4, decision_events=3)
    assert metrics.measures()["audit_coverage"] == 0.75
    with_enrollment = Metrics(decisions=4, enrollment_answers=4, decision_events=6)
    assert with_enrollment.measures()["audit_coverage"] == 0.75


def test_fail_safe_fraction() -> None:
    metrics = Metrics()
    metrics.validation[ValidationOutcome.FAIL_SAFE] += 33
    metrics.validation[ValidationOutcome.FAIL_SILENT] += 3
    assert metrics.measures()["fail_safe"] == round(33 / 36, 6)


def test_onboarding_and_recovery_measures() -> None:
    metrics = Metrics(onboarding_seconds=[60.0, 600.0], recovery_checked=4, recovery_passed=3)
    assert metrics.measures()["onboarding_minutes_max"] == 10.0
    assert metrics.measures()["recovered"] == 0.75


def test_an_outage_counts_downtime_and_one_incident() -> None:
    metrics = Metrics()
    device = Availability(metrics)
    assert device.failed("ehr", Reason.CERT_EXPIRED, T0) is IncidentCategory.CERTIFICATE_INVALID
    assert device.down
    # the same service failing again is the same incident
    assert device.failed("ehr", Reason.CERT_EXPIRED, T0 + timedelta(minutes=5)) is None
    device.succeeded("ehr", T0 + timedelta(minutes=30))
    assert not device.down
    assert metrics.downtime_seconds == 1800
    assert metrics.incidents == {"certificate-invalid": 1}
    assert metrics.measures()["clinical_downtime_minutes"] == 30
    assert metrics.measures()["incidents"] == 1


def test_downtime_lasts_until_every_service_is_back() -> None:
    metrics = Metrics()
    device = Availability(metrics)
    device.failed("ehr", Reason.ROUTE_BLOCKED, T0)
    device.failed("pacs", Reason.SERVICE_UNAVAILABLE, T0 + timedelta(minutes=10))
    device.succeeded("ehr", T0 + timedelta(minutes=20))
    assert device.down
    assert metrics.downtime_seconds == 0
    device.succeeded("pacs", T0 + timedelta(minutes=60))
    assert metrics.downtime_seconds == 3600
    assert metrics.incidents == {"out-of-network-scope": 1, "service-unavailable": 1}


def test_success_without_an_outage_changes_nothing() -> None:
    metrics = Metrics()
    Availability(metrics).succeeded("ehr", T0)
    assert metrics.downtime_seconds == 0


def test_close_stops_the_clock_once() -> None:
    metrics = Metrics()
    device = Availability(metrics)
    device.failed("ehr", Reason.DEVICE_SUSPENDED, T0)
    device.close(T0 + timedelta(hours=2))
    device.close(T0 + timedelta(hours=5))
    assert metrics.downtime_seconds == 7200
    assert not device.down


def test_a_new_kind_of_refusal_in_one_outage_is_another_incident() -> None:
    """A route blocked, then the certificate expires while the device is still down:
    two incidents (the responder has two problems to fix), one stretch of downtime."""
    metrics = Metrics()
    device = Availability(metrics)
    assert device.failed("ehr", Reason.ROUTE_BLOCKED, T0) is IncidentCategory.OUT_OF_NETWORK_SCOPE
    assert device.failed("pacs", Reason.ROUTE_BLOCKED, T0) is None  # same kind, same incident
    later = T0 + timedelta(hours=2)
    assert device.failed("ehr", Reason.CERT_EXPIRED, later) is IncidentCategory.CERTIFICATE_INVALID
    assert device.failed("ehr", Reason.CERT_EXPIRED, later) is None
    device.succeeded("ehr", T0 + timedelta(hours=3))
    device.succeeded("pacs", T0 + timedelta(hours=3))
    assert metrics.incidents == {"out-of-network-scope": 1, "certificate-invalid": 1}
    assert metrics.downtime_seconds == 3 * 3600
    # a later outage of the same kind is a new incident
    device.failed("ehr", Reason.ROUTE_BLOCKED, T0 + timedelta(hours=5))
    assert metrics.incidents["out-of-network-scope"] == 2
