"""The hops of the path of one device action, each deciding one thing (DESIGN: the path).

``registration --> network (NAC + zone policy, from the traffic's source) --> TLS (chain,
validity, revocation and site trust, then the identity binding) --> application
(intended services) --> service (up)``

Each hop is a small object with ``hop`` and ``check(context) -> Decision | None``
(:class:`~testbed.access.AccessHop`); :func:`standard_chains` puts them in order, one
chain shared by every service kind.  What only one kind checks comes after the access
point's allowance, in that service's own path, with its own decision event: the bearer
token of a FHIR request (:func:`testbed.fhir_access.fhir_request`, the EHR's token
verifier) and the AE title of a DICOM association (:class:`testbed.dicom.DicomPath`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from testbed.access import AccessContext, AccessHop
from testbed.decisions import Decision, Hop, Reason
from testbed.holds import Holds
from testbed.lifecycle import ACTIVE_STATES, DeviceState
from testbed.network.nac import Nac
from testbed.network.peer import Peer
from testbed.network.shared import SharedCredentials
from testbed.pki.revocation import PublishedCrl
from testbed.pki.trust import TrustBundle, TrustDistribution
from testbed.pki.verify import Verifier
from testbed.revision import Revision
from testbed.sites import HealthSystem, ServiceKind
from testbed.standing import Deadline

__all__ = [
    "ApplicationHop",
    "CrlSource",
    "NetworkHop",
    "RegistrationHop",
    "RoutePolicy",
    "ServiceHop",
    "ServiceOutages",
    "SharedCredentialHop",
    "TlsHop",
    "TrustSource",
    "standard_chains",
]


class RoutePolicy(Protocol):
    """Which source may reach which service: the scenario's allow list
    (:class:`~testbed.network.ZonePolicy`) or a design compiled
    (:class:`~testbed.network.DesignPolicy`)."""

    def decide(
        self, *, site: str, zone: str, service: str, peer: Peer | None = None,
        now: datetime | None = None,
    ) -> Decision:
        """May ``peer``'s traffic from ``zone`` at ``site`` reach ``service`` at ``now``?"""
        ...

    def until(
        self, *, site: str, zone: str, service: str, peer: Peer | None, now: datetime
    ) -> datetime | None:
        """When that answer could change by time alone (None: never)."""
        ...


class TrustSource(Protocol):
    """The trust bundle each site holds (:class:`~testbed.pki.trust.TrustDistribution`,
    or a relying party's own view of it: :class:`~testbed.pacs.trust.PacsTrust`)."""

    def bundle(self, site: str, *, now: datetime) -> TrustBundle:
        """The bundle ``site`` holds at ``now``."""
        ...

    def next_arrival(self, site: str) -> datetime | None:
        """When the next bundle on its way to ``site`` arrives (None: none is)."""
        ...


class CrlSource(Protocol):
    """Where relying parties get CRLs (:class:`~testbed.pki.revocation.CrlDistribution`)."""

    def current(self, issuer_name: str) -> PublishedCrl | None:
        """The CRL relying parties see for ``issuer_name``, if any."""
        ...


class RegistrationHop:
    """The device is registered and in an active lifecycle state (seed §7 step 1).

    With ``shared`` (a ``credentials: shared`` design), an attempt presenting a valid
    shared credential is the department's, not one device's: the services cannot
    tell which device it is, so a registered device passes whatever its state (a
    retired or suspended one too; the oracle counts that)."""

    hop = Hop.REGISTRATION

    def __init__(self, shared: SharedCredentials | None = None) -> None:
        self.shared = shared

    def check(self, context: AccessContext) -> Decision | None:
        """Refuse unknown, suspended, retired and not-yet-registered devices."""
        entry = context.entry
        if entry is None:
            return Decision.deny(Reason.NOT_REGISTERED, Hop.REGISTRATION,
                                 context.attempt.device_id)  # fmt: skip
        if self.shared is not None and self.shared.vouches(context.attempt):
            return None
        state = entry.lifecycle.state
        if state in ACTIVE_STATES:
            return None
        if state is DeviceState.RETIRED:
            return Decision.deny(Reason.DEVICE_RETIRED, Hop.REGISTRATION)
        if state is DeviceState.SUSPENDED:
            return Decision.deny(Reason.DEVICE_SUSPENDED, Hop.REGISTRATION)
        return Decision.deny(Reason.NOT_REGISTERED, Hop.REGISTRATION, state.value)


