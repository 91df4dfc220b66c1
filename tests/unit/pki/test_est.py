"""EST (RFC 7030) core: enroll, re-enroll, and every refusal (nothing issued on refusal)."""

from __future__ import annotations

import base64
import random
import subprocess
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID

from testbed.decisions import Reason
from testbed.events import EventKind, EventLog
from testbed.pki import (
    CERTS_ONLY,
    EnrollmentSubject,
    EstResponse,
    EstService,
    KeyType,
    make_csr,
    new_private_key,
)

NOW = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
PKCS10 = "application/pkcs10"
CREDENTIALS = ("pump-1", "s3cret")


@dataclass
class Directory:
    """An in-memory enrollment directory."""

    subjects: dict[str, EnrollmentSubject] = field(default_factory=dict)
    secrets: dict[tuple[str, str], str] = field(default_factory=dict)
    issued: list[tuple[str, int, bool]] = field(default_factory=list)

    def subject(self, device_id: str) -> EnrollmentSubject | None:
        return self.subjects.get(device_id)

    def bootstrap_device(self, username: str, password: str) -> str | None:
        return self.secrets.get((username, password))

    def current_serial(self, device_id: str) -> int | None:
        held = [serial for device, serial, _ in self.issued if device == device_id]
        return held[-1] if held else None

    def on_issued(
        self, device_id: str, certificate: x509.Certificate, *, now: datetime, renewal: bool
    ) -> None:
        self.issued.append((device_id, certificate.serial_number, renewal))


PUMP = EnrollmentSubject(
    device_id="pump-1",
    site="north",
    services=("fhir",),
    owner="biomed",
    lifetime=timedelta(hours=24),
    on_expiry="renew",
    may_enroll=True,
    approved=True,
    key_type="ec-p256",
)


@pytest.fixture
def est(make_ca):
    """A fresh EST service over a fresh CA, with pump-1 registered and an event log."""
    directory = Directory(subjects={"pump-1": PUMP}, secrets={CREDENTIALS: "pump-1"})
    return EstService(ca=make_ca(51), directory=directory, log=EventLog())


@pytest.fixture(scope="module")
def key():
    return new_private_key(KeyType.EC_P256, random.Random(52))


def _body(key, common_name: str = "pump-1") -> bytes:
    der = make_csr(key, common_name).public_bytes(serialization.Encoding.DER)
    return base64.encodebytes(der)  # base64 with line breaks, as RFC 7030 allows


def _enroll(est: EstService, body: bytes, **overrides) -> EstResponse:
    options = {"content_type": PKCS10, "basic": CREDENTIALS, "client_cert": None, "now": NOW}
    options.update(overrides)
    return est.simpleenroll(body, **options)


def _certs(body: bytes) -> list[x509.Certificate]:
    return pkcs7.load_der_pkcs7_certificates(base64.b64decode(body))


def _header(response: EstResponse, name: str) -> str:
    return dict(response.headers)[name]


def _only_event(est: EstService):
    assert est.log is not None
    (event,) = list(est.log)
    return event


def test_cacerts_is_pkcs7_certs_only(est) -> None:
    response = est.cacerts()
    assert response.status == 200 and _header(response, "Content-Type") == CERTS_ONLY
    certificates = _certs(response.body)
    assert certificates[0] == est.ca.root and len(certificates) == 3
    north = _certs(est.cacerts(site="north").body)
    assert [c.subject.rfc4514_string() for c in north[1:]] == ["CN=St Example Issuing CA north-g1"]
    assert est.cacerts(site="east").status == 404


