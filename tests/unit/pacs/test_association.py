"""Association decisions, one test per rule: each rejection reason, and the order."""

from __future__ import annotations

from datetime import timedelta

import pytest

from testbed.decisions import Hop, Reason
from testbed.events import EventKind
from testbed.lifecycle import LifecycleEvent
from testbed.pacs import TlsOffer, TlsProfile
from testbed.pacs.association import Rejection, rejection_of
from testbed.pacs.tls_profile import TlsVersion
from tests.conftest import NOW, Hospital
from tests.unit.pacs.builders import PACS_AE, Bed, make_bed


def _reason(bed: Bed, **request: object) -> Reason:
    now = request.pop("now", NOW)
    answer = bed.pacs.associate(bed.request(**request), now=now)  # type: ignore[arg-type]
    return answer.decision.reason


def test_an_enrolled_device_with_its_own_title_is_accepted(bed: Bed) -> None:
    answer = bed.pacs.associate(bed.request(), now=NOW)
    assert answer.accepted and answer.rejection is None
    association = answer.association
    assert association is not None
    assert (association.device_id, association.calling_ae) == ("ct-1", "APEXCT001")
    assert association.called_ae == PACS_AE and association.tls.version is TlsVersion.TLS1_3
    assert bed.pacs.open_associations == (association,)
    (event,) = bed.log.of_kind(EventKind.DICOM_ASSOCIATION)
    assert event.subject == "ct-1"
    assert event.data["allowed"] is True and event.data["reason"] == "ok"
    assert event.data["association"] == association.id and event.data["audit_code"] is None


@pytest.mark.parametrize(
    "offer",
    [TlsOffer.of(["tls1.0"]), TlsOffer.of(["tls1.0", "tls1.1"]), TlsOffer.of(["tls1.2"], ["rsa"]),
     TlsOffer.of(["tls1.2"], ["rsa", "ecdhe-cbc"])],
    ids=["tls1.0", "tls1.0-1.1", "rsa-only", "no-aead"],
)  # fmt: skip
def test_an_old_tls_profile_is_refused_by_a_bcp195_site(bed: Bed, offer: TlsOffer) -> None:
    answer = bed.pacs.associate(bed.request(tls=offer), now=NOW)
    assert answer.decision.reason is Reason.TLS_PROFILE_REFUSED
    assert answer.decision.hop is Hop.TLS and answer.association is None
    (event,) = bed.log.of_kind(EventKind.DICOM_ASSOCIATION)
    assert event.data["audit_code"] == "110113/110126"  # Security Alert / Node Authentication


def test_a_legacy_site_accepts_tls_1_0(bed: Bed) -> None:
    pacs = bed.build(profile=TlsProfile.LEGACY)
    answer = pacs.associate(bed.request(tls=TlsOffer.of(["tls1.0"], ["rsa"])), now=NOW)
    assert answer.accepted
    assert answer.association is not None and answer.association.tls.version is TlsVersion.TLS1_0


def test_a_missing_certificate_is_refused(bed: Bed) -> None:
    assert _reason(bed, cert=None) is Reason.CERT_MISSING


def test_an_expired_certificate_is_refused(bed: Bed) -> None:
    assert _reason(bed, now=NOW + timedelta(days=31)) is Reason.CERT_EXPIRED


def test_a_revoked_certificate_is_refused_once_the_crl_says_so(bed: Bed) -> None:
    bed.hospital.ca.revoke(bed.certs["ct-1"].serial_number, now=NOW)
    later = NOW + timedelta(hours=1)
    assert _reason(bed, now=later) is Reason.OK  # the published CRL does not list it yet
    bed.hospital.publish_crls(now=later)
    assert _reason(bed, now=later) is Reason.CERT_REVOKED


def test_a_certificate_from_another_ca_is_refused() -> None:
    bed, foreign = make_bed(), Hospital(seed=2)
    cert = foreign.onboard("ct-1")
    assert _reason(bed, cert=cert) is Reason.CERT_UNTRUSTED_AT_SITE


def test_no_crl_fails_closed() -> None:
    hospital = Hospital()
    certs = {d: hospital.onboard(d) for d in ("ct-1", "ct-2")}
    assert _reason(Bed(hospital, certs)) is Reason.REVOCATION_UNKNOWN


def test_a_stale_crl_fails_closed(bed: Bed) -> None:
    """The CRL the site holds past its nextUpdate (never refreshed, or a fault kept it
    from being published) tells nothing: revocation unknown, refused."""
    before = NOW + timedelta(days=6, hours=23)  # the CRL of NOW is good for 7 days
    assert _reason(bed, now=before) is Reason.OK
    assert _reason(bed, now=NOW + timedelta(days=7, hours=1)) is Reason.REVOCATION_UNKNOWN
    bed.hospital.publish_crls(now=NOW + timedelta(days=7, hours=1))  # fresh again
    assert _reason(bed, now=NOW + timedelta(days=7, hours=1)) is Reason.OK


