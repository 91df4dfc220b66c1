"""CRLs (one pass, exact serials), their distribution, and the OCSP responder."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp

from testbed.errors import PkiError
from testbed.pki import CrlDistribution, build_crl, make_csr, ocsp_response
from testbed.pki.ca import CertificateAuthority

NOW = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
DAY = timedelta(days=1)
_DER = serialization.Encoding.DER


@pytest.fixture(scope="module")
def world(make_ca, issue_leaf):
    """A CA with three north leaves (one revoked) and one revoked south leaf."""
    authority: CertificateAuthority = make_ca(21)
    north = [issue_leaf(authority, f"n-{i}", site="north") for i in range(3)]
    south = issue_leaf(authority, "s-0", site="south")
    authority.revoke(north[1].serial_number, now=NOW, reason=x509.ReasonFlags.key_compromise)
    authority.revoke(south.serial_number, now=NOW)
    return authority, north, south


def _verify_signed_by(signature: bytes, data: bytes, certificate: x509.Certificate) -> None:
    public = certificate.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    public.verify(signature, data, ec.ECDSA(hashes.SHA256()))


def test_crl_lists_exactly_the_issuers_revoked_serials(world) -> None:
    authority, north, _south = world
    issuing = authority.issuing_ca_for("north", now=NOW)
    published = build_crl(authority, issuing, now=NOW + timedelta(minutes=5), next_update_after=DAY)
    assert published.serials == frozenset({north[1].serial_number})
    assert published.issuer == issuing.name
    assert published.next_update == NOW + timedelta(minutes=5) + DAY
    crl = x509.load_der_x509_crl(published.der)
    assert [entry.serial_number for entry in crl] == [north[1].serial_number]
    entry = crl.get_revoked_certificate_by_serial_number(north[1].serial_number)
    assert entry is not None and entry.revocation_date_utc == NOW
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason is (
        x509.ReasonFlags.key_compromise
    )
    assert crl.issuer == issuing.certificate.subject
    assert crl.is_signature_valid(issuing.key.public_key())
    aki = crl.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ski = issuing.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    assert aki.key_identifier == ski.value.digest
    assert x509.load_pem_x509_crl(published.pem()).issuer == crl.issuer


def test_crl_numbers_increase(world) -> None:
    authority, _north, _south = world
    issuing = authority.issuing_ca_for("south", now=NOW)
    numbers = [
        x509.load_der_x509_crl(build_crl(authority, issuing, now=NOW, next_update_after=DAY).der)
        .extensions.get_extension_for_class(x509.CRLNumber)
        .value.crl_number
        for _ in range(3)
    ]
    assert numbers == sorted(numbers) and len(set(numbers)) == 3


def test_future_revocations_are_not_listed_yet(make_ca, issue_leaf) -> None:
    authority = make_ca(22)
    leaf = issue_leaf(authority, "later")
    authority.revoke(leaf.serial_number, now=NOW + timedelta(hours=1))
    issuing = authority.issuing_ca_for("north", now=NOW)
    assert build_crl(authority, issuing, now=NOW, next_update_after=DAY).serials == frozenset()


def test_expired_revoked_certificates_leave_the_crl_one_crl_after_expiry(
    make_ca, issue_leaf
) -> None:
    """RFC 5280 §3.3: an entry stays until one CRL signed after the expiry listed it."""
    authority = make_ca(24)
    short = issue_leaf(authority, "short", lifetime=timedelta(hours=1))
    long = issue_leaf(authority, "long", lifetime=DAY * 30)
    for leaf in (short, long):
        authority.revoke(leaf.serial_number, now=NOW)
    issuing = authority.issuing_ca_for("north", now=NOW)
    both = {short.serial_number, long.serial_number}
    soon = NOW + timedelta(minutes=30)
    assert build_crl(authority, issuing, now=soon, next_update_after=DAY).serials == both
    # the first CRL after the short one expired still lists it (a relying party with a
    # slow clock, or checking a past signature, must still see the revocation) ...
    after_expiry = build_crl(authority, issuing, now=NOW + DAY, next_update_after=DAY)
    assert after_expiry.serials == both
    listed = {e.serial_number for e in x509.load_der_x509_crl(after_expiry.der)}
    assert listed == both
    # ... and the next one drops it, for good (it used to come back every other CRL)
    for day in (2, 3, 4, 5):
        later = build_crl(authority, issuing, now=NOW + day * DAY, next_update_after=DAY)
        assert later.serials == {long.serial_number}, f"day {day}"


def test_a_certificate_revoked_and_expired_between_two_crls_is_listed_once(
    make_ca, issue_leaf
) -> None:
    authority = make_ca(25)
    issuing = authority.issuing_ca_for("north", now=NOW)
    build_crl(authority, issuing, now=NOW, next_update_after=DAY)
    short = issue_leaf(authority, "short", lifetime=timedelta(hours=1))
    authority.revoke(short.serial_number, now=NOW + timedelta(minutes=10))
    # never listed yet, although expired when the next CRL is signed
    first = build_crl(authority, issuing, now=NOW + DAY, next_update_after=DAY)
    assert first.serials == {short.serial_number}
    for day in (2, 3, 4):
        later = build_crl(authority, issuing, now=NOW + day * DAY, next_update_after=DAY)
        assert later.serials == frozenset(), f"day {day}"


def test_crl_staleness_and_bad_next_update(world) -> None:
    authority, _north, _south = world
    issuing = authority.issuing_ca_for("north", now=NOW)
    published = build_crl(authority, issuing, now=NOW, next_update_after=DAY)
    assert not published.is_stale(NOW + DAY)
    assert published.is_stale(NOW + DAY + timedelta(seconds=1))
    with pytest.raises(PkiError, match="next_update_after"):
        build_crl(authority, issuing, now=NOW, next_update_after=timedelta(0))


def test_distribution_serves_the_latest_published(world) -> None:
    authority, _north, _south = world
    issuing = authority.issuing_ca_for("north", now=NOW)
    distribution = CrlDistribution()
    assert distribution.current(issuing.name) is None
    first = build_crl(authority, issuing, now=NOW, next_update_after=DAY)
    second = build_crl(authority, issuing, now=NOW + DAY, next_update_after=DAY)
    distribution.publish(first)
    assert distribution.current(issuing.name) is first
    distribution.publish(second)
    assert distribution.current(issuing.name) is second
    assert distribution.current("someone else") is None


@pytest.mark.slow
def test_ten_thousand_revocations_build_in_one_pass(make_ca, device_key) -> None:
    authority = make_ca(23)
    csr = make_csr(device_key, "bulk")
    for _ in range(10_000):
        leaf = authority.issue(
            csr, device_id="bulk", site="north", services=(), requester="r", on_expiry="renew",
            lifetime=DAY, now=NOW,
        )  # fmt: skip
        authority.revoke(leaf.serial_number, now=NOW)
    issuing = authority.issuing_ca_for("north", now=NOW)
    published = build_crl(authority, issuing, now=NOW, next_update_after=DAY)
    assert len(published.serials) == 10_000
    assert len(x509.load_der_x509_crl(published.der)) == 10_000


# -- OCSP ----------------------------------------------------------------------


def _ask(authority: CertificateAuthority, leaf: x509.Certificate, site: str) -> ocsp.OCSPResponse:
    issuing = authority.issuing_ca_for(site, now=NOW)
    request = ocsp.OCSPRequestBuilder().add_certificate(leaf, issuing.certificate, hashes.SHA1())
    der = ocsp_response(authority, request.build().public_bytes(_DER), now=NOW)
    return ocsp.load_der_ocsp_response(der)


def test_ocsp_good(world) -> None:
    authority, north, _south = world
    response = _ask(authority, north[0], "north")
    assert response.response_status is ocsp.OCSPResponseStatus.SUCCESSFUL
    assert response.certificate_status is ocsp.OCSPCertStatus.GOOD
    assert response.serial_number == north[0].serial_number
    assert response.this_update_utc == NOW
    assert response.next_update_utc == NOW + timedelta(hours=1)
    issuing = authority.issuing_ca_for("north", now=NOW)
    _verify_signed_by(response.signature, response.tbs_response_bytes, issuing.certificate)


def test_ocsp_revoked(world) -> None:
    authority, north, south = world
    response = _ask(authority, north[1], "north")
    assert response.certificate_status is ocsp.OCSPCertStatus.REVOKED
    assert response.revocation_time_utc == NOW
    assert response.revocation_reason is x509.ReasonFlags.key_compromise
    unspecified = _ask(authority, south, "south")
    assert unspecified.certificate_status is ocsp.OCSPCertStatus.REVOKED
    assert unspecified.revocation_reason is None


def _ask_serial(
    authority: CertificateAuthority, north_leaf: x509.Certificate, serial: int
) -> ocsp.OCSPResponse:
    """Ask the north issuing CA about ``serial`` (hashes taken from a real north leaf)."""
    issuing = authority.issuing_ca_for("north", now=NOW)
    probe = ocsp.OCSPRequestBuilder().add_certificate(
        north_leaf, issuing.certificate, hashes.SHA256()
    )
    real = probe.build()
    request = ocsp.OCSPRequestBuilder().add_certificate_by_hash(
        real.issuer_name_hash, real.issuer_key_hash, serial, hashes.SHA256()
    )
    der = ocsp_response(authority, request.build().public_bytes(_DER), now=NOW)
    return ocsp.load_der_ocsp_response(der)


def test_ocsp_unknown_serial(world) -> None:
    authority, north, _south = world
    response = _ask_serial(authority, north[0], 12345)
    assert response.certificate_status is ocsp.OCSPCertStatus.UNKNOWN
    assert response.serial_number == 12345


def test_ocsp_serial_of_another_issuer_is_unknown(world) -> None:
    authority, north, south = world
    response = _ask_serial(authority, north[0], south.serial_number)
    assert response.certificate_status is ocsp.OCSPCertStatus.UNKNOWN


def test_ocsp_malformed_and_foreign_requests(world, make_ca, issue_leaf) -> None:
    authority, _north, _south = world
    malformed = ocsp.load_der_ocsp_response(ocsp_response(authority, b"\x30\x03junk", now=NOW))
    assert malformed.response_status is ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    stranger = make_ca(24, name="Elsewhere")
    foreign_issuer = stranger.issuing_ca_for("north", now=NOW).certificate
    request = ocsp.OCSPRequestBuilder().add_certificate(
        issue_leaf(stranger, "y"), foreign_issuer, hashes.SHA1()
    )
    der = ocsp_response(authority, request.build().public_bytes(_DER), now=NOW)
    assert ocsp.load_der_ocsp_response(der).response_status is (
        ocsp.OCSPResponseStatus.UNAUTHORIZED
    )


def test_ocsp_echoes_the_request_nonce_rfc8954(world) -> None:
    authority, north, _south = world
    issuing = authority.issuing_ca_for("north", now=NOW).certificate
    nonce = bytes(range(16))
    request = (
        ocsp.OCSPRequestBuilder()
        .add_certificate(north[0], issuing, hashes.SHA256())
        .add_extension(x509.OCSPNonce(nonce), critical=False)
    )
    der = ocsp_response(authority, request.build().public_bytes(_DER), now=NOW)
    response = ocsp.load_der_ocsp_response(der)
    assert response.certificate_status is ocsp.OCSPCertStatus.GOOD
    assert response.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == nonce
    plain = _ask(authority, north[0], "north")  # no nonce asked, none given
    assert not any(isinstance(e.value, x509.OCSPNonce) for e in plain.extensions)


def _openssl_request(tmp_path, issuer: x509.Certificate, leaves, *options: str) -> bytes:
    """An OCSP request made by openssl (it writes what cryptography's builder will not)."""
    (tmp_path / "issuer.pem").write_bytes(issuer.public_bytes(serialization.Encoding.PEM))
    args = ["openssl", "ocsp", "-issuer", str(tmp_path / "issuer.pem"), *options]
    for i, leaf in enumerate(leaves):
        path = tmp_path / f"leaf{i}.pem"
        path.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
        args += ["-cert", str(path)]
    out = tmp_path / "request.der"
    subprocess.run([*args, "-no_nonce", "-reqout", str(out)], check=True, capture_output=True)
    return out.read_bytes()


@pytest.mark.parametrize(
    ("options", "count", "status"),
    [
        ((), 2, ocsp.OCSPResponseStatus.MALFORMED_REQUEST),  # two certificates in one request
        (("-md5",), 1, ocsp.OCSPResponseStatus.UNAUTHORIZED),  # a CertID hash not computed
        (("-sha3-256",), 1, ocsp.OCSPResponseStatus.UNAUTHORIZED),
        (("-sha384",), 1, ocsp.OCSPResponseStatus.SUCCESSFUL),
    ],
)
def test_ocsp_requests_this_responder_cannot_answer_get_a_status_not_an_error(
    world, tmp_path, options, count, status
) -> None:
    authority, north, _south = world
    issuing = authority.issuing_ca_for("north", now=NOW).certificate
    request = _openssl_request(tmp_path, issuing, north[:count], *options)
    response = ocsp.load_der_ocsp_response(ocsp_response(authority, request, now=NOW))
    assert response.response_status is status


@pytest.mark.parametrize(
    ("length", "status"),
    [(0, ocsp.OCSPResponseStatus.MALFORMED_REQUEST),
     (1, ocsp.OCSPResponseStatus.SUCCESSFUL),
     (128, ocsp.OCSPResponseStatus.SUCCESSFUL),
     (129, ocsp.OCSPResponseStatus.MALFORMED_REQUEST)],
)  # fmt: skip
def test_ocsp_nonce_lengths_rfc8954(world, length: int, status) -> None:
    authority, north, _south = world
    issuing = authority.issuing_ca_for("north", now=NOW).certificate
    request = (
        ocsp.OCSPRequestBuilder()
        .add_certificate(north[0], issuing, hashes.SHA256())
        .add_extension(x509.OCSPNonce(b"n" * length), critical=False)
    )
    der = ocsp_response(authority, request.build().public_bytes(_DER), now=NOW)
    assert ocsp.load_der_ocsp_response(der).response_status is status