def test_enroll_ok(est, key) -> None:
    response = _enroll(est, _body(key))
    assert (response.status, response.reason, response.device_id) == (200, Reason.OK, "pump-1")
    assert _header(response, "Content-Type") == CERTS_ONLY
    (leaf,) = _certs(response.body)
    assert leaf == response.certificate
    record = est.ca.records[leaf.serial_number]
    assert (record.device_id, record.site, record.requester) == ("pump-1", "north", "biomed")
    assert leaf.not_valid_after_utc == NOW + timedelta(hours=24)
    assert est.directory.issued == [("pump-1", leaf.serial_number, False)]
    event = _only_event(est)
    assert event.kind is EventKind.CERTIFICATE_ISSUED and event.subject == "pump-1"
    assert event.data == {
        "serial": f"{leaf.serial_number:x}",
        "issuer": "St Example Issuing CA north-g1",
        "not_after": "2026-01-06T08:00:00Z",
        "endpoint": "simpleenroll",
    }


def test_content_type_parameters_and_case_are_ignored(est, key) -> None:
    response = _enroll(est, _body(key), content_type="Application/PKCS10; charset=binary")
    assert response.status == 200


def _assert_refused(est, response: EstResponse, status: int, reason: Reason) -> None:
    assert (response.status, response.reason) == (status, reason), response.body
    assert response.certificate is None
    assert len(est.ca.records) == 0 and est.directory.issued == []
    event = _only_event(est)
    assert event.kind is EventKind.ENROLLMENT_REFUSED
    assert event.data["status"] == status and event.data["reason"] == reason.value
    assert event.data["detail"] == response.body.decode()


def test_no_credentials_401(est, key) -> None:
    response = _enroll(est, _body(key), basic=None)
    _assert_refused(est, response, 401, Reason.BOOTSTRAP_AUTH_FAILED)
    assert _header(response, "WWW-Authenticate") == 'Basic realm="est"'


def test_wrong_password_401(est, key) -> None:
    response = _enroll(est, _body(key), basic=("pump-1", "guess"))
    _assert_refused(est, response, 401, Reason.BOOTSTRAP_AUTH_FAILED)
    assert "wrong bootstrap credentials for 'pump-1'" in response.body.decode()
    # the audit event names the claimed id (unauthenticated: not as its subject)
    event = _only_event(est)
    assert event.subject == "(unauthenticated)" and "'pump-1'" in str(event.data["detail"])


def test_wrong_content_type_415(est, key) -> None:
    response = _enroll(est, _body(key), content_type="application/json")
    _assert_refused(est, response, 415, Reason.UNSUPPORTED_MEDIA_TYPE)


@pytest.mark.parametrize(
    "body",
    [b"not base64 at all!", base64.b64encode(b"\x30\x03abc"), b""],
    ids=["garbage", "not-a-csr", "empty"],
)
def test_garbage_body_400(est, body) -> None:
    _assert_refused(est, _enroll(est, body), 400, Reason.CSR_INVALID)


def test_pem_body_400(est, key) -> None:
    pem = make_csr(key, "pump-1").public_bytes(serialization.Encoding.PEM)
    _assert_refused(est, _enroll(est, pem), 400, Reason.CSR_INVALID)


def test_bad_csr_signature_400(est, key) -> None:
    der = make_csr(key, "pump-1").public_bytes(serialization.Encoding.DER)
    tampered = base64.b64encode(der.replace(b"pump-1", b"pump-2"))
    response = _enroll(est, tampered)
    _assert_refused(est, response, 400, Reason.CSR_INVALID)


def test_subject_mismatch_403(est, key) -> None:
    response = _enroll(est, _body(key, "pump-2"))
    _assert_refused(est, response, 403, Reason.CSR_SUBJECT_MISMATCH)
    assert response.body.decode() == (
        "the CSR's subject CN 'pump-2' does not match the registered device 'pump-1'"
    )


def test_unregistered_403(est, key) -> None:
    est.directory.subjects.clear()
    _assert_refused(est, _enroll(est, _body(key)), 403, Reason.NOT_REGISTERED)


@pytest.mark.parametrize(
    ("state", "reason"),
    [("suspended", Reason.DEVICE_SUSPENDED), ("retired", Reason.DEVICE_RETIRED)],
)
def test_state_refusals_403(est, key, state, reason) -> None:
    est.directory.subjects["pump-1"] = replace(PUMP, may_enroll=False, state=state)
    _assert_refused(est, _enroll(est, _body(key)), 403, reason)


