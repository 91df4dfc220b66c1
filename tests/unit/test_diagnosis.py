"""The incident playbook reads reasons: every denial reason has a category."""

from __future__ import annotations

import pytest

from testbed.decisions import Decision, Hop, Reason
from testbed.diagnosis import CATEGORY_OF, IncidentCategory, diagnose

DENIALS = [r for r in Reason if r is not Reason.OK]


@pytest.mark.parametrize("reason", DENIALS, ids=str)
def test_every_denial_reason_has_a_category(reason: Reason) -> None:
    assert isinstance(diagnose(reason), IncidentCategory)


def test_an_allowance_is_not_an_incident() -> None:
    with pytest.raises(ValueError, match="not an incident"):
        diagnose(Reason.OK)


@pytest.mark.parametrize(
    ("reason", "category"),
    [
        (Reason.CERT_EXPIRED, IncidentCategory.CERTIFICATE_INVALID),
        (Reason.CERT_UNTRUSTED_AT_SITE, IncidentCategory.CERTIFICATE_INVALID),
        (Reason.ROUTE_BLOCKED, IncidentCategory.OUT_OF_NETWORK_SCOPE),
        (Reason.TOKEN_EXPIRED, IncidentCategory.TOKEN_EXPIRED),
        (Reason.CA_UNAVAILABLE, IncidentCategory.SERVICE_UNAVAILABLE),
        (Reason.DEVICE_RETIRED, IncidentCategory.DEVICE_NOT_AUTHORIZED),
        # DICOM (issue 12): the PACS moved; a certificate or TLS the PACS refuses
        (Reason.CALLED_AE_UNKNOWN, IncidentCategory.DICOM_ENDPOINT_CHANGED),
        (Reason.DICOM_PORT_CLOSED, IncidentCategory.DICOM_ENDPOINT_CHANGED),
        (Reason.AE_TITLE_NOT_ALLOWED, IncidentCategory.ENDPOINT_CHANGED),
        (Reason.TLS_PROFILE_REFUSED, IncidentCategory.CERTIFICATE_INVALID),
    ],
)
def test_the_seed_questions(reason: Reason, category: IncidentCategory) -> None:
    assert diagnose(reason) is category


def test_every_category_is_reachable() -> None:
    assert set(CATEGORY_OF.values()) == set(IncidentCategory)
    assert Reason.OK not in CATEGORY_OF


def test_a_denial_needs_a_reason() -> None:
    with pytest.raises(ValueError, match="other than 'ok'"):
        Decision.deny(Reason.OK, Hop.TLS)
    assert Decision.deny(Reason.CERT_MISSING, Hop.TLS).allowed is False
    assert Decision.allow(Hop.SERVICE).reason is Reason.OK
