"""The TLS side of a DICOM acceptor: its context, rebuilt when trust changes, and why a
handshake failed.

:func:`acceptor_context` builds an :class:`ssl.SSLContext` for one PACS site: the
state directory's server identity, the site's trust bundle (what the site's relying
parties hold, so a ``pacs-trust-missing`` fault leaves it empty), the site's
:class:`~testbed.pacs.tls_profile.TlsProfile` (BCP 195: TLS 1.2+ with ECDHE and
AEAD suites; legacy: TLS 1.0 up, any suite), and a client certificate required
(PS3.15 B.1: both nodes authenticate).  OpenSSL checks the chain only, as for EST and
the HTTPS services: not validity periods (``X509_V_FLAG_NO_CHECK_TIME``) and not
revocation (no CRL is loaded).  The decision core's TLS hop decides both on the
A-ASSOCIATE request, with the site's view of each issuer's CRL and the hospital's
clock, so an expired or revoked certificate is refused with its reason, an
A-ASSOCIATE-RJ and a ``dicom-association`` event, exactly as in the simulation.

:class:`SiteContexts` keeps one context per site and builds a new one when the
site's trust changed: it reads the material when the hospital's
:class:`~testbed.revision.Revision` moved (its ``changes``: a bundle published or
withheld, a CA key rotated, the PACS's own trust taken or given back, ...; a
revision that moved for something else reuses the context) or when a bundle on its
way to the site has arrived (a distribution delay moves no revision when it ends:
:attr:`TrustMaterial.until`): the acceptor asks it at every connection, so trust
changes reach the next handshake without a restart.

:func:`handshake_cause` names a failed handshake with the decision core's reason
where one fits (``cert-missing``, ``cert-untrusted-at-site``,
``tls-profile-refused``) or ``handshake-timeout`` / ``handshake-failed``.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives.serialization import Encoding

from testbed.decisions import Reason
from testbed.live.openssl import X509_V_FLAG_NO_CHECK_TIME
from testbed.pacs.tls_profile import TlsProfile

__all__ = ["HandshakeCause", "SiteContexts", "TrustMaterial", "acceptor_context",
           "handshake_cause"]  # fmt: skip

_BCP195_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"
_LEGACY_CIPHERS = "DEFAULT:@SECLEVEL=0"
_MINIMUM = {
    "tls1.0": ssl.TLSVersion.TLSv1, "tls1.1": ssl.TLSVersion.TLSv1_1,
    "tls1.2": ssl.TLSVersion.TLSv1_2, "tls1.3": ssl.TLSVersion.TLSv1_3,
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class TrustMaterial:
    """What a site's acceptor trusts now: CA certificates (PEM each), and until when
    (the next bundle's arrival at the site; None: none is on its way)."""

    certificates: tuple[bytes, ...]
    until: datetime | None = field(default=None, compare=False)


def acceptor_context(
    *, server_cert: Path, server_key: Path, trust: TrustMaterial, profile: TlsProfile
) -> ssl.SSLContext:
    """A server context for one site's PACS (see the module docstring)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = _MINIMUM[profile.minimum_version.value]
    context.set_ciphers(_LEGACY_CIPHERS if profile is TlsProfile.LEGACY else _BCP195_CIPHERS)
    context.load_cert_chain(server_cert, server_key)
    context.verify_mode = ssl.CERT_REQUIRED
    context.num_tickets = 0  # DICOM peers open a new session each time: no tickets to send
    context.verify_flags |= X509_V_FLAG_NO_CHECK_TIME  # time and revocation: the core's
    if trust.certificates:
        context.load_verify_locations(cadata=b"".join(trust.certificates).decode("ascii"))
    return context


def pem(der_or_cert: object) -> bytes:
    """PEM of a cryptography certificate (helper for :class:`TrustMaterial`)."""
    public_bytes = getattr(der_or_cert, "public_bytes")  # noqa: B009
    data: bytes = public_bytes(Encoding.PEM)
    return data


class SiteContexts:
    """One acceptor context per site, rebuilt when ``revision()`` moved or ``now()``
    reached the material's ``until``.

    ``material(site)`` gives the site's trust now and ``build(site, material)`` a
    context; both run through ``call`` (the hospital's thread), ``revision`` (an int)
    and ``now`` are read directly."""

    def __init__(
        self,
        *,
        revision: Callable[[], int],
        now: Callable[[], datetime],
        material: Callable[[str], TrustMaterial],
        build: Callable[[str, TrustMaterial], ssl.SSLContext],
        call: Callable[[Callable[[], TrustMaterial]], TrustMaterial],
    ) -> None:
        self._revision = revision
        self._now = now
        self._material = material
        self._build = build
        self._call = call
        self._lock = threading.Lock()
        self._contexts: dict[str, tuple[int, TrustMaterial, ssl.SSLContext]] = {}
        self.builds = 0

    def current(self, site: str) -> ssl.SSLContext:
        """The site's context for a handshake starting now."""
        revision = self._revision()
        with self._lock:
            held = self._contexts.get(site)
            if held is not None and held[0] == revision and not self._due(held[1]):
                return held[2]
            material = self._call(lambda: self._material(site))
            if held is not None and held[1] == material:  # something else moved
                self._contexts[site] = (revision, material, held[2])
                return held[2]
            context = self._build(site, material)
            self.builds += 1
            self._contexts[site] = (revision, material, context)
            return context

    def _due(self, material: TrustMaterial) -> bool:
        """A bundle was on its way when ``material`` was read, and has arrived."""
        return material.until is not None and self._now() >= material.until


@dataclass(frozen=True, slots=True)
class HandshakeCause:
    """Why a handshake failed: a reason value and OpenSSL's words."""

    reason: str
    detail: str


_VERIFY_CODES = {
    2: Reason.CERT_UNTRUSTED_AT_SITE,  # unable to get issuer certificate
    18: Reason.CERT_UNTRUSTED_AT_SITE,  # self-signed leaf
    19: Reason.CERT_UNTRUSTED_AT_SITE,  # self-signed certificate in chain
    20: Reason.CERT_UNTRUSTED_AT_SITE,  # unable to get local issuer certificate
    21: Reason.CERT_UNTRUSTED_AT_SITE,  # unable to verify the first certificate
}
_PROFILE_WORDS = ("UNSUPPORTED_PROTOCOL", "NO_SHARED_CIPHER", "WRONG_VERSION_NUMBER",
                  "NO_CIPHERS_AVAILABLE", "VERSION_TOO_LOW", "INAPPROPRIATE_FALLBACK",
                  "NO_PROTOCOLS_AVAILABLE", "NO_SUITABLE_SIGNATURE_ALGORITHM")  # fmt: skip


def handshake_cause(error: BaseException) -> HandshakeCause:
    """Name a failed server-side handshake (see the module docstring)."""
    if isinstance(error, TimeoutError) or "timed out" in str(error):
        return HandshakeCause("handshake-timeout", "no complete handshake in time")
    if isinstance(error, ssl.SSLCertVerificationError):
        reason = _VERIFY_CODES.get(error.verify_code)
        text = error.verify_message or str(error)
        return HandshakeCause(reason.value if reason else "handshake-failed", text)
    if isinstance(error, ssl.SSLError):
        words = f"{error.reason or ''} {error}"
        if "PEER_DID_NOT_RETURN_A_CERTIFICATE" in words or "CERTIFICATE_REQUIRED" in words:
            return HandshakeCause(Reason.CERT_MISSING.value, "the peer sent no certificate")
        if any(word in words for word in _PROFILE_WORDS):
            return HandshakeCause(Reason.TLS_PROFILE_REFUSED.value, str(error.reason or error))
        return HandshakeCause("handshake-failed", str(error.reason or error))
    return HandshakeCause("handshake-failed", str(error) or type(error).__name__)


def chain_pem(certificates: Sequence[object]) -> tuple[bytes, ...]:
    """PEM of each certificate."""
    return tuple(pem(c) for c in certificates)
