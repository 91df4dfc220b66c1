"""Enrollment over Secure Transport (RFC 7030), the decision core without I/O.

:class:`EstService` answers ``cacerts``, ``simpleenroll`` and ``simplereenroll`` with
an :class:`EstResponse` (status, headers, body, reason); an HTTPS server wraps it and
passes in the HTTP Basic credentials and the TLS client certificate.  Nothing is
issued on a refusal, and every enrollment call writes exactly one event.

Checks, in order: a whole-CA outage (503 + Retry-After); content type ``application/pkcs10``
(415); authentication (401 with a Basic challenge; re-enrollment, where only the
current certificate authenticates: a missing, foreign, revoked, expired or superseded
certificate, 403); base64 DER CSR with a valid signature (400); the CSR's one CN
against the authenticated device (403), and on re-enrollment a subject and SANs
unchanged (RFC 7030 §4.2.2, 403); the device's registration, state and approval
(403 / 202 + Retry-After); a key of the device's registered type (400); an outage of the
issuing CA of the device's site (503 + Retry-After, per-site issuing).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7

from testbed.clock import isoformat
from testbed.decisions import Reason
from testbed.errors import CsrError, PkiError
from testbed.events import UNAUTHENTICATED, EventKind, EventLog
from testbed.lifecycle import DeviceState
from testbed.pki.ca import CertificateAuthority, IssuanceRecord
from testbed.pki.fidelity import LeafCertificate, Request
from testbed.pki.keys import CsrCheck
from testbed.pki.outage import CaOutages

__all__ = [
    "CERTS_ONLY",
    "REENROLL_GRACE",
    "EnrollmentDirectory",
    "EnrollmentSubject",
    "EstResponse",
    "EstService",
    "certs_only",
]

REENROLL_GRACE = timedelta(minutes=10)
"""How long after a renewal the certificate it replaced may ask again, and be given the
same successor (a lost answer, re-delivered: RFC 7030 §4.2.2 re-enrollment made
idempotent), as long as the successor has not been used."""

CERTS_ONLY = "application/pkcs7-mime; smime-type=certs-only"
"""The content type of ``cacerts`` and enrollment answers (RFC 7030 §4.1.3, §4.2.3)."""

_PKCS10 = "application/pkcs10"
_CLAIMED = 64  # characters of a claimed (unauthenticated) user name written to the log
Headers = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class EnrollmentSubject:
    """What the device registry says about a device that asks for a certificate.

    ``may_enroll`` is False in the suspended, retired or unregistered states; ``state``
    names the state (a :class:`~testbed.lifecycle.DeviceState` value: suspended maps to
    DEVICE_SUSPENDED, anything else to
    DEVICE_RETIRED); ``approved`` False means manual approval is pending;
    ``key_type`` is the registered certificate type, the only key the CA certifies
    for the device (:func:`~testbed.pki.keys.key_label`'s spelling).
    """

    device_id: str
    site: str
    services: tuple[str, ...]
    owner: str
    lifetime: timedelta
    on_expiry: str
    may_enroll: bool
    approved: bool
    key_type: str
    state: str = "active"


class EnrollmentDirectory(Protocol):
    """The registry side of enrollment: who the device is and what it may get."""

    def subject(self, device_id: str) -> EnrollmentSubject | None:
        """The registered device, or None when it is not registered."""
        ...

    def bootstrap_device(self, username: str, password: str) -> str | None:
        """The device id when the HTTP Basic bootstrap credentials are right, else None."""
        ...

    def current_serial(self, device_id: str) -> int | None:
        """The serial of the device's one active certificate, if it has one."""
        ...

    def on_issued(
        self, device_id: str, certificate: LeafCertificate, *, now: datetime, renewal: bool
    ) -> None:
        """Notification: a certificate was issued (or renewed) for the device."""
        ...


@dataclass(frozen=True, slots=True)
class EstResponse:
    """One EST answer, ready for an HTTP server to send.

    ``content`` is the body, or the certificates of a certs-only answer, which
    :attr:`body` encodes when it is read: a simulated device takes
    :attr:`certificate` and never reads the body, and the encoding costs more than the
    rest of a renewal besides signing.  A modeled certificate has no body.
    """

    status: int
    headers: tuple[tuple[str, str], ...]
    content: bytes | tuple[LeafCertificate, ...]
    reason: Reason
    device_id: str | None
    certificate: LeafCertificate | None

    @property
    def body(self) -> bytes:
        """The HTTP body (a certs-only answer is base64 DER PKCS#7, RFC 7030 §4.1.3)."""
        if isinstance(self.content, bytes):
            return self.content
        real = [c for c in self.content if isinstance(c, x509.Certificate)]
        if len(real) != len(self.content):
            raise PkiError("a modeled certificate has no DER form; live mode is full fidelity")
        return certs_only(real)


class _Refusal(Exception):
    """Internal: a refusal travelling up to the endpoint that reports it."""

    def __init__(self, status: int, reason: Reason, detail: str, headers: Headers = ()) -> None:
        super().__init__(detail)
        self.status = status
        self.reason = reason
        self.detail = detail
        self.headers = headers


def certs_only(certificates: Sequence[x509.Certificate]) -> bytes:
    """Base64 (with line breaks) of a DER PKCS#7 certs-only structure."""
    der = pkcs7.serialize_certificates(list(certificates), Encoding.DER)
    return base64.encodebytes(der)


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


class EstService:
    """The EST server core over one CA and one enrollment directory."""

    retry_after: int

    def __init__(
        self,
        *,
        ca: CertificateAuthority,
        directory: EnrollmentDirectory,
        log: EventLog | None = None,
        outages: CaOutages | None = None,
    ) -> None:
        self.ca = ca
        self.directory = directory
        self.log = log
        #: the CA's outages (faults) now; shared with whoever starts and ends them
        self.outages = outages if outages is not None else CaOutages()
        self.retry_after = 300
        self.answers = 0  # enrollment answers given (each writes one event with a log)
        #: how long after a renewal its predecessor may still ask: the device whose
        #: answer was lost retries with the certificate it still holds, and is given the
        #: same successor again (never a new one), until the successor is used
        self.reenroll_grace = REENROLL_GRACE

    # -- cacerts (RFC 7030 §4.1) --------------------------------------------

    def cacerts(self, *, site: str | None = None) -> EstResponse:
        """The root and the issuing CAs (of ``site`` when given), PKCS#7 certs-only."""
        if site is not None and site not in self.ca.sites:
            detail = f"unknown site label {site!r}; known: {list(self.ca.sites)}"
            return self._plain(404, Reason.NOT_REGISTERED, detail, (), None)
        issuing = [
            i.certificate
            for i in self.ca.issuing_cas()
            if site is None or i.site is None or i.site == site
        ]
        certificates = (self.ca.root, *issuing)
        return EstResponse(200, self._certs_headers(), certificates, Reason.OK, None, None)

    # -- simpleenroll (RFC 7030 §4.2.1) -------------------------------------

    def simpleenroll(
        self,
        body: bytes,
        *,
        content_type: str,
        basic: tuple[str, str] | None,
        client_cert: LeafCertificate | None,
        now: datetime,
    ) -> EstResponse:
        """First enrollment, authenticated by bootstrap credentials or a CA certificate."""
        device_id: str | None = None
        try:
            self._precheck(content_type)
            device_id = self._enroll_identity(basic, client_cert, now)
            csr, check = self._checked_csr(body, device_id, Reason.CSR_SUBJECT_MISMATCH)
            return self._issue(csr, check, device_id, None, now, "simpleenroll")
        except _Refusal as refusal:
            return self._refuse(refusal, device_id, now, "simpleenroll")

    # -- simplereenroll (RFC 7030 §4.2.2) -----------------------------------

    def simplereenroll(
        self,
        body: bytes,
        *,
        content_type: str,
        client_cert: LeafCertificate | None,
        now: datetime,
    ) -> EstResponse:
        """Re-enrollment, authenticated only by the certificate being renewed."""
        device_id: str | None = None
        try:
            self._precheck(content_type)
            record = self._current_record(client_cert, now, grace=True)
            device_id = record.device_id
            changed = Reason.REENROLL_IDENTITY_CHANGED
            csr, check = self._checked_csr(body, device_id, changed)
            current = self.directory.current_serial(device_id)
            if current is not None and current != record.serial:  # within the grace
                return self._redeliver(csr, record, current, now)
            # a modeled CSR is always bare (CN only): only a real one can ask for more
            if (
                not check.bare
                and isinstance(csr, x509.CertificateSigningRequest)
                and isinstance(client_cert, x509.Certificate)
            ):
                _same_identity(csr, client_cert)
            return self._issue(csr, check, device_id, record, now, "simplereenroll")
        except _Refusal as refusal:
            return self._refuse(
                refusal, device_id or self._holder(client_cert), now, "simplereenroll"
            )

    # -- checks ---------------------------------------------------------------

    def _holder(self, client_cert: LeafCertificate | None) -> str | None:
        """The device a refused client certificate was issued to, for the audit event."""
        if client_cert is None or not self.ca.is_issued(client_cert):
            return None
        return self.ca.records[client_cert.serial_number].device_id

    def _precheck(self, content_type: str) -> None:
        if self.outages.down():
            raise self._unavailable("the CA")
        if _media_type(content_type) != _PKCS10:
            detail = f"content type {content_type!r} is not {_PKCS10}"
            raise _Refusal(415, Reason.UNSUPPORTED_MEDIA_TYPE, detail)

    def _unavailable(self, what: str) -> _Refusal:
        """503 with Retry-After (RFC 7030 §4.2.3): ``what`` is down (a fault)."""
        retry = (("Retry-After", str(self.retry_after)),)
        return _Refusal(503, Reason.CA_UNAVAILABLE, f"{what} is unavailable", retry)

    def _enroll_identity(
        self,
        basic: tuple[str, str] | None,
        client_cert: LeafCertificate | None,
        now: datetime,
    ) -> str:
        if basic is not None:
            device_id = self.directory.bootstrap_device(*basic)
            if device_id is not None:
                return device_id
        if client_cert is not None:
            return self._current_record(client_cert, now, status_refusal=401).device_id
        if basic is not None:  # the id claimed, so guessing against one device shows
            detail = f"wrong bootstrap credentials for {basic[0][:_CLAIMED]!r}"
        else:
            detail = "no credentials or client certificate"
        raise _unauthorized(detail)

    def _current_record(
        self,
        client_cert: LeafCertificate | None,
        now: datetime,
        *,
        status_refusal: int = 403,
        grace: bool = False,
    ) -> IssuanceRecord:
        """The record of a client certificate this CA issued, unrevoked and in its window:
        the device's current one, or (with ``grace``) the one a renewal just replaced
        (:meth:`_in_grace`).  The current one is thereby in use (:meth:`~testbed.pki.ca.
        CertificateAuthority.mark_used`)."""
        if client_cert is None:
            # not a 401: no HTTP authentication scheme would be accepted instead
            detail = "re-enrollment needs the current certificate as the TLS client certificate"
            raise _Refusal(403, Reason.CERT_MISSING, detail)
        serial = client_cert.serial_number
        if not self.ca.is_issued(client_cert):
            detail = f"the client certificate {serial:#x} was not issued by this CA"
            raise _status_refusal(status_refusal, Reason.BOOTSTRAP_AUTH_FAILED, detail)
        record = self.ca.records[serial]
        if self.ca.revoked_at(serial) is not None:
            detail = f"the client certificate {serial:#x} is revoked"
            raise _status_refusal(status_refusal, Reason.CERT_REVOKED, detail)
        if now > record.not_after:
            detail = f"the client certificate {serial:#x} expired at {isoformat(record.not_after)}"
            raise _status_refusal(status_refusal, Reason.CERT_EXPIRED, detail)
        if now < record.not_before:
            detail = f"the client certificate {serial:#x} is not valid before {record.not_before}"
            raise _status_refusal(status_refusal, Reason.CERT_NOT_YET_VALID, detail)
        current = self.directory.current_serial(record.device_id)
        if current is None or current == serial:
            self.ca.mark_used(serial)
            return record
        if not (grace and self._in_grace(serial, current, now)):
            # an old copy of a renewed identity must not mint new ones
            detail = f"the client certificate {serial:#x} was superseded by {current:#x}"
            if self.ca.used(current):
                detail += ", which is in use"
            raise _status_refusal(status_refusal, Reason.CERT_SUPERSEDED, detail)
        return record

    def _in_grace(self, serial: int, current: int, now: datetime) -> bool:
        """Whether ``serial`` may still ask although ``current`` superseded it:
        ``current`` renewed exactly it, within :attr:`reenroll_grace`, and nobody has
        used ``current`` yet (the device never got the answer)."""
        renewed = self.ca.record(current)
        if renewed is None or renewed.renewal_of != serial or self.ca.used(current):
            return False
        issued = renewed.not_before + self.ca.backdate
        return now <= issued + self.reenroll_grace

    def _redeliver(
        self, csr: Request, previous: IssuanceRecord, current: int, now: datetime
    ) -> EstResponse:
        """The answer a renewal already gave, again (RFC 7030 §4.2.2 made idempotent):
        the successor ``current``, never a new certificate, and only to the same
        request (the key the successor certifies); any other request is an old copy
        of the identity trying to mint a new one."""
        device_id = previous.device_id
        successor = self.ca.certificate(current)
        try:
            asked = self.ca.artefacts.request_key(csr, device_id)
        except CsrError as error:
            raise _Refusal(400, Reason.CSR_INVALID, str(error)) from None
        if asked != self.ca.artefacts.subject_key(successor):
            detail = (
                f"the client certificate {previous.serial:#x} was superseded by {current:#x} "
                "for another key; only a retry of that request gets its answer again"
            )
            raise _Refusal(403, Reason.CERT_SUPERSEDED, detail)
        self.answers += 1
        if self.log is not None:
            self.log.emit(now, EventKind.CERTIFICATE_REDELIVERED, device_id,
                          serial=f"{current:x}", renewal_of=f"{previous.serial:x}",
                          endpoint="simplereenroll")  # fmt: skip
        return EstResponse(
            200, self._certs_headers(), (successor,), Reason.OK, device_id, successor
        )

    def _checked_csr(
        self, body: bytes, device_id: str, mismatch: Reason
    ) -> tuple[Request, CsrCheck]:
        try:
            csr, check = self.ca.artefacts.read_request(body)
        except CsrError as error:
            raise _Refusal(400, Reason.CSR_INVALID, str(error)) from None
        if check.cn is None:
            detail = f"the CSR's subject must have exactly one CN, the device id {device_id!r}"
            raise _Refusal(403, mismatch, detail)
        if check.cn != device_id:
            detail = (
                f"the CSR's subject CN {check.cn!r} does not match the registered device "
                f"{device_id!r}"
            )
            raise _Refusal(403, mismatch, detail)
        return csr, check

    def _subject(self, device_id: str) -> EnrollmentSubject:
        subject = self.directory.subject(device_id)
        if subject is None:
            raise _Refusal(403, Reason.NOT_REGISTERED, f"device {device_id!r} is not registered")
        if not subject.may_enroll:
            reason = (
                Reason.DEVICE_SUSPENDED
                if subject.state == DeviceState.SUSPENDED
                else Reason.DEVICE_RETIRED
            )
            raise _Refusal(
                403, reason, f"device {device_id!r} is {subject.state}; it may not enroll"
            )
        if not subject.approved:
            retry = (("Retry-After", str(self.retry_after)),)
            detail = f"enrollment of {device_id!r} waits for manual approval"
            raise _Refusal(202, Reason.PENDING_APPROVAL, detail, retry)
        return subject

    # -- answers --------------------------------------------------------------

    def _issue(
        self,
        csr: Request,
        check: CsrCheck,
        device_id: str,
        previous: IssuanceRecord | None,
        now: datetime,
        endpoint: str,
    ) -> EstResponse:
        subject = self._subject(device_id)
        if check.key != subject.key_type:
            detail = (
                f"the CSR's key is {check.key}; device {device_id!r} is registered for "
                f"{subject.key_type} keys"
            )
            raise _Refusal(400, Reason.CSR_INVALID, detail)
        site = previous.site if previous is not None else subject.site
        if self.outages.down(site):
            raise self._unavailable(f"the issuing CA of site {site!r}")
        renewal_of = previous.serial if previous is not None else None
        try:
            public = self.ca.artefacts.request_key(csr, device_id)
        except CsrError as error:
            raise _Refusal(400, Reason.CSR_INVALID, str(error)) from None
        try:
            certificate = self.ca.issue_key(
                public,
                device_id=device_id,
                site=site,
                services=subject.services,
                requester=subject.owner,
                on_expiry=subject.on_expiry,
                lifetime=subject.lifetime,
                now=now,
                renewal_of=renewal_of,
            )
        except (PkiError, ValueError) as error:  # e.g. a name no certificate can carry
            detail = f"the CA cannot issue for {device_id!r}: {error}"
            raise _Refusal(400, Reason.CSR_INVALID, detail) from None
        renewal = previous is not None
        self.directory.on_issued(device_id, certificate, now=now, renewal=renewal)
        self.answers += 1
        self._emit_issued(certificate, device_id, now, endpoint, renewal=renewal)
        return EstResponse(
            200, self._certs_headers(), (certificate,), Reason.OK, device_id, certificate
        )

    def _emit_issued(
        self,
        certificate: LeafCertificate,
        device_id: str,
        now: datetime,
        endpoint: str,
        *,
        renewal: bool,
    ) -> None:
        if self.log is None:
            return
        kind = EventKind.CERTIFICATE_RENEWED if renewal else EventKind.CERTIFICATE_ISSUED
        record = self.ca.records[certificate.serial_number]
        self.log.emit(
            now,
            kind,
            device_id,
            serial=f"{record.serial:x}",
            issuer=record.issuer,
            not_after=isoformat(record.not_after),
            endpoint=endpoint,
        )

    def _refuse(
        self, refusal: _Refusal, device_id: str | None, now: datetime, endpoint: str
    ) -> EstResponse:
        self.answers += 1
        if self.log is not None:
            self.log.emit(
                now,
                EventKind.ENROLLMENT_REFUSED,
                device_id or UNAUTHENTICATED,
                endpoint=endpoint,
                status=refusal.status,
                reason=refusal.reason.value,
                detail=refusal.detail,
            )
        return self._plain(
            refusal.status, refusal.reason, refusal.detail, refusal.headers, device_id
        )

    @staticmethod
    def _plain(
        status: int, reason: Reason, detail: str, headers: Headers, device_id: str | None
    ) -> EstResponse:
        all_headers = (("Content-Type", "text/plain; charset=utf-8"), *headers)
        return EstResponse(status, all_headers, detail.encode(), reason, device_id, None)

    @staticmethod
    def _certs_headers() -> Headers:
        return (("Content-Type", CERTS_ONLY), ("Content-Transfer-Encoding", "base64"))


def _same_identity(csr: x509.CertificateSigningRequest, current: x509.Certificate) -> None:
    """RFC 7030 §4.2.2: a re-enrollment's subject and SANs are the current certificate's.

    A request for the device id alone (CN only, no extensions) leaves both to the CA,
    which copies them; anything more must equal what the certificate has.
    """
    changed = Reason.REENROLL_IDENTITY_CHANGED
    if len(csr.subject) != 1 and csr.subject != current.subject:
        detail = (
            f"the CSR's subject {csr.subject.rfc4514_string()!r} differs from the current "
            f"certificate's {current.subject.rfc4514_string()!r}"
        )
        raise _Refusal(403, changed, detail)
    try:
        requested = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return
    except ValueError as error:
        raise _Refusal(400, Reason.CSR_INVALID, f"the CSR's extensions: {error}") from None
    try:
        held = current.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        held = None
    if requested != held:
        detail = "the CSR asks for other subject alternative names than the current certificate's"
        raise _Refusal(403, changed, detail)


def _unauthorized(detail: str) -> _Refusal:
    challenge = (("WWW-Authenticate", 'Basic realm="est"'),)
    return _Refusal(401, Reason.BOOTSTRAP_AUTH_FAILED, detail, challenge)


def _status_refusal(status: int, reason: Reason, detail: str) -> _Refusal:
    if status == 401:
        return _unauthorized(detail)
    return _Refusal(status, reason, detail)
