"""The network hop's policy when a scenario selects a design (DESIGN: one decision core).

:class:`DesignPolicy` asks the design's :class:`~testbed.network.matrix.Matrix` about
the flow of one device action: from the traffic's source (site, zone) and the device's
class, to the service, on the service the clinical traffic uses (the catalog's
``traffic``), carrying the identities the :class:`~testbed.network.peer.Peer` holds.
Route blocks (the ``blocked-route`` fault) refuse first, as in
:class:`~testbed.network.zone_policy.ZonePolicy`.  The simulation and live mode reach
it through the same network hop; :func:`route_policy` is what the composition root
calls.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from testbed.decisions import Decision, Hop, Reason
from testbed.devices import DeviceProfile
from testbed.holds import Holds
from testbed.network.blocks import RouteBlocks
from testbed.network.catalog import Catalog, EndpointKind, load_catalog
from testbed.network.design import CredentialIssuance, Design, IdentityCondition, load_design
from testbed.network.matrix import Disposition, Held, Matrix, Place, Verdict
from testbed.network.peer import Peer
from testbed.network.shared import SharedCredentials
from testbed.network.zone_policy import Route, ZonePolicy
from testbed.revision import Revision
from testbed.sites import HealthSystem

__all__ = ["DesignPolicy", "route_policy", "shared_credentials", "zones_reaching"]

#: the reason a refusal for a missing identity gives (closed set: testbed.decisions)
_IDENTITY_REASONS = {
    IdentityCondition.VALID_DEVICE_CERTIFICATE: Reason.CERT_MISSING,
    IdentityCondition.TOKEN_WITH_SCOPE: Reason.SCOPE_INSUFFICIENT,
    IdentityCondition.AE_TITLE_ALLOWED: Reason.AE_TITLE_NOT_ALLOWED,
}


class DesignPolicy(RouteBlocks):
    """A design's compiled matrix as the network hop's decision function."""

    def __init__(
        self,
        design: Design,
        *,
        system: HealthSystem,
        profiles: Mapping[str, DeviceProfile],
        catalog: Catalog | None = None,
        revision: Revision | None = None,
    ) -> None:
        self.design = design
        self.catalog = catalog or load_catalog()
        self.matrix = Matrix(design, catalog=self.catalog)
        places = {s.name: (s.site, s.zone) for s in system.services}
        super().__init__(revision=revision, places=places)
        #: exceptions a fault expired early (``exception-expired``), by id; they nest
        self._withdrawn: Holds[str] = Holds()
        self._expired: frozenset[str] = frozenset()
        self._classes = {key: profile.device_class for key, profile in profiles.items()}
        self._places = {
            s.name: (Place(EndpointKind(s.kind.value), s.site, s.zone),
                     self.catalog.traffic.get(s.kind, s.kind.value))
            for s in system.services
        }  # fmt: skip

    def decide(
        self, *, site: str, zone: str, service: str, peer: Peer | None = None,
        now: datetime | None = None,
    ) -> Decision:
        """May ``peer``'s traffic from ``zone`` at ``site`` reach ``service`` at ``now``?"""
        blocked = self.blocked(site, zone, service)
        if blocked is not None:
            return blocked
        verdict = self.verdict(site=site, zone=zone, service=service, peer=peer, now=now)
        if verdict.accepted or self.allowed_unapproved(site, zone, service):
            return Decision.allow(Hop.NETWORK)
        reason = Reason.ROUTE_BLOCKED
        if verdict.disposition is Disposition.DENIED_IDENTITY and verdict.identity is not None:
            reason = _IDENTITY_REASONS.get(verdict.identity, Reason.ROUTE_BLOCKED)
        detail = f"{verdict.disposition}: {verdict.detail}"
        return Decision.deny(reason, Hop.NETWORK, detail)

    def verdict(
        self, *, site: str, zone: str, service: str, peer: Peer | None,
        now: datetime | None,
    ) -> Verdict:
        """The matrix's verdict on the flow (no route blocks)."""
        destination, wire = self._places[service]
        device_class = None if peer is None else self._classes.get(peer.profile)
        source = Place(EndpointKind.DEVICE, site, zone, device_class)
        return self.matrix.decide(source, destination, wire, _held(peer), at=now,
                                  expired=self._expired)  # fmt: skip

    @property
    def expired(self) -> frozenset[str]:
        """The ids of the exceptions a fault has expired early."""
        return self._expired

    def withdraw(self, exception: str) -> None:
        """Treat the design's exception ``exception`` as expired (a fault); nests."""
        if exception not in {e.id for e in self.design.exceptions}:
            raise ValueError(f"design {self.design.name!r} has no exception {exception!r}")
        self._withdrawn.hold(exception)
        self._expired = self._expired | {exception}
        self._changed()

    def reinstate(self, exception: str) -> None:
        """End one early expiry of ``exception`` (its owner renewed it)."""
        try:
            left = self._withdrawn.release(exception)
        except KeyError:
            raise ValueError(f"exception {exception!r} was not withdrawn") from None
        if not left:
            self._expired = self._expired - {exception}
        self._changed()

    def until(
        self, *, site: str, zone: str, service: str, peer: Peer | None, now: datetime
    ) -> datetime | None:
        """When the verdict could change by time alone (an exception expiring)."""
        return self.verdict(site=site, zone=zone, service=service, peer=peer, now=now).until


def _held(peer: Peer | None) -> Held:
    """What a registered device carries: its certificate if it presented one, the
    shared credential (it is shared: every device has it), its scopes, its AE title."""
    if peer is None:
        return Held()
    return Held(peer.certificate, True, frozenset(peer.scopes), peer.ae_title is not None)


def route_policy(
    *,
    design: str | Path | None,
    routes: list[Route],
    system: HealthSystem,
    profiles: Mapping[str, DeviceProfile],
    revision: Revision,
) -> ZonePolicy | DesignPolicy:
    """The network hop's policy: the scenario's allow list, or its design compiled."""
    if design is None:
        places = {s.name: (s.site, s.zone) for s in system.services}
        return ZonePolicy(routes, revision=revision, places=places)
    return DesignPolicy(load_design(design), system=system, profiles=profiles,
                        revision=revision)  # fmt: skip


def shared_credentials(
    policy: ZonePolicy | DesignPolicy, trust_domain: str, revision: Revision | None = None
) -> SharedCredentials | None:
    """The departments' shared credentials when the policy is a ``credentials: shared``
    design's (None: an allow list, or a design that issues certificates)."""
    if isinstance(policy, DesignPolicy) and policy.design.credentials is CredentialIssuance.SHARED:
        return SharedCredentials(trust_domain, revision)
    return None


def zones_reaching(
    policy: ZonePolicy | DesignPolicy, system: HealthSystem, service: str, peer: Peer,
    now: datetime,
) -> list[tuple[str, str, Decision]]:
    """Every (site, zone) of the health system, in order, with the network hop's
    decision on ``peer``'s traffic from there to ``service`` at ``now`` (route blocks
    included): where a device like ``peer`` must be placed to reach it."""
    system.service(service)  # KeyError naming the services for an unknown one
    return [(site.name, zone, policy.decide(site=site.name, zone=zone, service=service,
                                            peer=peer, now=now))
            for site in system.sites for zone in site.zones]  # fmt: skip
