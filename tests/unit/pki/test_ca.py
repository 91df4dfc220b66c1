"""The certificate authority: root, issuing CAs, leaves, records, rotation."""

from __future__ import annotations

import inspect
import random
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

import testbed.pki
import testbed.pki.ca
from testbed.errors import CsrError, PkiError
from testbed.pki import CertificateAuthority, IssuingMode, KeyType, make_csr, new_private_key

NOW = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def _ext(cert: x509.Certificate, kind: type[x509.ExtensionType]) -> x509.Extension:
    return cert.extensions.get_extension_for_class(kind)


def _public_der(cert: x509.Certificate) -> bytes:
    return cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@pytest.mark.skipif(
    not testbed.pki.ca.__file__.endswith(".py"),
    reason="the compiled build (make test-compiled): mypyc keeps no docstring of a "
    "compiled class or function; the pure build, which `make test` runs, checks them",
)
def test_public_api_is_curated_and_documented() -> None:
    for name in testbed.pki.__all__:
        obj = getattr(testbed.pki, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert inspect.getdoc(obj), f"{name} has no docstring"


def test_root_is_a_self_signed_ca(ca: CertificateAuthority) -> None:
    root = ca.root
    assert root.subject == root.issuer
    assert root.subject.rfc4514_string() == "CN=St Example Root CA"
    constraints = _ext(root, x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca
    usage = _ext(root, x509.KeyUsage).value
    assert usage.key_cert_sign and usage.crl_sign
    assert _ext(root, x509.SubjectKeyIdentifier)


def test_per_site_issuing_cas_chain_to_the_root(ca: CertificateAuthority) -> None:
    issuing = ca.issuing_cas()
    assert [(i.site, i.generation) for i in issuing] == [("north", 1), ("south", 1)]
    root_ski = _ext(ca.root, x509.SubjectKeyIdentifier).value.digest
    for one in issuing:
        cert = one.certificate
        assert cert.subject.rfc4514_string() == f"CN=St Example Issuing CA {one.site}-g1"
        assert _ext(cert, x509.BasicConstraints).value.path_length == 0
        assert _ext(cert, x509.AuthorityKeyIdentifier).value.key_identifier == root_ski
        cert.verify_directly_issued_by(ca.root)
    assert ca.issuing_ca_for("south", now=NOW).site == "south"


def test_central_mode_has_one_issuing_ca(make_ca) -> None:
    central = make_ca(issuing=IssuingMode.CENTRAL)
    (only,) = central.issuing_cas()
    assert only.site is None and only.name == "St Example Issuing CA central-g1"
    assert central.issuing_ca_for("north", now=NOW) is only
    assert central.issuing_ca_for("south", now=NOW) is only


def test_leaf_has_one_uri_san_and_is_not_a_ca(ca, issue_leaf) -> None:
    leaf = issue_leaf(ca, "infusion-7", site="north", lifetime=timedelta(hours=24))
    sans = _ext(leaf, x509.SubjectAlternativeName).value
    uris = sans.get_values_for_type(x509.UniformResourceIdentifier)
    assert uris == ["spiffe://hospital.example/site/north/device/infusion-7"]
    assert sans.get_values_for_type(x509.DNSName) == ["infusion-7.north.devices.hospital.example"]
    constraints = _ext(leaf, x509.BasicConstraints)
    assert constraints.critical and not constraints.value.ca
    usage = _ext(leaf, x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and not usage.value.key_cert_sign
    eku = _ext(leaf, x509.ExtendedKeyUsage).value
    assert set(eku) == {ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH}
    issuing = ca.issuing_ca_for("north", now=NOW)
    issuing_ski = _ext(issuing.certificate, x509.SubjectKeyIdentifier).value.digest
    assert _ext(leaf, x509.AuthorityKeyIdentifier).value.key_identifier == issuing_ski
    assert _ext(leaf, x509.SubjectKeyIdentifier)
    assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "infusion-7"
    assert leaf.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == (
        "hospital.example"
    )
    assert leaf.not_valid_before_utc == NOW - timedelta(minutes=1)
    assert leaf.not_valid_after_utc == NOW + timedelta(hours=24)
    leaf.verify_directly_issued_by(issuing.certificate)


def test_issuance_is_recorded_with_ownership(ca, issue_leaf) -> None:
    leaf = issue_leaf(ca, "pump-3", site="south")
    record = ca.records[leaf.serial_number]
    assert record.device_id == "pump-3"
    assert record.site == "south"
    assert record.issuer == "St Example Issuing CA south-g1"
    assert record.spiffe_id == "spiffe://hospital.example/site/south/device/pump-3"
    assert (record.requester, record.services, record.on_expiry) == (
        "biomed",
        ("pacs", "fhir"),
        "renew",
    )
    assert record.renewal_of is None
    assert ca.records_for("pump-3") == [record]
    assert ca.records_for("nobody") == []
    assert ca.certificate(leaf.serial_number) == leaf
    assert ca.is_issued(leaf)
    assert 0 < leaf.serial_number < 2**159


def test_csr_with_a_bad_signature_is_refused(ca, device_key) -> None:
    der = make_csr(device_key, "dev-a").public_bytes(serialization.Encoding.DER)
    tampered = x509.load_der_x509_csr(der.replace(b"dev-a", b"dev-b"))
    with pytest.raises(CsrError, match="invalid signature"):
        ca.issue(
            tampered, device_id="dev-b", site="north", services=(), requester="r",
            on_expiry="renew", lifetime=timedelta(days=1), now=NOW,
        )  # fmt: skip


def test_csr_for_another_device_is_refused_naming_both(ca, device_key) -> None:
    before = len(ca.records)
    with pytest.raises(CsrError, match=r"'intruder'.*'pump-1'"):
        ca.issue(
            make_csr(device_key, "intruder"), device_id="pump-1", site="north", services=(),
            requester="r", on_expiry="renew", lifetime=timedelta(days=1), now=NOW,
        )  # fmt: skip
    assert len(ca.records) == before


def test_unknown_site_and_serial_raise(ca, issue_leaf) -> None:
    with pytest.raises(PkiError, match="unknown site 'east'"):
        issue_leaf(ca, "dev-x", site="east")
    with pytest.raises(PkiError, match="0x2a"):
        ca.certificate(42)


def test_naive_time_is_refused() -> None:
    with pytest.raises(PkiError, match="timezone-aware"):
        CertificateAuthority(
            name="x", trust_domain="t", sites=["a"], issuing=IssuingMode.CENTRAL,
            now=datetime(2026, 1, 1), rng=random.Random(1),
        )  # fmt: skip


def test_same_seed_same_keys_and_serials(make_ca, device_key) -> None:
    first, second = make_ca(7), make_ca(7)
    assert _public_der(first.root) == _public_der(second.root)
    assert first.root.serial_number == second.root.serial_number
    for a, b in zip(first.issuing_cas(), second.issuing_cas(), strict=True):
        assert _public_der(a.certificate) == _public_der(b.certificate)
    csr = make_csr(device_key, "d")
    options = {"device_id": "d", "site": "north", "services": (), "requester": "r"}
    leaf_a = first.issue(csr, on_expiry="x", lifetime=timedelta(days=1), now=NOW, **options)
    leaf_b = second.issue(csr, on_expiry="x", lifetime=timedelta(days=1), now=NOW, **options)
    assert leaf_a.serial_number == leaf_b.serial_number
    assert _public_der(make_ca(8).root) != _public_der(first.root)


def test_same_seed_same_device_keys() -> None:
    a = new_private_key(KeyType.EC_P256, random.Random(7)).private_numbers().private_value
    b = new_private_key(KeyType.EC_P256, random.Random(7)).private_numbers().private_value
    assert a == b


def test_live_mode_keys_are_random(make_ca) -> None:
    assert _public_der(make_ca(None).root) != _public_der(make_ca(None).root)


@pytest.mark.parametrize(
    ("key_type", "kind", "size"),
    [(KeyType.EC_P384, ec.EllipticCurvePublicKey, 384), (KeyType.RSA_2048, rsa.RSAPublicKey, 2048)],
)
def test_other_key_types(make_ca, issue_leaf, key_type, kind, size) -> None:
    other = make_ca(3, key_type=key_type, issuing=IssuingMode.CENTRAL)
    public = other.root.public_key()
    assert isinstance(public, kind) and public.key_size == size
    leaf = issue_leaf(other, "dev-1")
    leaf.verify_directly_issued_by(other.issuing_ca_for("north", now=NOW).certificate)


def test_revoke_records_time_and_refuses_unknown(make_ca, issue_leaf) -> None:
    authority = make_ca(11)
    leaf = issue_leaf(authority, "dev-r")
    assert authority.revoked_at(leaf.serial_number) is None
    later = NOW + timedelta(hours=2)
    authority.revoke(leaf.serial_number, now=later, reason=x509.ReasonFlags.key_compromise)
    authority.revoke(leaf.serial_number, now=later + timedelta(hours=1))
    assert authority.revoked_at(leaf.serial_number) == later
    assert authority.revocations[leaf.serial_number].reason is x509.ReasonFlags.key_compromise
    with pytest.raises(PkiError, match="never issued"):
        authority.revoke(12345, now=later)


def test_rotation_overlaps_then_switches(make_ca, issue_leaf) -> None:
    authority = make_ca(12)
    rotated_at = NOW + timedelta(days=10)
    overlap = timedelta(days=2)
    new = authority.rotate_issuing_key(site="north", now=rotated_at, overlap=overlap)
    assert new.generation == 2 and new.name == "St Example Issuing CA north-g2"
    assert new in authority.issuing_cas()
    new.certificate.verify_directly_issued_by(authority.root)
    during = rotated_at + overlap - timedelta(seconds=1)
    assert authority.issuing_ca_for("north", now=during).generation == 1
    assert authority.issuing_ca_for("north", now=rotated_at + overlap) is new
    assert authority.issuing_ca_for("south", now=rotated_at + overlap).generation == 1
    leaf = issue_leaf(authority, "dev-n", now=rotated_at + overlap)
    assert authority.records[leaf.serial_number].issuer == new.name
    leaf.verify_directly_issued_by(new.certificate)


def test_issuing_cas_can_drop_expired_generations(make_ca) -> None:
    authority = make_ca(13, issuing_lifetime=timedelta(days=30))
    authority.rotate_issuing_key(site="north", now=NOW + timedelta(days=20), overlap=timedelta(0))
    names = [i.name for i in authority.issuing_cas(now=NOW + timedelta(days=40))]
    assert names == ["St Example Issuing CA north-g2"]


def test_per_site_rotation_needs_a_site(make_ca) -> None:
    with pytest.raises(PkiError, match="needs a site"):
        make_ca(14).rotate_issuing_key(site=None, now=NOW, overlap=timedelta(0))


def test_a_leaf_never_outlives_its_issuing_ca(make_ca, issue_leaf) -> None:
    """RFC 5280 §6.1.3: past the issuing CA's notAfter the path fails, so the CA caps."""
    authority = make_ca(31, issuing_lifetime=timedelta(days=10))
    issuing = authority.issuing_ca_for("north", now=NOW)
    leaf = issue_leaf(authority, "long", lifetime=timedelta(days=30))
    assert leaf.not_valid_after_utc == issuing.certificate.not_valid_after_utc
    assert authority.records[leaf.serial_number].not_after == leaf.not_valid_after_utc
    short = issue_leaf(authority, "short", lifetime=timedelta(days=2))
    assert short.not_valid_after_utc == NOW + timedelta(days=2)  # no cap when it fits


def test_leaves_name_where_revocation_status_is_once_published(make_ca, issue_leaf) -> None:
    authority = make_ca(32)
    before = issue_leaf(authority, "early")
    with pytest.raises(x509.ExtensionNotFound):
        before.extensions.get_extension_for_class(x509.CRLDistributionPoints)
    with pytest.raises(PkiError, match="one CRL URL per site"):
        authority.publish_revocation_at(crl_by_site={"north": "http://x/crl"}, ocsp="http://x")
    urls = {"north": "http://127.0.0.1:1/crl/north", "south": "http://127.0.0.1:1/crl/south"}
    authority.publish_revocation_at(crl_by_site=urls, ocsp="http://127.0.0.1:1/ocsp")
    leaf = issue_leaf(authority, "later", site="south")
    points = leaf.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert [n.value for p in points for n in p.full_name or ()] == [urls["south"]]
    access = leaf.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    assert [(a.access_method, a.access_location.value) for a in access] == [
        (x509.AuthorityInformationAccessOID.OCSP, "http://127.0.0.1:1/ocsp")
    ]


def test_an_expired_issuing_ca_issues_nothing(make_ca, issue_leaf) -> None:
    """Past its notAfter a leaf would end before it starts: the CA refuses instead."""
    authority = make_ca(33, issuing_lifetime=timedelta(days=10))
    with pytest.raises(PkiError, match="expired"):
        issue_leaf(authority, "late", now=NOW + timedelta(days=11))
    assert len(authority.records) == 0
