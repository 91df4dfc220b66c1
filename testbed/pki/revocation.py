"""Certificate revocation: CRLs, their distribution, and an OCSP responder core.

A CRL is built in one pass (the revoked entries are listed first and signed once:
adding them one call at a time is quadratic).  Relying parties check revocation
against :attr:`PublishedCrl.serials`, a set (a frozenset as published), never by
scanning the CRL.
Publication delay is the simulation's business: it decides when to call
:meth:`CrlDistribution.publish`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp

from testbed.errors import PkiError
from testbed.pki.ca import CertificateAuthority, IssuingCA, Revocation
from testbed.pki.fidelity import CrlTemplate
from testbed.pki.keys import signature_hash
from testbed.pki.revocation_reason import RevocationReason
from testbed.revision import Revision

__all__ = ["CrlDistribution", "PublishedCrl", "RevocationReason", "build_crl", "ocsp_response"]

_MAX_NONCE = 128  # octets; RFC 8954 §2.1: longer nonces are refused (malformedRequest)
_CERT_ID_HASHES = frozenset({"sha1", "sha224", "sha256", "sha384", "sha512"})
"""CertID hash algorithms the responder computes (RFC 6960 uses SHA-1; RFC 5019 allows SHA-2)."""


@dataclass(frozen=True, slots=True)
class PublishedCrl:
    """A CRL and the serials it lists, as relying parties receive it.

    ``der`` is the signed CRL at full fidelity and None when modeled (the issuer,
    the times and the serials are all a relying party reads).
    """

    issuer: str
    this_update: datetime
    next_update: datetime
    serials: AbstractSet[int]  # a frozenset, but for a validation lab's view with its own
    der: bytes | None

    def is_stale(self, now: datetime) -> bool:
        """Whether ``now`` is past nextUpdate (a relying party must not trust it)."""
        return now > self.next_update

    def pem(self) -> bytes:
        """The CRL in PEM form (full fidelity only)."""
        if self.der is None:
            raise PkiError(f"the CRL of {self.issuer!r} is modeled: it has no DER form")
        crl = x509.load_der_x509_crl(self.der)
        return crl.public_bytes(serialization.Encoding.PEM)


def build_crl(
    ca: CertificateAuthority,
    issuing: IssuingCA,
    *,
    now: datetime,
    next_update_after: timedelta,
) -> PublishedCrl:
    """Sign the CRL of one issuing CA (through ``ca.artefacts``): its certificates
    revoked by ``now``.

    RFC 5280 §3.3: an entry must stay until it has appeared on one CRL signed after
    the certificate expired; it leaves on the next one.  Dropping entries then keeps
    CRLs the size of the live population, not of history.
    """
    if next_update_after <= timedelta(0):
        raise PkiError(f"next_update_after must be positive, got {next_update_after}")
    records = ca.records
    last = ca.last_crl(issuing.name)
    gone = ca.off_crl(issuing.name)
    revoked = []
    dropped = []
    for r in ca.revocations.values():
        if r.time > now or r.serial in gone or records[r.serial].issuer != issuing.name:
            continue
        if _listed_after_expiry(r.serial, records[r.serial].not_after, last):
            dropped.append(r.serial)  # it has been on one CRL after its expiry: done
        else:
            revoked.append(r)
    next_update = now + next_update_after
    number = ca.next_crl_number(issuing.name)
    der = ca.artefacts.sign_crl(CrlTemplate(issuing, now, next_update, revoked, number))
    serials = frozenset(r.serial for r in revoked)
    ca.crl_signed(issuing.name, now, serials, dropped=dropped)
    return PublishedCrl(issuing.name, now, next_update, serials, der)


def _listed_after_expiry(
    serial: int, not_after: datetime, last: tuple[datetime, frozenset[int]] | None
) -> bool:
    """Whether the last CRL, signed after ``not_after``, already listed ``serial``."""
    return last is not None and last[0] > not_after and serial in last[1]


class CrlDistribution:
    """The CRLs relying parties can fetch: the latest published one per issuer.

    ``revision`` moves when what a relying party can conclude may change: a CRL that
    expires earlier or starts earlier than the one it replaces, the first CRL of an
    issuer, a withdrawal.  A routine reissue (same serials, later nextUpdate) does not
    move it: every allowance that stood under the old CRL stands under the new one
    until the old one's nextUpdate (see :mod:`testbed.standing`).  A reissue that
    lists other serials and is otherwise routine changes only what a relying party
    concludes of those serials: with ``holder`` (the device a serial was issued to),
    only their holders' allowances are let go
    (:meth:`~testbed.revision.Revision.devices_changed`; an allowance is only ever
    given to a certificate's holder: the TLS hop's binding); without it, or for a
    serial nobody holds, everyone's are.
    """

    def __init__(
        self,
        *,
        revision: Revision | None = None,
        holder: Callable[[int], str | None] | None = None,
    ) -> None:
        self._current: dict[str, PublishedCrl] = {}
        self.revision = revision or Revision()
        self._holder = holder

    def publish(self, crl: PublishedCrl) -> None:
        """Make ``crl`` the one relying parties fetch for its issuer."""
        old = self._current.get(crl.issuer)
        self._current[crl.issuer] = crl
        if old is None or crl.next_update < old.next_update or crl.this_update < old.this_update:
            self.revision.bump()
        elif crl.serials != old.serials:
            self._serials_changed(set(crl.serials) ^ set(old.serials))

    def _serials_changed(self, serials: set[int]) -> None:
        """Let go of the allowances of the holders of ``serials`` (of all, when one
        has none known)."""
        holder = self._holder
        holders = None if holder is None else {holder(serial) for serial in serials}
        if holders is None or None in holders:
            self.revision.bump()
        else:
            self.revision.devices_changed(sorted(h for h in holders if h is not None))

    def current(self, issuer_name: str) -> PublishedCrl | None:
        """The CRL relying parties see for ``issuer_name``, or None if none was published."""
        return self._current.get(issuer_name)

    def withdraw(self, issuer_name: str) -> None:
        """The distribution point stops serving ``issuer_name``'s CRL (relying parties
        then fail closed: revocation unknown)."""
        self._current.pop(issuer_name, None)
        self.revision.bump()


# -- OCSP (RFC 6960) ---------------------------------------------------------


def _key_bits(issuing: IssuingCA) -> bytes:
    """The issuer's subjectPublicKey BIT STRING contents (what issuerKeyHash hashes)."""
    public = issuing.key.public_key()
    if isinstance(public, ec.EllipticCurvePublicKey):
        return public.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
    return public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)