def test_pending_approval_202(est, key) -> None:
    est.directory.subjects["pump-1"] = replace(PUMP, approved=False)
    response = _enroll(est, _body(key))
    _assert_refused(est, response, 202, Reason.PENDING_APPROVAL)
    assert _header(response, "Retry-After") == "300"


def test_outage_503_comes_first(est, key) -> None:
    est.outages.begin()
    est.retry_after = 60
    response = _enroll(est, b"garbage", basic=None, content_type="text/plain")
    _assert_refused(est, response, 503, Reason.CA_UNAVAILABLE)
    assert _header(response, "Retry-After") == "60"


def _enrolled(est, key) -> x509.Certificate:
    response = _enroll(est, _body(key))
    assert response.certificate is not None
    return response.certificate


def test_enroll_with_a_current_client_certificate(est, key) -> None:
    current = _enrolled(est, key)
    response = _enroll(est, _body(key), basic=None, client_cert=current)
    assert response.status == 200 and response.device_id == "pump-1"
    assert est.ca.records[response.certificate.serial_number].renewal_of is None


def _reenroll(est, body: bytes, client_cert, *, now: datetime = NOW + timedelta(hours=16)):
    return est.simplereenroll(body, content_type=PKCS10, client_cert=client_cert, now=now)


def test_reenroll_ok_links_the_old_serial(est, key) -> None:
    current = _enrolled(est, key)
    response = _reenroll(est, _body(key), current)
    assert response.status == 200 and response.reason is Reason.OK
    new = response.certificate
    record = est.ca.records[new.serial_number]
    assert record.renewal_of == current.serial_number
    san = x509.SubjectAlternativeName
    assert (
        new.extensions.get_extension_for_class(san).value
        == current.extensions.get_extension_for_class(san).value
    )
    assert est.directory.issued[-1] == ("pump-1", new.serial_number, True)
    assert est.log.of_kind(EventKind.CERTIFICATE_RENEWED)[0].data["endpoint"] == "simplereenroll"


def _assert_reenroll_refused(est, response, status: int, reason: Reason) -> None:
    assert (response.status, response.reason) == (status, reason), response.body
    assert len(est.ca.records) == 1
    assert est.log.of_kind(EventKind.ENROLLMENT_REFUSED)[-1].data["reason"] == reason.value
    assert len(est.log) == 2


def test_reenroll_refused_after_revocation(est, key) -> None:
    current = _enrolled(est, key)
    est.ca.revoke(current.serial_number, now=NOW + timedelta(hours=1))
    response = _reenroll(est, _body(key), current)
    _assert_reenroll_refused(est, response, 403, Reason.CERT_REVOKED)
    # the audit event names the device the refused certificate belongs to
    assert est.log.of_kind(EventKind.ENROLLMENT_REFUSED)[-1].subject == "pump-1"


def test_reenroll_refused_after_expiry(est, key) -> None:
    current = _enrolled(est, key)
    response = _reenroll(est, _body(key), current, now=NOW + timedelta(days=2))
    _assert_reenroll_refused(est, response, 403, Reason.CERT_EXPIRED)


def test_reenroll_with_a_changed_cn_is_refused(est, key) -> None:
    current = _enrolled(est, key)
    response = _reenroll(est, _body(key, "pump-9"), current)
    _assert_reenroll_refused(est, response, 403, Reason.REENROLL_IDENTITY_CHANGED)


def test_reenroll_needs_a_certificate_from_this_ca(est, key, make_ca, issue_leaf) -> None:
    _enrolled(est, key)
    response = _reenroll(est, _body(key), None)
    # 403, not 401: no HTTP authentication would be accepted instead of the certificate
    _assert_reenroll_refused(est, response, 403, Reason.CERT_MISSING)
    assert "WWW-Authenticate" not in dict(response.headers)
    foreign = issue_leaf(make_ca(53, name="Elsewhere"), "pump-1")
    response = est.simplereenroll(
        _body(key), content_type=PKCS10, client_cert=foreign, now=NOW + timedelta(hours=1)
    )
    assert response.status == 403 and len(est.ca.records) == 1


