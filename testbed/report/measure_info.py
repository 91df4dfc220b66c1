"""What each measure is: its unit, a one-line definition, and a reading for people.

``docs/measures.md`` defines every measure at length; the report shows each value with
its unit, a human reading (``6,080 device-minutes = 4.2 days``, ``91.7%``) and the
one-line definition here.  A test keeps this table and the measures the runs produce
the same set, and every measure named in ``docs/measures.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

__all__ = ["MEASURES", "MeasureInfo", "reading"]


@dataclass(frozen=True, slots=True)
class MeasureInfo:
    """A measure's unit (``share``: a fraction from 0 to 1) and one-line definition."""

    unit: str
    definition: str


_M = MeasureInfo
MEASURES = MappingProxyType({
    "unauthorized_access": _M("decisions", "allowances the ground truth says should not "
                              "have happened (revoked, expired, not issued, not active)"),
    "stale_access_after_offboarding": _M("decisions", "the unauthorized allowances granted "
                                         "to offboarded devices"),
    "data_lost": _M("items", "clinical items that will never be delivered"),
    "data_held_at_end": _M("items", "items devices still held, undelivered, when the run ended"),
    "clinical_downtime_minutes": _M("device-minutes", "time devices could not deliver to "
                                    "every intended service"),
    "renewals_done": _M("renewals", "certificates renewed"),
    "renewals_missed": _M("certificates", "certificates that expired before their renewal"),
    "manual_steps": _M("steps", "operator actions that did something"),
    "onboarding_minutes_max": _M("minutes", "the longest time from registration to "
                                 "production"),
    "devices_in_production": _M("devices", "devices in production at the end"),
    "devices_offboarded": _M("devices", "devices offboarded with all four steps"),
    "audit_coverage": _M("share", "decisions with an audit event, over all decisions"),
    "fail_safe": _M("share", "pre-production failure tests that failed safe"),
    "incidents": _M("incidents", "incidents opened: one per category of refusal in one "
                    "device's outage"),
    "drift_alerts": _M("alerts", "new disagreements found by the drift scans"),
    "recovered": _M("share", "devices in service whose every service allows them at the end"),
    # with an ``ehr`` block (the identity provider and the EHR)
    "tokens_granted": _M("tokens", "access tokens the identity provider granted"),
    "tokens_refused": _M("requests", "token requests the identity provider refused"),
    "token_grant_latency_max_seconds": _M("seconds", "the longest wait of a device for a "
                                          "token (simulation time)"),
    "token_grant_latency_mean_seconds": _M("seconds", "the mean wait of a device for a token"),
    "fhir_writes_accepted": _M("writes", "FHIR creates the EHR accepted (201, or 200 for a "
                               "retry it already held)"),
    "fhir_writes_refused": _M("writes", "FHIR creates the EHR refused"),
    "duplicates": _M("items", "items stored twice: FHIR creates and DICOM instances (must "
                     "be 0)"),
    "unauthorized_writes": _M("writes", "accepted FHIR creates the ground truth says should "
                              "not have been"),
    "dicom_associations_accepted": _M("associations", "A-ASSOCIATE requests a PACS "
                                      "accepted"),
    "dicom_associations_refused": _M("associations", "A-ASSOCIATE requests refused, at the "
                                     "network or by the PACS"),
    "dicom_instances_stored": _M("instances", "new instances a PACS kept"),
    "dicom_stores_refused": _M("instances", "C-STORE requests a PACS refused"),
    "dicom_retries_answered": _M("instances", "instances sent again after a lost answer, "
                                 "answered success without a second copy"),
    "unauthorized_stores": _M("instances", "instances a PACS kept that the ground truth "
                              "says it should not have"),
    "studies_stored": _M("studies", "studies every instance of which a PACS stored"),
    "studies_queued": _M("studies", "studies that waited on the device at least once"),
    "study_wait_max_minutes": _M("minutes", "the longest time from a study being made to "
                                 "its last instance stored"),
})  # fmt: skip
"""Every measure a report can hold."""

_MINUTE_UNITS = frozenset({"minutes", "device-minutes"})


def reading(name: str, value: float) -> str:
    """The value as a person reads it, with its unit: ``6,080 device-minutes = 4.2
    days``, ``91.7%``, ``1,506,560 decisions``."""
    info = MEASURES.get(name)
    unit = "" if info is None else info.unit
    if unit == "share":
        return f"{value * 100:.1f}%".replace(".0%", "%")
    number = f"{int(value):,}" if float(value).is_integer() else f"{value:,.2f}"
    if value == 1 and unit.endswith("s"):
        unit = unit[:-1]  # 1 device, 1 item, 1 device-minute
    text = f"{number} {unit}".rstrip()
    if unit in _MINUTE_UNITS and value >= 120:
        days, hours = value / 1440, value / 60
        text += f" = {days:.1f} days" if value >= 2 * 1440 else f" = {hours:.1f} h"
    return text
