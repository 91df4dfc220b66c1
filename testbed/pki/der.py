"""DER for the two artefacts a run makes by the thousand: a device's CSR and its leaf.

``cryptography``'s builders take Python objects, check and convert every field and
extension on each call, and cost two to three times the signature they wrap.  A
device's CSR (subject ``CN=<id>``, no attributes) and leaf (the profile of
:mod:`testbed.pki.leaf_profile`) have a fixed shape, so they are encoded here
directly (X.690 DER: definite lengths, minimal integers, UTCTime before 2050) and
signed with ``cryptography`` (ECDSA keys only; anything else goes back to the
builder).  ``tests/unit/pki/test_der.py`` checks that the signed parts are byte for
byte what the builders produce, over serial sizes, both time encodings, both curves
and the optional extensions, and the results are real certificates and CSRs that
``cryptography`` loads and verifies.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cache

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

__all__ = ["ec_csr", "ec_leaf", "extension_der", "key_identifier"]

_SEQUENCE = 0x30
_SERIAL_LIMIT = 2**159
_ECDSA_SHA256 = bytes.fromhex("300a06082a8648ce3d040302")
_ECDSA_SHA384 = bytes.fromhex("300a06082a8648ce3d040303")
_VERSION_3 = bytes.fromhex("a003020102")
_CSR_VERSION = bytes.fromhex("020100")
_NO_ATTRIBUTES = bytes.fromhex("a000")
_CRITICAL = bytes.fromhex("0101ff")
_UTC_TIME_YEARS = range(1950, 2050)


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    octets = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(octets),)) + octets


def _tlv(tag: int, content: bytes) -> bytes:
    return bytes((tag,)) + _length(len(content)) + content


def _integer(n: int) -> bytes:
    """A non-negative INTEGER (two's complement, minimal: a leading 0 when the top bit is set)."""
    return _tlv(0x02, n.to_bytes(n.bit_length() // 8 + 1, "big"))


def _time(moment: datetime) -> bytes:
    u = moment.astimezone(UTC)
    rest = f"{u.month:02d}{u.day:02d}{u.hour:02d}{u.minute:02d}{u.second:02d}Z"
    if u.year in _UTC_TIME_YEARS:
        return b"\x17\x0d" + f"{u.year % 100:02d}{rest}".encode()
    return b"\x18\x0f" + f"{u.year:04d}{rest}".encode()


@cache  # a handful of OIDs
def _oid(dotted: str) -> bytes:
    arcs = [int(a) for a in dotted.split(".")]
    body = bytearray((40 * arcs[0] + arcs[1],))
    for arc in arcs[2:]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body.extend(reversed(chunk))
    return _tlv(0x06, bytes(body))


def extension_der(extension: x509.Extension[x509.ExtensionType]) -> bytes:
    """One Extension (RFC 5280 §4.1): its OID, critical when it is, its value's DER."""
    critical = _CRITICAL if extension.critical else b""
    value = _tlv(0x04, extension.value.public_bytes())
    return _tlv(_SEQUENCE, _oid(extension.oid.dotted_string) + critical + value)


def _algorithm(key: ec.EllipticCurvePrivateKey) -> tuple[bytes, hashes.SHA256 | hashes.SHA384]:
    """The signatureAlgorithm of ``key``'s signatures and its digest (as the CA's
    :func:`~testbed.pki.keys.signature_hash` picks it: SHA-384 from P-384 up)."""
    if key.curve.key_size >= 384:
        return _ECDSA_SHA384, hashes.SHA384()
    return _ECDSA_SHA256, hashes.SHA256()


def _signed(tbs: bytes, key: ec.EllipticCurvePrivateKey) -> bytes:
    algorithm, digest = _algorithm(key)
    signature = key.sign(tbs, ec.ECDSA(digest))
    return _tlv(_SEQUENCE, tbs + algorithm + _tlv(0x03, b"\x00" + signature))


def ec_csr(key: ec.EllipticCurvePrivateKey, subject: bytes) -> bytes:
    """A PKCS#10 request (RFC 2986) for the DER Name ``subject``, no attributes, signed
    by ``key``: as ``CertificateSigningRequestBuilder().subject_name(...).sign(key, ...)``."""
    spki = key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return _signed(_tlv(_SEQUENCE, _CSR_VERSION + subject + spki + _NO_ATTRIBUTES), key)


def key_identifier(spki: bytes) -> bytes:
    """RFC 5280 §4.2.1.2 method 1, as ``x509.SubjectKeyIdentifier.from_public_key``:
    the SHA-1 of the subjectPublicKey BIT STRING's value (unused-bits octet excluded)."""
    algorithm_at = 1 + len(_length_of(spki, 1)[0]) + 1  # past the outer header
    header, size = _length_of(spki, algorithm_at)
    bit_string_at = algorithm_at + len(header) + size + 1  # past the AlgorithmIdentifier
    header, size = _length_of(spki, bit_string_at)
    start = bit_string_at + len(header) + 1  # past the tag's header and unused-bits octet
    return hashlib.sha1(spki[start : start + size - 1]).digest()  # SHA-1: RFC 5280's method


def _length_of(der: bytes, at: int) -> tuple[bytes, int]:
    """The length octets at ``at`` (just after a tag) and the length they give."""
    first = der[at]
    if first < 0x80:
        return der[at : at + 1], first
    count = first & 0x7F
    return der[at : at + 1 + count], int.from_bytes(der[at + 1 : at + 1 + count], "big")


def ec_leaf(
    *,
    issuer: x509.Name,
    issuing_key: ec.EllipticCurvePrivateKey,
    subject: x509.Name,
    spki: bytes,
    serial: int,
    not_before: datetime,
    not_after: datetime,
    extensions: Sequence[bytes],
) -> x509.Certificate | None:
    """A v3 certificate with these fields, the subject's key as ``spki`` (its DER
    SubjectPublicKeyInfo) and DER-encoded ``extensions`` (in order), signed by
    ``issuing_key``; None when a field is outside what this encodes exactly
    as the builder does (then the caller uses the builder, which also says why)."""
    if not 0 < serial < _SERIAL_LIMIT:
        return None
    for moment in (not_before, not_after):
        if moment.tzinfo is None or moment.microsecond or moment.astimezone(UTC).year < 1950:
            return None
    algorithm, _ = _algorithm(issuing_key)
    validity = _tlv(_SEQUENCE, _time(not_before) + _time(not_after))
    tbs = _tlv(
        _SEQUENCE,
        _VERSION_3
        + _integer(serial)
        + algorithm
        + issuer.public_bytes()
        + validity
        + subject.public_bytes()
        + spki
        + _tlv(0xA3, _tlv(_SEQUENCE, b"".join(extensions))),
    )
    return x509.load_der_x509_certificate(_signed(tbs, issuing_key))