@dataclass(frozen=True, slots=True)
class NetworkHop:
    """NAC admits the device, and the zone policy lets its source reach the service.

    With ``shared`` (a ``credentials: shared`` design), NAC admits by the department's
    shared credential too, so taking one device off the network is not possible."""

    nac: Nac
    policy: RoutePolicy
    hop: Hop = Hop.NETWORK
    shared: SharedCredentials | None = None

    def check(self, context: AccessContext) -> Decision | None:
        """Refuse a device off the network, an unplaced source, or a route not allowed."""
        attempt = context.attempt
        if attempt.device_id not in self.nac and not (
            self.shared is not None and self.shared.vouches(attempt)
        ):
            return Decision.deny(Reason.ROUTE_BLOCKED, Hop.NETWORK, "not admitted by NAC")
        if attempt.source is None:
            detail = "the traffic's source is in no zone of the hospital"
            return Decision.deny(Reason.ROUTE_BLOCKED, Hop.NETWORK, detail)
        site, zone = attempt.source
        decision = self.policy.decide(site=site, zone=zone, service=attempt.service,
                                      peer=_peer(context), now=context.now)  # fmt: skip
        return None if decision.allowed else decision

    def until(self, context: AccessContext) -> datetime | None:
        """When the policy's pass could end by time alone (a design's exception
        expiring; :mod:`testbed.standing`)."""
        attempt = context.attempt
        if attempt.source is None:
            return None
        site, zone = attempt.source
        return self.policy.until(site=site, zone=zone, service=attempt.service,
                                 peer=_peer(context), now=context.now)  # fmt: skip

    def deadlines(self, context: AccessContext) -> tuple[Deadline, ...]:
        """None: nothing a routine refresh moves."""
        return ()


def _peer(context: AccessContext) -> Peer | None:
    """What the network knows of the device behind the attempt (its registered
    record and whether it presented a certificate); None for an unregistered one."""
    entry = context.entry
    if entry is None:
        return None
    record = entry.record
    return Peer(record.device_id, record.profile, context.attempt.certificate is not None,
                record.fhir_scopes, record.ae_title)  # fmt: skip


@dataclass(slots=True)
class TlsHop:
    """The certificate verifies at the service's site, and it is the device's own.

    Validity, chain and revocation against the site's trust bundle and the issuer's
    current CRL (:class:`~testbed.pki.verify.Verifier`); then the binding: the CA
    issued it to this device, and it is the device's one active identity (a
    pre-production test's own certificate excepted).
    """

    system: HealthSystem
    trust: TrustSource
    crls: CrlSource
    verifier: Verifier
    hop: Hop = Hop.TLS
    _site_of: dict[str, str] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self._site_of = {service.name: service.site for service in self.system.services}

    def check(self, context: AccessContext) -> Decision | None:
        """Refuse a certificate that does not verify here, or that is not the device's."""
        attempt, record = context.attempt, context.record
        site = self._site_of[attempt.service]
        bundle = self.trust.bundle(site, now=context.now)
        crl = None if record is None else self.crls.current(record.issuer)
        decision = self.verifier.verify(
            attempt.certificate, bundle=bundle, crl=crl, now=context.now
        )
        if not decision.allowed:
            return decision
        return _binding(context)

    def until(self, context: AccessContext) -> datetime | None:
        """When this hop's pass could end by time alone (:mod:`testbed.standing`):
        past the path's earliest notAfter, or when the next trust bundle reaches the
        service's site."""
        attempt = context.attempt
        if attempt.certificate is None:
            return None
        site = self._site_of[attempt.service]
        bundle = self.trust.bundle(site, now=context.now)
        limit = self.verifier.valid_until(attempt.certificate, bundle)
        arrival = self.trust.next_arrival(site)
        return limit if arrival is None else min(limit, arrival)

    def deadlines(self, context: AccessContext) -> tuple[Deadline, ...]:
        """The nextUpdate of the issuer's current CRL, whichever CRL that is when read
        (a routine reissue moves it later)."""
        record = context.record
        if record is None:
            return ()
        issuer, crls = record.issuer, self.crls

        def next_update() -> datetime | None:
            crl = crls.current(issuer)
            return None if crl is None else crl.next_update

        return (next_update,)