def test_reenroll_with_a_superseded_certificate_is_refused(est, key) -> None:
    first = _enrolled(est, key)
    second = _reenroll(est, _body(key), first).certificate
    assert second is not None
    third = _reenroll(est, _body(key), second).certificate
    assert third is not None
    response = _reenroll(est, _body(key), first)  # an old copy of the identity
    assert (response.status, response.reason) == (403, Reason.CERT_SUPERSEDED), response.body
    assert f"{third.serial_number:#x}" in response.body.decode()
    assert len(est.ca.records) == 3
    assert _reenroll(est, _body(key), third).status == 200  # the current one still renews


def test_a_lost_renewal_answer_is_given_again_never_a_new_certificate(est, key) -> None:
    """Within the grace after a renewal, the certificate it replaced asking again with
    the same request gets the same successor (RFC 7030 §4.2.2 made idempotent), as
    often as it asks; a request for another key gets nothing; once the successor is
    used, or after the grace, the old certificate gets nothing."""
    at = NOW + timedelta(hours=16)
    first = _enrolled(est, key)
    renewed = _reenroll(est, _body(key), first, now=at)  # the answer is lost
    assert renewed.status == 200 and renewed.certificate is not None
    for minutes in (5, 6):
        retry = _reenroll(est, _body(key), first, now=at + timedelta(minutes=minutes))
        assert retry.status == 200 and retry.body == renewed.body  # the same bytes
    assert len(est.ca.records) == 2  # nothing new was issued
    other = new_private_key(KeyType.EC_P256, random.Random(53))
    thief = _reenroll(est, _body(other), first, now=at + timedelta(minutes=7))
    assert (thief.status, thief.reason) == (403, Reason.CERT_SUPERSEDED)
    redelivered = [e for e in est.log if e.kind is EventKind.CERTIFICATE_REDELIVERED]
    assert len(redelivered) == 2
    # after the grace, not even the same request
    late = _reenroll(est, _body(key), first,
                     now=at + est.reenroll_grace + timedelta(seconds=62))  # fmt: skip
    assert (late.status, late.reason) == (403, Reason.CERT_SUPERSEDED)


def test_once_the_successor_is_used_the_old_certificate_gets_nothing(est, key) -> None:
    at = NOW + timedelta(hours=16)
    first = _enrolled(est, key)
    renewed = _reenroll(est, _body(key), first, now=at).certificate
    assert renewed is not None
    est.ca.mark_used(renewed.serial_number)  # seen at an access point
    retry = _reenroll(est, _body(key), first, now=at + timedelta(minutes=1))
    assert (retry.status, retry.reason) == (403, Reason.CERT_SUPERSEDED)
    assert b"in use" in retry.body
    # the successor renews normally, and its own use ends its predecessor's grace too
    assert _reenroll(est, _body(key), renewed, now=at + timedelta(minutes=2)).status == 200


def _csr_body(
    key, names: list[x509.NameAttribute], sans: list[x509.GeneralName] | None = None
) -> bytes:
    builder = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(names))
    if sans is not None:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    csr = builder.sign(key, hashes.SHA256())
    return base64.encodebytes(csr.public_bytes(serialization.Encoding.DER))


def _cn(value: str) -> x509.NameAttribute:
    return x509.NameAttribute(NameOID.COMMON_NAME, value, _validate=False)


def test_reenroll_keeps_subject_and_sans_rfc7030_4_2_2(est, key) -> None:
    current = _enrolled(est, key)
    held = current.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    # the current subject and SANs asked for again: accepted
    same = _csr_body(key, list(current.subject), list(held))
    assert _reenroll(est, same, current).status == 200
    current = _latest(est)
    other_org = [_cn("pump-1"), x509.NameAttribute(NameOID.ORGANIZATION_NAME, "evil.example")]
    response = _reenroll(est, _csr_body(key, other_org), current)
    assert (response.status, response.reason) == (403, Reason.REENROLL_IDENTITY_CHANGED)
    assert "evil.example" in response.body.decode()
    other_san = [x509.UniformResourceIdentifier("spiffe://evil.example/device/pump-1")]
    response = _reenroll(est, _csr_body(key, [_cn("pump-1")], other_san), current)
    assert (response.status, response.reason) == (403, Reason.REENROLL_IDENTITY_CHANGED)
    assert len(est.ca.records) == 2  # nothing issued on either refusal


