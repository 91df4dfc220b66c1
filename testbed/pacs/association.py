"""Association decisions: accept a DICOM association, or reject it with a reason.

The order is the order of a real connection (network admission is the access
point's, before the PACS):

==  =======================================  ==========================================
1   TLS: the protocol version and suites     ``tls-profile-refused`` (:mod:`.tls_profile`)
2   TLS: the client certificate at the site  ``cert-*``, ``revocation-unknown`` (TLS hop)
3   A-ASSOCIATE-RQ: the called AE title      ``called-ae-unknown``
4   the calling AE title on the allow-list   ``ae-title-not-allowed`` (also an invalid title)
5   the certificate is that device's         ``identity-mismatch``, ``cert-superseded``,
                                             ``device-*`` (registration and TLS hops)
6   the traffic comes from the device's zone ``ae-title-wrong-zone``
7   the PACS is up                           ``service-unavailable``
==  =======================================  ==========================================

The TLS version is agreed before any certificate is sent, and the certificate before
the A-ASSOCIATE request names AE titles, so a live acceptor sees the same first
refusal as this core.  The service comes last, as on the access path
(:mod:`testbed.hops`): a device whose certificate is revoked is told so even while
the PACS is down.  Each rejection maps to its A-ASSOCIATE-RJ (PS3.8 §9.3.4,
:class:`Rejection`), which the live acceptor will send before it aborts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Protocol

from testbed.decisions import Decision, Hop, Reason
from testbed.pacs.ae_title import canonical_ae_title, invalid_ae_title
from testbed.pacs.allow_list import AllowedAe, AllowList
from testbed.pacs.certificates import CertificateCheck
from testbed.pacs.tls_profile import Negotiated, TlsOffer, TlsProfile, negotiate
from testbed.pki.fidelity import LeafCertificate

__all__ = [
    "Association",
    "AssociationDecision",
    "AssociationPolicy",
    "AssociationRequest",
    "Outages",
    "PacsEndpoint",
    "Rejection",
    "ZoneFrom",
    "rejection_of",
]


@dataclass(frozen=True, slots=True)
class PacsEndpoint:
    """Where devices send: the PACS service, its site and its called AE title."""

    service: str
    site: str
    ae_title: str

    def __post_init__(self) -> None:
        if canonical_ae_title(self.ae_title) != self.ae_title:
            raise ValueError(f"a PACS AE title without surrounding spaces: {self.ae_title!r}")


class ZoneFrom(StrEnum):
    """Where a live association's zone was taken from (the event's ``zone_from``)."""

    #: the peer's source address is a zone's (the network hop judges where it is)
    SOURCE = "source"
    #: the peer's address is no zone's (dcmtk always connects from 127.0.0.1): the
    #: zone of the device its certificate (else its calling AE title) was registered to
    REGISTRATION = "registration"
    #: neither: the peer is in no zone
    NONE = "none"


@dataclass(frozen=True, slots=True)
class AssociationRequest:
    """One A-ASSOCIATE request over TLS, as the PACS sees it.

    ``source`` is the (site, zone) of the peer (None: in no zone); ``tls`` what the
    peer offered (live: what its handshake negotiated); ``zone_from`` where a live
    acceptor took ``source`` from (None: the simulation, whose traffic comes from the
    device's zone; not recorded then, so its logs keep their shape).
    """

    calling_ae: str
    called_ae: str
    certificate: LeafCertificate | None
    source: tuple[str, str] | None
    tls: TlsOffer
    zone_from: ZoneFrom | None = None


@dataclass(frozen=True, slots=True)
class Association:
    """An accepted association: the identity every later request on it runs under."""

    id: str
    service: str
    device_id: str
    calling_ae: str
    called_ae: str
    tls: Negotiated
    opened_at: datetime
    #: what it was accepted on: the peer's certificate and source (the oracle judges
    #: every store against them)
    certificate: LeafCertificate | None = field(default=None, compare=False, repr=False)
    source: tuple[str, str] | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Rejection:
    """A-ASSOCIATE-RJ fields (PS3.8 §9.3.4): result, source and reason/diagnostic."""

    result: int  # 1 rejected-permanent, 2 rejected-transient
    source: int  # 1 service-user, 2 service-provider (ACSE), 3 service-provider (presentation)
    diagnostic: int  # source 1: 1 no reason, 3 calling AE, 7 called AE; source 3: 1 congestion


_NO_REASON = Rejection(1, 1, 1)
_CALLING_AE = Rejection(1, 1, 3)
_REJECTIONS: Mapping[Reason, Rejection] = MappingProxyType({
    Reason.CALLED_AE_UNKNOWN: Rejection(1, 1, 7),
    Reason.AE_TITLE_NOT_ALLOWED: _CALLING_AE,
    Reason.AE_TITLE_WRONG_ZONE: _CALLING_AE,
    Reason.IDENTITY_MISMATCH: _CALLING_AE,
    Reason.SERVICE_UNAVAILABLE: Rejection(2, 3, 1),  # transient: temporary congestion
})  # fmt: skip


def rejection_of(reason: Reason) -> Rejection:
    """The A-ASSOCIATE-RJ for a refusal (certificate and TLS reasons: no reason given)."""
    return _REJECTIONS.get(reason, _NO_REASON)


@dataclass(frozen=True, slots=True)
class AssociationDecision:
    """The answer to an A-ASSOCIATE request: an association, or a refusal."""

    decision: Decision
    association: Association | None = None
    device_id: str | None = None  # the calling AE's device, when the allow-list knows it
    tls: Negotiated | None = None

    @property
    def accepted(self) -> bool:
        """Whether the association was accepted."""
        return self.association is not None

    @property
    def rejection(self) -> Rejection | None:
        """The A-ASSOCIATE-RJ to send, or None when accepted."""
        return None if self.accepted else rejection_of(self.decision.reason)


class Outages(Protocol):
    """Which services are down now (:class:`~testbed.hops.ServiceOutages`)."""

    def __contains__(self, service: object) -> bool: ...


@dataclass(slots=True)
class AssociationPolicy:
    """Decides A-ASSOCIATE requests for one PACS (no I/O; every call takes ``now``)."""

    endpoint: PacsEndpoint
    allow_list: AllowList
    profile: TlsProfile
    certificates: CertificateCheck
    outages: Outages

    def decide(self, request: AssociationRequest, *, now: datetime) -> AssociationDecision:
        """Walk the checks in order; the first refusal, or an allowance (no association
        yet: the service numbers and records it)."""
        entry = self.entry(request.calling_ae)
        device = None if entry is None else entry.device_id
        negotiated = negotiate(self.profile, request.tls)
        if isinstance(negotiated, str):
            refused = Decision.deny(Reason.TLS_PROFILE_REFUSED, Hop.TLS, negotiated)
            return AssociationDecision(refused, device_id=device)
        denial = self._refusal(request, entry, now) or self._down()
        if denial is not None:
            return AssociationDecision(denial, device_id=device, tls=negotiated)
        return AssociationDecision(Decision.allow(Hop.SERVICE), device_id=device, tls=negotiated)

    def entry(self, calling_ae: str) -> AllowedAe | None:
        """The allow-list entry of a calling AE title as sent (None: not on it, or invalid)."""
        if invalid_ae_title(calling_ae) is not None:
            return None
        return self.allow_list.get(canonical_ae_title(calling_ae))

    def _refusal(
        self, request: AssociationRequest, entry: AllowedAe | None, now: datetime
    ) -> Decision | None:
        service, cert = self.endpoint.service, request.certificate
        denial = (
            self.certificates.handshake(cert, service=service, source=request.source, now=now)
            or self._called(request.called_ae)
            or self._calling(request.calling_ae, entry)
        )
        if denial is not None or entry is None:  # no entry: _calling refused
            return denial
        return self._binding(request, entry, now) or self._zone(entry, request.source)

    def _called(self, called_ae: str) -> Decision | None:
        problem = invalid_ae_title(called_ae)
        if problem is None and canonical_ae_title(called_ae) == self.endpoint.ae_title:
            return None
        detail = problem or (
            f"called AE title {called_ae!r} is not this PACS's ({self.endpoint.ae_title!r})"
        )
        return Decision.deny(Reason.CALLED_AE_UNKNOWN, Hop.APPLICATION, detail)

    def _calling(self, calling_ae: str, entry: AllowedAe | None) -> Decision | None:
        if entry is not None:
            return None
        detail = invalid_ae_title(calling_ae) or (
            f"calling AE title {calling_ae!r} is not on the allow-list of "
            f"{self.endpoint.service!r}"
        )
        return Decision.deny(Reason.AE_TITLE_NOT_ALLOWED, Hop.APPLICATION, detail)

    def _binding(
        self, request: AssociationRequest, entry: AllowedAe, now: datetime
    ) -> Decision | None:
        return self.certificates.binding(
            request.certificate,
            device_id=entry.device_id,
            service=self.endpoint.service,
            source=request.source,
            now=now,
        )

    def _zone(self, entry: AllowedAe, source: tuple[str, str] | None) -> Decision | None:
        if source == entry.source:
            return None
        detail = (
            f"AE title {entry.ae_title!r} ({entry.device_id}) may come from "
            f"{'/'.join(entry.source)}, not from {'/'.join(source) if source else 'no zone'}"
        )
        return Decision.deny(Reason.AE_TITLE_WRONG_ZONE, Hop.APPLICATION, detail)

    def _down(self) -> Decision | None:
        service = self.endpoint.service
        if service in self.outages:
            return Decision.deny(Reason.SERVICE_UNAVAILABLE, Hop.SERVICE, service)
        return None
