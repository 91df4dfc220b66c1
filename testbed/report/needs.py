"""The events a report reads from a run's log, as filters.

A simulation that streams its log to ``events.jsonl`` keeps in memory only these
(:data:`REPORT_EVENTS`), since the file holds the rest: the plots' certificate
lifecycle marks and refused clinical traffic, and the enrollment refusals the
record counts by reason.  Every other count a report gives comes from the run's
:class:`~testbed.metrics.Metrics` or from the log's counts by kind.
"""

from __future__ import annotations

from testbed.events import EventFilter, EventKind
from testbed.offboard import OFFBOARDING_STEPS

__all__ = [
    "ENROLLMENT_REFUSALS", "LIFECYCLE", "REBOOTSTRAP", "REFUSED_TRAFFIC", "REPORT_EVENTS",
    "REVOKE_STEP", "STORY_EVENTS",
]  # fmt: skip

REVOKE_STEP = OFFBOARDING_STEPS[0]
"""The offboarding step whose event lists the serials the offboarding revoked."""

REBOOTSTRAP = EventFilter.of(EventKind.POLICY_CHANGED, change="re-bootstrap")
"""An operator gave a device a fresh bootstrap secret (a re-bootstrap)."""

LIFECYCLE = (
    EventFilter.of(
        EventKind.CERTIFICATE_ISSUED,
        EventKind.CERTIFICATE_RENEWED,
        EventKind.CERTIFICATE_EXPIRED,
        EventKind.CERTIFICATE_REVOKED,
    ),
    EventFilter.of(EventKind.OFFBOARDING_STEP, step=REVOKE_STEP),
    REBOOTSTRAP,
)
"""The certificate lifecycle plot's events."""

REFUSED_TRAFFIC = (
    EventFilter.of(EventKind.ACCESS_DECISION, allowed=False, purpose="traffic"),
    EventFilter.of(EventKind.ACCESS_DECISION, allowed=False, purpose="fhir-request"),
)
"""The denied clinical traffic plot's events: deliveries and FHIR requests refused at
the access point (``testbed.metrics.CLINICAL_PURPOSES``)."""

ENROLLMENT_REFUSALS = EventFilter.of(EventKind.ENROLLMENT_REFUSED)
"""Counted by reason in ``report.json``."""

STORY_EVENTS = (
    *REFUSED_TRAFFIC,
    EventFilter.of(EventKind.DATA_LOST),
    EventFilter.of(EventKind.RENEWAL_MISSED),
    EventFilter.of(EventKind.UNAUTHORIZED_ACCESS),
)
"""What the story of a run counts per device (testbed.report.story)."""

REPORT_EVENTS = (*LIFECYCLE, *STORY_EVENTS, ENROLLMENT_REFUSALS)
"""Everything a report reads from a run's log."""