def _binding(context: AccessContext) -> Decision | None:
    """The certificate names this device, and it is the one active identity bound to it."""
    entry, leaf, record = context.entry, context.leaf, context.record
    if entry is None or leaf is None:
        return None
    device_id = entry.record.device_id
    if record is None or record.device_id != device_id:
        holder = "nobody" if record is None else repr(record.device_id)
        detail = f"serial {leaf.serial:x} identifies {holder}, not {device_id!r}"
        return Decision.deny(Reason.IDENTITY_MISMATCH, Hop.TLS, detail)
    current = entry.serial
    if current is not None and leaf.serial != current and leaf.serial not in entry.test_serials:
        detail = f"serial {leaf.serial:x} was superseded by {current:x}"
        return Decision.deny(Reason.CERT_SUPERSEDED, Hop.TLS, detail)
    return None


@dataclass(slots=True)
class SharedCredentialHop:
    """In a ``credentials: shared`` design, the TLS hop's place: an attempt presenting
    a shared credential passes when it is a department's (no certificate, no validity
    window, no revocation: nothing a CA outage or an offboarding changes); an attempt
    presenting a certificate instead (a device that enrolled for DICOM or FHIR, a
    live client) is the TLS hop's."""

    shared: SharedCredentials
    tls: TlsHop
    hop: Hop = Hop.TLS

    def check(self, context: AccessContext) -> Decision | None:
        """Refuse a shared credential that is no department's; else as the TLS hop."""
        attempt = context.attempt
        if attempt.shared_credential is None:
            return self.tls.check(context)
        if self.shared.valid(attempt.shared_credential):
            return None
        return Decision.deny(Reason.CLIENT_SECRET_INVALID, Hop.TLS,
                             "the shared credential is no department's")  # fmt: skip

    def until(self, context: AccessContext) -> datetime | None:
        """None for a shared credential (it never expires); else the TLS hop's."""
        if context.attempt.shared_credential is not None:
            return None
        return self.tls.until(context)

    def deadlines(self, context: AccessContext) -> tuple[Deadline, ...]:
        """None for a shared credential; else the TLS hop's."""
        if context.attempt.shared_credential is not None:
            return ()
        return self.tls.deadlines(context)


class ApplicationHop:
    """The service is one of the device's intended services."""

    hop = Hop.APPLICATION

    def check(self, context: AccessContext) -> Decision | None:
        """Refuse a service the device was not registered for."""
        entry, service = context.entry, context.attempt.service
        if entry is not None and service not in entry.record.intended_services:
            detail = f"{service!r} is not among the device's intended services"
            return Decision.deny(Reason.SCOPE_INSUFFICIENT, Hop.APPLICATION, detail)
        return None


class ServiceOutages:
    """Which services are down now (outages nest: a service is up when the last ends)."""

    def __init__(self, *, revision: Revision | None = None) -> None:
        self._down: Holds[str] = Holds()
        self.revision = revision or Revision()

    def begin(self, service: str) -> None:
        """An outage of ``service`` starts."""
        self._down.hold(service)
        self.revision.bump()

    def end(self, service: str) -> None:
        """One outage of ``service`` ends."""
        try:
            self._down.release(service)
        except KeyError:
            raise ValueError(f"service {service!r} is not down") from None
        self.revision.bump()

    def __contains__(self, service: object) -> bool:
        return service in self._down


@dataclass(frozen=True, slots=True)
class ServiceHop:
    """The service is up."""

    outages: ServiceOutages
    hop: Hop = Hop.SERVICE

    def check(self, context: AccessContext) -> Decision | None:
        """Refuse while the service is down."""
        service = context.attempt.service
        if service in self.outages:
            return Decision.deny(Reason.SERVICE_UNAVAILABLE, Hop.SERVICE, service)
        return None


def standard_chains(
    *,
    system: HealthSystem,
    nac: Nac,
    policy: RoutePolicy,
    trust: TrustDistribution,
    crls: CrlSource,
    verifier: Verifier,
    outages: ServiceOutages,
    shared: SharedCredentials | None = None,
) -> Mapping[ServiceKind, tuple[AccessHop, ...]]:
    """Registration, network, TLS, application and service, for every service kind
    (``shared``: a ``credentials: shared`` design's departments' credentials, which
    stand in for certificates)."""
    tls = TlsHop(system, trust, crls, verifier)
    chain: tuple[AccessHop, ...] = (
        RegistrationHop(shared),
        NetworkHop(nac, policy, shared=shared),
        tls if shared is None else SharedCredentialHop(shared, tls),
        ApplicationHop(),
        ServiceHop(outages),
    )
    return dict.fromkeys(ServiceKind, chain)
