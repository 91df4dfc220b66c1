"""Certificate revocation: CRLs, their distribution, and an OCSP responder core.

A CRL is built in one pass (the revoked entries are listed first and signed once:
adding them one call at a time is quadratic).  Relying parties check revocation
against :attr:`PublishedCrl.serials`, a frozenset, never by scanning the CRL.
Publication delay is the simulation's business: it decides when to call
:meth:`CrlDistribution.publish`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp

from testbed.errors import PkiError
from testbed.pki.ca import CertificateAuthority, IssuingCA, Revocation
from testbed.pki.keys import signature_hash

__all__ = ["CrlDistribution", "PublishedCrl", "build_crl", "ocsp_response"]


@dataclass(frozen=True, slots=True)
class PublishedCrl:
    """A signed CRL and the serials it lists, as relying parties receive it."""

    issuer: str
    this_update: datetime
    next_update: datetime
    serials: frozenset[int]
    der: bytes

    def is_stale(self, now: datetime) -> bool:
        """Whether ``now`` is past nextUpdate (a relying party must not trust it)."""
        return now > self.next_update

    def pem(self) -> bytes:
        """The CRL in PEM form."""
        crl = x509.load_der_x509_crl(self.der)
        return crl.public_bytes(serialization.Encoding.PEM)


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


def _aki(issuing: IssuingCA) -> x509.AuthorityKeyIdentifier:
    ski = x509.SubjectKeyIdentifier.from_public_key(issuing.key.public_key())
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


def build_crl(
    ca: CertificateAuthority,
    issuing: IssuingCA,
    *,
    now: datetime,
    next_update_after: timedelta,
) -> PublishedCrl:
    """Sign the CRL of one issuing CA: its unexpired certificates revoked by ``now``."""
    if next_update_after <= timedelta(0):
        raise PkiError(f"next_update_after must be positive, got {next_update_after}")
    records = ca.records
    # RFC 5280 §3.3: an entry may leave the CRL once the certificate has expired;
    # dropping them keeps CRLs the size of the live population, not of history.
    revoked = [
        r for r in ca.revocations.values()
        if r.time <= now and records[r.serial].issuer == issuing.name
        and records[r.serial].not_after >= now
    ]  # fmt: skip
    next_update = now + next_update_after
    builder = x509.CertificateRevocationListBuilder(
        issuer_name=issuing.certificate.subject,
        last_update=now,
        next_update=next_update,
        extensions=[
            x509.Extension(
                x509.CRLNumber.oid, False, x509.CRLNumber(ca.next_crl_number(issuing.name))
            ),
            x509.Extension(x509.AuthorityKeyIdentifier.oid, False, _aki(issuing)),
        ],
        revoked_certificates=[_entry(r) for r in revoked],
    )
    crl = builder.sign(issuing.key, signature_hash(issuing.key))
    der = crl.public_bytes(serialization.Encoding.DER)
    serials = frozenset(r.serial for r in revoked)
    return PublishedCrl(issuing.name, now, next_update, serials, der)


class CrlDistribution:
    """The CRLs relying parties can fetch: the latest published one per issuer."""

    def __init__(self) -> None:
        self._current: dict[str, PublishedCrl] = {}

    def publish(self, crl: PublishedCrl) -> None:
        """Make ``crl`` the one relying parties fetch for its issuer."""
        self._current[crl.issuer] = crl

    def current(self, issuer_name: str) -> PublishedCrl | None:
        """The CRL relying parties see for ``issuer_name``, or None if none was published."""
        return self._current.get(issuer_name)


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
        hash_algorithm = request.hash_algorithm
    except (ValueError, TypeError):
        return _unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
    issuing = next((i for i in ca.issuing_cas() if _matches(i, request)), None)
    if issuing is None:
        return _unsuccessful(ocsp.OCSPResponseStatus.UNAUTHORIZED)
    status, revocation = _status(ca, issuing, request.serial_number, now)
    reason = revocation.reason if revocation is not None else None
    builder = ocsp.OCSPResponseBuilder().add_response_by_hash(
        issuer_name_hash=request.issuer_name_hash,
        issuer_key_hash=request.issuer_key_hash,
        serial_number=request.serial_number,
        algorithm=hash_algorithm,
        cert_status=status,
        this_update=now,
        next_update=now + validity,
        revocation_time=revocation.time if revocation is not None else None,
        revocation_reason=None if reason is x509.ReasonFlags.unspecified else reason,
    )
    builder = builder.responder_id(ocsp.OCSPResponderEncoding.HASH, issuing.certificate)
    response = builder.sign(issuing.key, _ocsp_hash(issuing))
    return response.public_bytes(serialization.Encoding.DER)


def _ocsp_hash(issuing: IssuingCA) -> hashes.HashAlgorithm:
    return signature_hash(issuing.key)
