"""Full fidelity: real keys, DER CSRs, signed leaves and CRLs, real path validation.

:class:`FullArtefacts` is the :class:`~testbed.pki.fidelity.Artefacts` every live
server and every ``fidelity: full`` run uses.
"""

from __future__ import annotations

import base64
import binascii
import random
from datetime import datetime
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from testbed.errors import CsrError, PkiError
from testbed.pki.chain import BundleIndex, bundle_index, chain_error, derive_facts
from testbed.pki.der import ec_csr
from testbed.pki.fidelity import (
    CrlTemplate,
    DeviceKey,
    Fidelity,
    LeafCertificate,
    LeafTemplate,
    PathFacts,
    Request,
    SubjectKey,
)
from testbed.pki.keys import (
    CsrCheck,
    CsrReading,
    KeyType,
    PrivateKey,
    PublicKey,
    csr_der,
    csr_key,
    ec_key,
    new_private_key,
    read_csr,
    signature_hash,
)
from testbed.pki.leaf_profile import authority_key_id, build_leaf, leaf_sans, leaf_subject

if TYPE_CHECKING:
    from testbed.pki.issuance import IssuingCA, Revocation
    from testbed.pki.trust import TrustBundle

__all__ = ["FullArtefacts"]

_WEAK_DIGESTS = frozenset({"md5", "sha1"})
_MAX_INDEXES = 4096  # bundle indexes kept before the cache starts again
_MAX_MEMOS = 1 << 16  # leaves built remembered before starting again


def _bad_signature(csr: x509.CertificateSigningRequest) -> str:
    """Why a CSR's signature was not accepted (a weak digest is named as such)."""
    try:
        digest = csr.signature_hash_algorithm
    except UnsupportedAlgorithm:
        return "the CSR is signed with an algorithm this CA does not support"
    if digest is not None and digest.name in _WEAK_DIGESTS:
        return f"the CSR is signed with {digest.name.upper()}, which this CA does not accept"
    return "the CSR's signature does not verify"


def _private(key: DeviceKey) -> PrivateKey:
    if not isinstance(key, PrivateKey):
        raise PkiError(f"full fidelity signs with real keys, got {type(key).__name__}")
    return key


def _x509(leaf: LeafCertificate) -> x509.Certificate:
    if not isinstance(leaf, x509.Certificate):
        raise PkiError(f"full fidelity reads real certificates, got {type(leaf).__name__}")
    return leaf


def _entry(revocation: Revocation) -> x509.RevokedCertificate:
    builder = (
        x509.RevokedCertificateBuilder()
        .serial_number(revocation.serial)
        .revocation_date(revocation.time)
    )
    if revocation.reason is not x509.ReasonFlags.unspecified:
        # RFC 5280 §5.3.1: the reason code "unspecified" SHOULD be absent.
        builder = builder.add_extension(x509.CRLReason(revocation.reason), critical=False)
    return builder.build()