def test_another_called_ae_title_is_refused(bed: Bed) -> None:
    answer = bed.pacs.associate(bed.request(called_ae="PACSSOUTH"), now=NOW)
    assert answer.decision.reason is Reason.CALLED_AE_UNKNOWN
    assert answer.rejection == Rejection(1, 1, 7)


def test_a_title_not_on_the_allow_list_is_refused(bed: Bed) -> None:
    answer = bed.pacs.associate(bed.request(calling_ae="STRANGER"), now=NOW)
    assert answer.decision.reason is Reason.AE_TITLE_NOT_ALLOWED
    assert answer.rejection == Rejection(1, 1, 3)
    (event,) = bed.log.of_kind(EventKind.DICOM_ASSOCIATION)
    assert event.subject == "pacs-north"  # no device is known by that title


def test_a_title_removed_from_the_allow_list_is_refused_next_time(bed: Bed) -> None:
    assert _reason(bed) is Reason.OK
    bed.pacs.replace_allow_list(bed.pacs.policy.allow_list.without("APEXCT001"))
    assert _reason(bed) is Reason.AE_TITLE_NOT_ALLOWED
    assert len(bed.pacs.open_associations) == 1  # the open one keeps its identity


def test_another_devices_title_is_refused_as_an_identity_mismatch(bed: Bed) -> None:
    answer = bed.pacs.associate(bed.request("ct-1", calling_ae="APEXCT002"), now=NOW)
    assert answer.decision.reason is Reason.IDENTITY_MISMATCH
    assert answer.device_id == "ct-2"
    (event,) = bed.log.of_kind(EventKind.DICOM_ASSOCIATION)
    assert event.data["audit_code"] == "110113/110126"


def test_a_superseded_certificate_is_refused(bed: Bed) -> None:
    old = bed.certs["ct-1"]
    later = NOW + timedelta(days=10)
    assert bed.hospital.reenroll("ct-1", old, now=later).certificate is not None
    bed.hospital.publish_crls(now=later)
    assert _reason(bed, now=later) is Reason.CERT_SUPERSEDED


def test_a_suspended_device_is_refused(bed: Bed) -> None:
    bed.hospital.transition("ct-1", LifecycleEvent.SUSPEND)
    assert _reason(bed) is Reason.DEVICE_SUSPENDED


def test_a_title_from_another_zone_is_refused(bed: Bed) -> None:
    assert _reason(bed, source=("north", "bedside")) is Reason.AE_TITLE_WRONG_ZONE
    assert _reason(bed, source=None) is Reason.AE_TITLE_WRONG_ZONE


def test_a_pacs_that_is_down_refuses_transiently(bed: Bed) -> None:
    bed.hospital.outages.begin("pacs-north")
    answer = bed.pacs.associate(bed.request(), now=NOW)
    assert answer.decision.reason is Reason.SERVICE_UNAVAILABLE
    assert answer.rejection == Rejection(2, 3, 1)
    bed.hospital.outages.end("pacs-north")
    assert _reason(bed) is Reason.OK


def test_the_handshake_decides_before_the_ae_titles(bed: Bed) -> None:
    bed.hospital.outages.begin("pacs-north")
    refused = {"cert": None, "calling_ae": "STRANGER", "called_ae": "ELSEWHERE"}
    assert _reason(bed, tls=TlsOffer.of(["tls1.0"]), **refused) is Reason.TLS_PROFILE_REFUSED
    assert _reason(bed, **refused) is Reason.CERT_MISSING
    refused.pop("cert")
    assert _reason(bed, **refused) is Reason.CALLED_AE_UNKNOWN
    refused.pop("called_ae")
    assert _reason(bed, **refused) is Reason.AE_TITLE_NOT_ALLOWED
    assert _reason(bed, calling_ae="APEXCT002", source=None) is Reason.IDENTITY_MISMATCH
    assert _reason(bed, source=None) is Reason.AE_TITLE_WRONG_ZONE
    assert _reason(bed) is Reason.SERVICE_UNAVAILABLE


def test_every_association_decision_writes_one_event(bed: Bed) -> None:
    for request in (bed.request(), bed.request(calling_ae="X"), bed.request(cert=None)):
        bed.pacs.associate(request, now=NOW)
    assert [e.data["reason"] for e in bed.log] == ["ok", "ae-title-not-allowed", "cert-missing"]


@pytest.mark.parametrize(
    ("reason", "expected"),
    [(Reason.CERT_REVOKED, Rejection(1, 1, 1)), (Reason.AE_TITLE_WRONG_ZONE, Rejection(1, 1, 3)),
     (Reason.TLS_PROFILE_REFUSED, Rejection(1, 1, 1))],
)  # fmt: skip
def test_each_refusal_has_its_a_associate_rj(reason: Reason, expected: Rejection) -> None:
    assert rejection_of(reason) == expected

