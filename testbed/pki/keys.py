"""Key pairs and certificate signing requests.

With a seeded :class:`random.Random` the elliptic-curve keys are *derived* from the
generator (``ec.derive_private_key(rng.randrange(1, n), curve)``), so the same scenario
and seed give the same keys.  RSA keys are never seed-derived: the generator is
ignored and the key comes from the operating system's randomness.  ECDSA signatures
stay randomised either way; nothing in the testbed compares signature bytes.
"""

from __future__ import annotations

import random
from enum import StrEnum
from typing import NamedTuple

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from testbed.errors import CsrError, PkiError
from testbed.pki.der import ec_csr

__all__ = [
    "EC_KEY_TYPES",
    "CsrCheck",
    "CsrReading",
    "KeyType",
    "PrivateKey",
    "PublicKey",
    "check_csr",
    "checked_csr_key",
    "common_name",
    "csr_der",
    "ec_key",
    "key_label",
    "make_csr",
    "new_key_scalar",
    "new_private_key",
    "new_serial_number",
    "read_csr",
    "request_and_check",
    "signature_hash",
]

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
"""The private key types the testbed's CAs and devices use."""

PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey
"""The public halves of :data:`PrivateKey`."""

_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_P384_ORDER = int(
    "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973",
    16,
)
_SERIAL_LIMIT = 2**159


class KeyType(StrEnum):
    """The key algorithms a CA or a device may use."""

    EC_P256 = "ec-p256"
    EC_P384 = "ec-p384"
    RSA_2048 = "rsa-2048"


EC_KEY_TYPES = frozenset({KeyType.EC_P256, KeyType.EC_P384})
"""The key types whose keys are derived from a private value (seedable)."""


def _curve(key_type: KeyType) -> tuple[ec.EllipticCurve, int]:
    if key_type is KeyType.EC_P256:
        return ec.SECP256R1(), _P256_ORDER
    if key_type is KeyType.EC_P384:
        return ec.SECP384R1(), _P384_ORDER
    raise PkiError(f"{key_type!r} is not an elliptic-curve key type; expected ec-p256 or ec-p384")


def new_private_key(key_type: KeyType, rng: random.Random | None) -> PrivateKey:
    """A new private key; seed-derived for EC keys when ``rng`` is given.

    RSA keys ignore ``rng`` (they are not seed-derived) and use OS randomness.
    """
    if key_type is KeyType.RSA_2048:
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if rng is None:
        return ec.generate_private_key(_curve(KeyType(key_type))[0])
    return ec_key(key_type, new_key_scalar(key_type, rng))


def new_key_scalar(key_type: KeyType, rng: random.Random) -> int:
    """The private value of the next seed-derived EC key (what :func:`new_private_key` draws)."""
    return rng.randrange(1, _curve(KeyType(key_type))[1])


def ec_key(key_type: KeyType, scalar: int) -> ec.EllipticCurvePrivateKey:
    """The EC private key with the private value ``scalar``."""
    return ec.derive_private_key(scalar, _curve(KeyType(key_type))[0])


class CsrCheck(NamedTuple):
    """What the EST service reads from a CSR's bytes (:func:`check_csr`)."""

    valid: bool  #: the self-signature verifies (proof of possession, RFC 7030 §3.4)
    cn: str | None  #: the subject's one CN; None when it has none or several
    key: str  #: the key's type as :class:`KeyType` spells it (``ec-p256``, ``rsa-1024``)
    bare: bool  #: the subject is the CN alone and no extension is requested


def check_csr(csr: x509.CertificateSigningRequest) -> CsrCheck:
    """The EST checks' inputs: signature, subject CN, key type, anything else asked for."""
    return read_csr(csr).check


class CsrReading(NamedTuple):
    """A CSR read once: :func:`check_csr`'s answer, and what :func:`csr_key` reads."""

    check: CsrCheck
    first_cn: str | None  #: the subject's first CN (:func:`common_name`)
    public: object | None  #: the public key; None when ``cryptography`` cannot load it