def _latest(est) -> x509.Certificate:
    return est.ca.certificate(est.directory.issued[-1][1])


def test_a_csr_with_two_common_names_is_refused(est, key) -> None:
    response = _enroll(est, _csr_body(key, [_cn("pump-1"), _cn("pump-2")]))
    assert (response.status, response.reason) == (403, Reason.CSR_SUBJECT_MISMATCH)
    assert "exactly one CN" in response.body.decode() and len(est.ca.records) == 0


def test_only_a_key_of_the_registered_type_is_certified(est) -> None:
    p384 = new_private_key(KeyType.EC_P384, random.Random(55))
    response = _enroll(est, _body(p384))
    assert (response.status, response.reason) == (400, Reason.CSR_INVALID)
    assert "ec-p384" in response.body.decode() and "ec-p256" in response.body.decode()
    assert len(est.ca.records) == 0
    rsa_1024 = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    response = _enroll(est, _body(rsa_1024))
    assert (response.status, response.reason) == (400, Reason.CSR_INVALID)
    assert "rsa-1024" in response.body.decode() and len(est.ca.records) == 0


def test_a_csr_signed_with_sha1_is_refused_and_named(est, key, tmp_path) -> None:
    # cryptography will not sign with SHA-1; openssl still will, as old firmware does
    pem = tmp_path / "key.pem"
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))  # fmt: skip
    der = subprocess.run(
        ["openssl", "req", "-new", "-sha1", "-key", str(pem), "-subj", "/CN=pump-1",
         "-outform", "DER"],
        check=True, capture_output=True,
    ).stdout  # fmt: skip
    response = _enroll(est, base64.encodebytes(der))
    assert (response.status, response.reason) == (400, Reason.CSR_INVALID)
    assert "SHA1" in response.body.decode() and len(est.ca.records) == 0


def test_a_name_no_certificate_can_carry_is_refused_not_raised(make_ca, key) -> None:
    long_id = "p" * 70  # registered without the registry's length check
    directory = Directory(subjects={long_id: replace(PUMP, device_id=long_id)},
                          secrets={(long_id, "pw"): long_id})  # fmt: skip
    service = EstService(ca=make_ca(56), directory=directory, log=EventLog())
    # cryptography warns when it makes or reads such a name; lenient CSR makers don't
    with pytest.warns(UserWarning, match="length"):
        response = _enroll(service, _csr_body(key, [_cn(long_id)]), basic=(long_id, "pw"))
    assert (response.status, response.reason) == (400, Reason.CSR_INVALID)
    assert "cannot issue" in response.body.decode() and len(service.ca.records) == 0
    assert service.log is not None and service.log.of_kind(EventKind.ENROLLMENT_REFUSED)


def test_no_event_without_a_log(make_ca, key) -> None:
    directory = Directory(subjects={"pump-1": PUMP}, secrets={CREDENTIALS: "pump-1"})
    service = EstService(ca=make_ca(54), directory=directory)
    assert _enroll(service, _body(key)).status == 200
    assert _enroll(service, _body(key), basic=None).status == 401


def test_enroll_with_a_revoked_client_certificate_401(est, key) -> None:
    current = _enrolled(est, key)
    est.ca.revoke(current.serial_number, now=NOW)
    response = _enroll(est, _body(key), basic=None, client_cert=current)
    assert (response.status, response.reason) == (401, Reason.BOOTSTRAP_AUTH_FAILED)
    assert "revoked" in response.body.decode() and len(est.ca.records) == 1