def _matches(issuing: IssuingCA, request: ocsp.OCSPRequest) -> bool:
    algorithm = request.hash_algorithm.name
    name_hash = hashlib.new(algorithm, issuing.certificate.subject.public_bytes()).digest()
    if name_hash != request.issuer_name_hash:
        return False
    return hashlib.new(algorithm, _key_bits(issuing)).digest() == request.issuer_key_hash


def _status(
    ca: CertificateAuthority, issuing: IssuingCA, serial: int, now: datetime
) -> tuple[ocsp.OCSPCertStatus, Revocation | None]:
    record = ca.records.get(serial)
    if record is None or record.issuer != issuing.name:
        return ocsp.OCSPCertStatus.UNKNOWN, None
    revocation = ca.revocations.get(serial)
    if revocation is None or revocation.time > now:
        return ocsp.OCSPCertStatus.GOOD, None
    return ocsp.OCSPCertStatus.REVOKED, revocation


def _unsuccessful(status: ocsp.OCSPResponseStatus) -> bytes:
    response = ocsp.OCSPResponseBuilder.build_unsuccessful(status)
    return response.public_bytes(serialization.Encoding.DER)


def ocsp_response(
    ca: CertificateAuthority,
    request_der: bytes,
    *,
    now: datetime,
    validity: timedelta = timedelta(hours=1),
) -> bytes:
    """Answer a DER OCSP request: GOOD, REVOKED or UNKNOWN, signed by the issuing CA.

    A request that does not parse gets MALFORMED_REQUEST; one naming an issuer this CA
    does not have gets UNAUTHORIZED (RFC 6960 §2.3).
    """
    try:
        request = ocsp.load_der_ocsp_request(request_der)
        serial = request.serial_number
        nonce = _nonce(request)
    except (ValueError, TypeError, NotImplementedError):
        # NotImplementedError: more than one certificate in the request (one per
        # request is what this responder, like most, answers)
        return _unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
    if nonce is not None and not 1 <= len(nonce) <= _MAX_NONCE:
        return _unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)  # RFC 8954 §2.1
    try:
        hash_algorithm = request.hash_algorithm
    except UnsupportedAlgorithm:
        hash_algorithm = None
    if hash_algorithm is None or hash_algorithm.name not in _CERT_ID_HASHES:
        # the issuer cannot be recognised by a hash this responder does not compute
        return _unsuccessful(ocsp.OCSPResponseStatus.UNAUTHORIZED)
    issuing = next((i for i in ca.issuing_cas() if _matches(i, request)), None)
    if issuing is None:
        return _unsuccessful(ocsp.OCSPResponseStatus.UNAUTHORIZED)
    status, revocation = _status(ca, issuing, serial, now)
    reason = revocation.reason if revocation is not None else None
    builder = ocsp.OCSPResponseBuilder().add_response_by_hash(
        issuer_name_hash=request.issuer_name_hash,
        issuer_key_hash=request.issuer_key_hash,
        serial_number=serial,
        algorithm=hash_algorithm,
        cert_status=status,
        this_update=now,
        next_update=now + validity,
        revocation_time=revocation.time if revocation is not None else None,
        revocation_reason=None if reason is x509.ReasonFlags.unspecified else reason,
    )
    builder = builder.responder_id(ocsp.OCSPResponderEncoding.HASH, issuing.certificate)
    if nonce is not None:
        # RFC 8954 §2.1: a responder that supports nonces echoes the request's nonce
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    response = builder.sign(issuing.key, _ocsp_hash(issuing))
    return response.public_bytes(serialization.Encoding.DER)


def _nonce(request: ocsp.OCSPRequest) -> bytes | None:
    try:
        return request.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
    except x509.ExtensionNotFound:
        return None


def _ocsp_hash(issuing: IssuingCA) -> hashes.HashAlgorithm:
    return signature_hash(issuing.key)
