"""The certificate part of a DICOM association, decided by the project's own hops.

Nothing here checks a chain, a validity window or a CRL: :class:`HopCertificates`
asks the access path's :class:`~testbed.hops.TlsHop` (which calls the
:class:`~testbed.pki.verify.Verifier` against the PACS site's trust bundle and the
issuer's current CRL) and :class:`~testbed.hops.RegistrationHop`, on the
:class:`~testbed.access.AccessContext` the access point builds
(:meth:`AccessPoint.context <testbed.access.AccessPoint.context>`: no decision, no event).

Two questions, in the order a real association asks them:

1. :meth:`handshake`: does the certificate verify at this PACS's site (``cert-*``,
   ``revocation-unknown``)?  Asked of no device: the TLS handshake comes before the
   A-ASSOCIATE request names a calling AE title.
2. :meth:`binding`: is it the certificate of the device the calling AE title belongs
   to, and is that device active (``identity-mismatch``, ``cert-superseded``,
   ``device-suspended``, ...)?
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Protocol

from testbed.access import AccessContext, Attempt
from testbed.decisions import Decision
from testbed.hops import RegistrationHop, TlsHop
from testbed.pki.fidelity import LeafCertificate

__all__ = ["CertificateCheck", "Contexts", "HopCertificates"]

Source = tuple[str, str] | None


class Contexts(Protocol):
    """What the hospital knows of an attempt (:class:`~testbed.access.AccessPoint`)."""

    def context(self, attempt: Attempt, *, now: datetime) -> AccessContext:
        """The attempt's context at ``now`` (no decision, no event)."""
        ...


class CertificateCheck(Protocol):
    """The certificate questions of an association (:class:`HopCertificates`)."""

    def handshake(
        self, certificate: LeafCertificate | None, *, service: str, source: Source, now: datetime
    ) -> Decision | None:
        """The refusal of ``certificate`` at ``service``'s site, or None."""
        ...

    def binding(
        self,
        certificate: LeafCertificate | None,
        *,
        device_id: str,
        service: str,
        source: Source,
        now: datetime,
    ) -> Decision | None:
        """The refusal of ``certificate`` as ``device_id``'s identity, or None."""
        ...


class HopCertificates:
    """:class:`CertificateCheck` by the access path's registration and TLS hops."""

    def __init__(
        self, *, contexts: Contexts, tls: TlsHop, registration: RegistrationHop | None = None
    ) -> None:
        self.contexts = contexts
        self.tls = tls
        self.registration = registration or RegistrationHop()

    def handshake(
        self, certificate: LeafCertificate | None, *, service: str, source: Source, now: datetime
    ) -> Decision | None:
        """The TLS hop on a context with no device: validity, chain, revocation only."""
        context = self._context("", certificate, service, source, now)
        return self.tls.check(replace(context, entry=None))

    def binding(
        self,
        certificate: LeafCertificate | None,
        *,
        device_id: str,
        service: str,
        source: Source,
        now: datetime,
    ) -> Decision | None:
        """The registration hop, then the TLS hop for ``device_id`` (its binding)."""
        context = self._context(device_id, certificate, service, source, now)
        return self.registration.check(context) or self.tls.check(context)

    def _context(
        self,
        device_id: str,
        certificate: LeafCertificate | None,
        service: str,
        source: Source,
        now: datetime,
    ) -> AccessContext:
        attempt = Attempt(device_id, service, certificate, source)
        return self.contexts.context(attempt, now=now)
