"""The hand-encoded CSR and leaf are byte for byte what ``cryptography``'s builders make."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from testbed.pki.der import ec_csr, ec_leaf, key_identifier
from testbed.pki.keys import make_csr, signature_hash
from testbed.pki.leaf_profile import (
    authority_key_id,
    build_leaf,
    leaf_sans,
    leaf_subject,
    revocation_locations,
)

NOW = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
CURVES = (ec.SECP256R1(), ec.SECP384R1())


def _key(curve: ec.EllipticCurve, rng: random.Random) -> ec.EllipticCurvePrivateKey:
    return ec.derive_private_key(rng.randrange(1, 2**200), curve)


@pytest.mark.parametrize("curve", CURVES, ids=lambda c: c.name)
@pytest.mark.parametrize("cn", ["d-1", "bedside-monitor-gateway-site-01-0001", "x" * 63])
def test_csr_is_the_builders(curve: ec.EllipticCurve, cn: str) -> None:
    key = _key(curve, random.Random(cn))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    mine = x509.load_der_x509_csr(ec_csr(key, subject.public_bytes()))
    theirs = make_csr(key, cn)
    assert mine.tbs_certrequest_bytes == theirs.tbs_certrequest_bytes
    assert mine.signature_algorithm_oid == theirs.signature_algorithm_oid
    assert mine.is_signature_valid


def test_a_tampered_csr_does_not_verify() -> None:
    key = _key(ec.SECP256R1(), random.Random(1))
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "d")])
    der = bytearray(ec_csr(key, name.public_bytes()))
    der[-3] ^= 0x01  # inside the signature
    assert not x509.load_der_x509_csr(bytes(der)).is_signature_valid


def _fields(rng: random.Random, curve: ec.EllipticCurve, *, serial: int, not_before: datetime,
            not_after: datetime, locations: bool) -> dict[str, object]:
    issuing_key = _key(curve, rng)
    device = f"device-{rng.randrange(10**6)}"
    site = rng.choice(["north", "site-01"])
    return {
        "issuer": x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Issuing CA central-g1")]),
        "issuing_key": issuing_key,
        "authority_key": authority_key_id(issuing_key),
        "subject": leaf_subject(device, "hospital.example"),
        "sans": leaf_sans("hospital.example", site, device),
        "public": _key(rng.choice(CURVES), rng).public_key(),
        "serial": serial,
        "not_before": not_before,
        "not_after": not_after,
        "locations": revocation_locations("http://127.0.0.1:1/crl/x", "http://127.0.0.1:1/ocsp")
        if locations
        else (),
    }


def _reference(fields: dict[str, object]) -> x509.Certificate:
    """The same leaf built by ``cryptography``'s builder (an RSA-free copy of
    :func:`build_leaf`'s fallback path, forced)."""
    from testbed.pki import leaf_profile

    original = leaf_profile.ec_leaf
    leaf_profile.ec_leaf = lambda **_: None  # type: ignore[assignment]
    try:
        return build_leaf(**fields)  # type: ignore[arg-type]
    finally:
        leaf_profile.ec_leaf = original


SERIALS = [1, 0x7F, 0x80, 0xFF, 0x100, 2**63, 2**158, 2**159 - 1]
TIMES = [
    (NOW - timedelta(minutes=1), NOW + timedelta(days=30)),
    (NOW, NOW + timedelta(hours=1)),
    (datetime(2049, 12, 31, 23, 59, 59, tzinfo=UTC), datetime(2050, 1, 1, tzinfo=UTC)),
    (datetime(1950, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)),
]


@pytest.mark.parametrize("serial", SERIALS, ids=hex)
@pytest.mark.parametrize("times", TIMES, ids=lambda t: f"{t[0]:%Y}-{t[1]:%Y}")
@pytest.mark.parametrize("curve", CURVES, ids=lambda c: c.name)
@pytest.mark.parametrize("locations", [False, True], ids=["plain", "locations"])
def test_leaf_is_the_builders(
    serial: int, times: tuple[datetime, datetime], curve: ec.EllipticCurve, locations: bool
) -> None:
    rng = random.Random(f"{serial}{times}{curve.name}{locations}")
    fields = _fields(rng, curve, serial=serial, not_before=times[0], not_after=times[1],
                     locations=locations)
    mine = build_leaf(**fields)  # type: ignore[arg-type]
    theirs = _reference(fields)
    assert mine.tbs_certificate_bytes == theirs.tbs_certificate_bytes
    assert mine.signature_algorithm_oid == theirs.signature_algorithm_oid
    issuing_key = fields["issuing_key"]
    assert isinstance(issuing_key, ec.EllipticCurvePrivateKey)
    public = issuing_key.public_key()
    public.verify(mine.signature, mine.tbs_certificate_bytes,
                  ec.ECDSA(signature_hash(issuing_key)))


def test_fields_it_does_not_encode_go_to_the_builder() -> None:
    """Serials out of range, naive or sub-second times: None (the builder decides)."""
    rng = random.Random(7)
    fields = _fields(rng, CURVES[0], serial=5, not_before=NOW, not_after=NOW + timedelta(days=1),
                     locations=False)
    common = {
        "issuer": fields["issuer"], "issuing_key": fields["issuing_key"],
        "subject": fields["subject"], "spki": b"", "extensions": (),
    }
    for serial, start in [(0, NOW), (2**159, NOW), (5, NOW.replace(tzinfo=None)),
                          (5, NOW.replace(microsecond=1))]:
        assert ec_leaf(serial=serial, not_before=start, not_after=NOW + timedelta(days=1),
                       **common) is None  # type: ignore[arg-type]


@pytest.mark.parametrize("curve", CURVES, ids=lambda c: c.name)
def test_key_identifier_is_cryptographys(curve: ec.EllipticCurve) -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    rng = random.Random(curve.name)
    keys = [_key(curve, rng).public_key() for _ in range(20)]
    keys.append(rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key())
    for public in keys:
        spki = public.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
        assert key_identifier(spki) == x509.SubjectKeyIdentifier.from_public_key(public).digest