class FullArtefacts:
    """Real artefacts.  Names and key identifiers are built once and kept: they never
    change for a device, a site or an issuing key.

    Two memos spare decoding again what this object has just built or read, each
    holding the object and checked by identity (``is``): the Authority Key Identifier
    of each leaf :meth:`sign_leaf` built (the value it put in; path facts need it;
    keyed by ``id``, which cannot be reused while the entry holds the leaf; cleared
    when full), and the last CSR :meth:`read_request` read (its loaded key and CN;
    :meth:`request_key` asks for them in the same enrollment).  Neither holds a
    verdict: signature and chain checks are never skipped
    (:func:`~testbed.pki.chain.chain_error`).
    """

    fidelity = Fidelity.FULL

    def __init__(self) -> None:
        self._subjects: dict[str, x509.Name] = {}
        self._csr_subjects: dict[str, bytes] = {}  # DER of CN=<device id>
        self._sans: dict[tuple[str, str], x509.Extension[x509.ExtensionType]] = {}
        self._aki: dict[str, x509.Extension[x509.ExtensionType]] = {}
        self._indexes: dict[bytes, BundleIndex] = {}
        self._built: dict[int, tuple[x509.Certificate, bytes | None]] = {}
        self._read: tuple[x509.CertificateSigningRequest, CsrReading] | None = None

    # -- keys and requests ---------------------------------------------------

    def new_key(self, key_type: KeyType, rng: random.Random | None) -> DeviceKey:
        """:func:`~testbed.pki.keys.new_private_key`."""
        return new_private_key(key_type, rng)

    def key_from_scalar(self, key_type: KeyType, scalar: int) -> DeviceKey:
        """:func:`~testbed.pki.keys.ec_key`."""
        return ec_key(key_type, scalar)

    def request(self, key: DeviceKey, cn: str) -> bytes:
        """Base64 DER PKCS#10, as a device sends it (RFC 7030 §4.2.1)."""
        private = _private(key)
        if not isinstance(private, ec.EllipticCurvePrivateKey):
            return base64.b64encode(csr_der(private, cn))
        subject = self._csr_subjects.get(cn)  # one per device, as the leaf's names
        if subject is None:
            name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
            subject = self._csr_subjects[cn] = name.public_bytes()
        return base64.b64encode(ec_csr(private, subject))

    def read_request(self, body: bytes) -> tuple[Request, CsrCheck]:
        """Decode the base64 DER CSR and verify its self-signature."""
        try:
            der = base64.b64decode(b"".join(body.split()), validate=True)
            csr = x509.load_der_x509_csr(der)
        except (binascii.Error, ValueError) as error:
            raise CsrError(f"the body is not a base64 DER CSR: {error}") from None
        reading = read_csr(csr)
        if not reading.check.valid:
            raise CsrError(_bad_signature(csr))
        self._read = (csr, reading)
        return csr, reading.check

    def request_key(self, request: Request, device_id: str) -> SubjectKey:
        """:func:`~testbed.pki.keys.csr_key`."""
        if not isinstance(request, x509.CertificateSigningRequest):
            raise PkiError(f"full fidelity reads DER CSRs, got {type(request).__name__}")
        memo, self._read = self._read, None
        reading = memo[1] if memo is not None and memo[0] is request else None
        return csr_key(request, device_id, reading=reading)

    def subject_key(self, certificate: LeafCertificate) -> SubjectKey:
        """The certificate's public key (EC or RSA)."""
        public = _x509(certificate).public_key()
        if not isinstance(public, PublicKey):
            raise PkiError(f"the certificate holds a {type(public).__name__}; expected EC or RSA")
        return public

    # -- signing -------------------------------------------------------------

    def sign_leaf(self, template: LeafTemplate) -> LeafCertificate:
        """:func:`~testbed.pki.leaf_profile.build_leaf`, signed by the issuing CA's key."""
        issuing = template.issuing
        if not isinstance(template.public, PublicKey):
            raise PkiError(f"full fidelity certifies real keys, got {template.public!r}")
        authority_key = self._authority_key(issuing)
        leaf = build_leaf(
            issuer=issuing.certificate.subject,
            issuing_key=issuing.key,
            authority_key=authority_key,
            subject=self._subject(template.device_id, template.trust_domain),
            sans=self._leaf_sans(template),
            public=template.public,
            serial=template.serial,
            not_before=template.not_before,
            not_after=template.not_after,
            locations=template.locations,
        )
        if len(self._built) >= _MAX_MEMOS:
            self._built.clear()
        value = authority_key.value
        identifier = None
        if isinstance(value, x509.AuthorityKeyIdentifier):
            identifier = value.key_identifier
        self._built[id(leaf)] = (leaf, identifier)
        return leaf

    def sign_crl(self, template: CrlTemplate) -> bytes | None:
        """A CRL signed by the issuing CA, all entries at once (RFC 5280 §5)."""
        issuing = template.issuing
        builder = x509.CertificateRevocationListBuilder(
            issuer_name=issuing.certificate.subject,
            last_update=template.this_update,
            next_update=template.next_update,
            extensions=[
                x509.Extension(x509.CRLNumber.oid, False, x509.CRLNumber(template.number)),
                self._authority_key(issuing),
            ],
            revoked_certificates=[_entry(r) for r in template.revoked],
        )
        crl = builder.sign(issuing.key, signature_hash(issuing.key))
        return crl.public_bytes(serialization.Encoding.DER)

    def _authority_key(self, issuing: IssuingCA) -> x509.Extension[x509.ExtensionType]:
        extension = self._aki.get(issuing.name)
        if extension is None:
            extension = self._aki[issuing.name] = authority_key_id(issuing.key)
        return extension

    def _subject(self, device_id: str, trust_domain: str) -> x509.Name:
        name = self._subjects.get(device_id)  # names are immutable: one per device
        if name is None:
            name = self._subjects[device_id] = leaf_subject(device_id, trust_domain)
        return name

    def _leaf_sans(self, template: LeafTemplate) -> x509.Extension[x509.ExtensionType]:
        key = (template.site, template.device_id)
        extension = self._sans.get(key)  # immutable too: one per (device, site)
        if extension is None:
            extension = leaf_sans(template.trust_domain, template.site, template.device_id)
            self._sans[key] = extension
        return extension

    # -- paths ---------------------------------------------------------------

    def path_facts(self, leaf: LeafCertificate, bundle: TrustBundle, *, chain: bool) -> PathFacts:
        """:func:`~testbed.pki.chain.derive_facts` under the bundle's index."""
        certificate = _x509(leaf)
        built = self._built.get(id(certificate))
        known = (built[1],) if built is not None and built[0] is certificate else None
        return derive_facts(certificate, self._index(bundle), chain=chain, authority_key=known)

    def chain_error(
        self, leaf: LeafCertificate, bundle: TrustBundle, *, at: datetime
    ) -> str | None:
        """``cryptography``'s path validation at ``at`` (:func:`~testbed.pki.chain.chain_error`)."""
        return chain_error(_x509(leaf), self._index(bundle), at)

    def _index(self, bundle: TrustBundle) -> BundleIndex:
        index = self._indexes.get(bundle.fingerprint)
        if index is None:
            if len(self._indexes) >= _MAX_INDEXES:
                self._indexes.clear()
            index = self._indexes[bundle.fingerprint] = bundle_index(bundle.certificates)
        return index