def read_csr(csr: x509.CertificateSigningRequest) -> CsrReading:
    """:func:`check_csr`, decoding the subject and the public key once."""
    subject = csr.subject
    names = subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    cn = None
    if len(names) == 1:
        value = names[0].value
        cn = value if isinstance(value, str) else value.decode()
    first = None
    if names:
        value = names[0].value
        first = value if isinstance(value, str) else value.decode()
    public: object | None
    try:
        public = csr.public_key()
        key = key_label(public)
    except (UnsupportedAlgorithm, ValueError):
        public = None
        key = "unsupported"
    try:
        bare = len(subject) == 1 and len(csr.extensions) == 0
    except ValueError:  # a malformed or duplicated extension
        bare = False
    return CsrReading(CsrCheck(csr.is_signature_valid, cn, key, bare), first, public)


def key_label(public: object) -> str:
    """A public key's type in :class:`KeyType`'s spelling: ``ec-p256``, ``ec-p384``,
    ``rsa-2048``; other keys alike (``rsa-1024``, ``ec-secp256k1``, ``ed25519``)."""
    if isinstance(public, ec.EllipticCurvePublicKey):
        return _CURVE_LABELS.get(public.curve.name, f"ec-{public.curve.name}")
    if isinstance(public, rsa.RSAPublicKey):
        return f"rsa-{public.key_size}"
    return type(public).__name__.removeprefix("_").removesuffix("PublicKey").lower()


_CURVE_LABELS = {"secp256r1": KeyType.EC_P256.value, "secp384r1": KeyType.EC_P384.value}


def request_and_check(key: PrivateKey, cn: str) -> tuple[bytes, CsrCheck]:
    """A CSR (DER) with subject ``CN=cn`` signed by ``key``, and :func:`check_csr` of its bytes."""
    der = csr_der(key, cn)
    return der, check_csr(x509.load_der_x509_csr(der))


def new_serial_number(rng: random.Random | None) -> int:
    """A positive certificate serial number below 2**159 (RFC 5280: at most 20 octets)."""
    if rng is None:
        return x509.random_serial_number()
    return rng.randrange(1, _SERIAL_LIMIT)


def signature_hash(key: PrivateKey) -> hashes.SHA256 | hashes.SHA384:
    """The digest a key signs with: SHA-384 for P-384, SHA-256 otherwise."""
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.key_size >= 384:
        return hashes.SHA384()
    return hashes.SHA256()


def csr_der(key: PrivateKey, common_name: str) -> bytes:
    """The DER of :func:`make_csr`'s request (encoded by :func:`~testbed.pki.der.ec_csr`
    for an EC key: byte for byte the builder's request info, tested)."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        return ec_csr(key, subject.public_bytes())
    return make_csr(key, common_name).public_bytes(Encoding.DER)


def make_csr(key: PrivateKey, common_name: str) -> x509.CertificateSigningRequest:
    """A PKCS#10 request whose subject is only ``CN=common_name`` (a device's request)."""
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    builder = x509.CertificateSigningRequestBuilder().subject_name(subject)
    return builder.sign(key, signature_hash(key))


def common_name(name: x509.Name) -> str | None:
    """The first CN of a name, or None when it has none."""
    attributes = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not attributes:
        return None
    value = attributes[0].value
    return value if isinstance(value, str) else value.decode()


def checked_csr_key(csr: x509.CertificateSigningRequest, device_id: str) -> PublicKey:
    """The CSR's public key, after checking its signature and that its CN is ``device_id``."""
    if not csr.is_signature_valid:
        raise CsrError(f"the CSR for {device_id!r} has an invalid signature")
    return csr_key(csr, device_id)


def csr_key(
    csr: x509.CertificateSigningRequest, device_id: str, *, reading: CsrReading | None = None
) -> PublicKey:
    """The CSR's public key once its CN is ``device_id`` (its signature checked elsewhere).

    ``reading``: :func:`read_csr` of this very CSR object, if the caller has it (its
    loaded key and CN are used instead of decoding them again).
    """
    cn = common_name(csr.subject) if reading is None else reading.first_cn
    if cn != device_id:
        raise CsrError(f"the CSR's subject CN {cn!r} does not match the device {device_id!r}")
    public = csr.public_key() if reading is None or reading.public is None else reading.public
    if not isinstance(public, PublicKey):
        raise CsrError(
            f"the CSR for {device_id!r} has a {type(public).__name__}; expected EC or RSA"
        )
    return public
