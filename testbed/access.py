"""The policy point that every device action passes through (DESIGN: the path of one action).

``device --(zone)--> NAC + zone policy --> TLS: chain + revocation + site trust
--> application: intended services --> service up --> audit event``

Each hop may deny with a reason; every decision writes exactly one
``access-decision`` event.  After the decision, a ground-truth oracle (the CA's own
revocation list, the true clock, the inventory) counts allowances that should not
have happened: unauthorized access is measured, never assumed to be zero.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from testbed.decisions import ALLOW, Decision, Hop, Reason
from testbed.events import EventKind, EventLog
from testbed.hospital import HealthSystem
from testbed.inventory import Inventory, InventoryEntry
from testbed.lifecycle import ACTIVE_STATES, DeviceState
from testbed.metrics import Metrics
from testbed.network import Route, ZonePolicy
from testbed.pki.ca import CertificateAuthority, IssuanceRecord
from testbed.pki.fidelity import LeafCertificate
from testbed.pki.leaf import LeafCache, LeafFacts
from testbed.pki.revocation import CrlDistribution, PublishedCrl
from testbed.pki.trust import TrustDistribution
from testbed.pki.verify import Verifier

__all__ = ["AccessPoint", "Attempt"]


@dataclass(frozen=True, slots=True)
class Attempt:
    """One device action: who, to which service, with which certificate, and why."""

    device_id: str
    service: str
    certificate: LeafCertificate | None
    purpose: str = "traffic"
    extra_blocks: tuple[Route, ...] = ()
    crl_override: PublishedCrl | None = None


#: The data keys of an ``access-decision`` event, in the order :meth:`AccessPoint._record`
#: gives their values.
_DECISION_KEYS = ("service", "allowed", "reason", "hop", "purpose", "serial", "detail")

#: Enum members' values by member (``.value`` on an enum member is a slow descriptor).
_TEXT: dict[Reason | Hop, str] = {**{r: r.value for r in Reason}, **{h: h.value for h in Hop}}


def _is_test(entry: InventoryEntry, serial: int) -> bool:
    return serial in entry.test_serials


class AccessPoint:
    """Decides device actions against hospital services, hop by hop."""

    def __init__(
        self,
        *,
        system: HealthSystem,
        inventory: Inventory,
        policy: ZonePolicy,
        ca: CertificateAuthority,
        trust: TrustDistribution,
        crls: CrlDistribution,
        log: EventLog,
        metrics: Metrics,
        verifier: Verifier | None = None,
    ) -> None:
        self.system = system
        self.inventory = inventory
        self.policy = policy
        self.ca = ca
        self.trust = trust
        self.crls = crls
        self.log = log
        self.metrics = metrics
        self.verifier = verifier or Verifier(artefacts=ca.artefacts)
        self.nac: set[str] = set()
        self.services_down: dict[str, int] = {}
        self.leaves = LeafCache()
        self._site_of = {service.name: service.site for service in system.services}

    def decide(self, attempt: Attempt, *, now: datetime) -> Decision:
        """Walk the hops, record the decision, and measure it against the truth."""
        entry = self.inventory.get(attempt.device_id)
        cert = attempt.certificate
        leaf = None if cert is None else self.leaves.facts(cert)
        # the CA's record of the leaf (None if it never issued it): read once, used by
        # the CRL look-up, the identity binding and the oracle
        record = None if leaf is None else self.ca.record(leaf.serial)
        decision = self._walk(attempt, entry, leaf, record, now)
        self._record(attempt, decision, leaf, now)
        if decision.allowed:
            self._audit_allowance(attempt.device_id, entry, leaf, record, now)
        return decision

    def _walk(
        self,
        attempt: Attempt,
        entry: InventoryEntry | None,
        leaf: LeafFacts | None,
        record: IssuanceRecord | None,
        now: datetime,
    ) -> Decision:
        """The first hop that refuses, or an allowance at the service hop."""
        if entry is None:
            return Decision.deny(Reason.NOT_REGISTERED, Hop.REGISTRATION, attempt.device_id)
        return (
            self._registration(entry)
            or self._network(attempt, entry)
            or self._tls(attempt, entry, leaf, record, now)
            or self._application(attempt, entry)
            or self._service(attempt)
            or ALLOW
        )

    @staticmethod
    def _registration(entry: InventoryEntry) -> Decision | None:
        state = entry.lifecycle.state
        if state in ACTIVE_STATES:
            return None
        if state is DeviceState.RETIRED:
            return Decision.deny(Reason.DEVICE_RETIRED, Hop.REGISTRATION)
        if state is DeviceState.SUSPENDED:
            return Decision.deny(Reason.DEVICE_SUSPENDED, Hop.REGISTRATION)
        return Decision.deny(Reason.NOT_REGISTERED, Hop.REGISTRATION, state.value)

    def _network(self, attempt: Attempt, entry: InventoryEntry) -> Decision | None:
        if attempt.device_id not in self.nac:
            return Decision.deny(Reason.ROUTE_BLOCKED, Hop.NETWORK, "not admitted by NAC")
        record = entry.record
        decision = self.policy.decide(
            site=record.site,
            zone=record.zone,
            service=attempt.service,
            extra_blocks=attempt.extra_blocks,
        )
        return None if decision.allowed else decision

    def _tls(
        self,
        attempt: Attempt,
        entry: InventoryEntry,
        leaf: LeafFacts | None,
        record: IssuanceRecord | None,
        now: datetime,
    ) -> Decision | None:
        site = self._site_of.get(attempt.service)
        if site is None:
            site = self.system.service(attempt.service).site  # raises for an unknown name
        bundle = self.trust.bundle(site, now=now)
        crl = attempt.crl_override
        if crl is None and record is not None:
            crl = self.crls.current(record.issuer)
        decision = self.verifier.verify(attempt.certificate, bundle=bundle, crl=crl, now=now)
        if not decision.allowed:
            return decision
        return None if leaf is None else self._binding(entry, leaf, record)

    @staticmethod
    def _binding(
        entry: InventoryEntry, leaf: LeafFacts, record: IssuanceRecord | None
    ) -> Decision | None:
        """The certificate names this device, and it is the one active identity bound to it."""
        serial = leaf.serial
        device_id = entry.record.device_id
        if record is None or record.device_id != device_id:
            holder = "nobody" if record is None else repr(record.device_id)
            detail = f"serial {serial:x} identifies {holder}, not {device_id!r}"
            return Decision.deny(Reason.IDENTITY_MISMATCH, Hop.TLS, detail)
        if entry.serial is not None and serial != entry.serial and not _is_test(entry, serial):
            detail = f"serial {serial:x} was superseded by {entry.serial:x}"
            return Decision.deny(Reason.CERT_SUPERSEDED, Hop.TLS, detail)
        return None

    @staticmethod
    def _application(attempt: Attempt, entry: InventoryEntry) -> Decision | None:
        if attempt.service not in entry.record.intended_services:
            detail = f"{attempt.service!r} is not among the device's intended services"
            return Decision.deny(Reason.SCOPE_INSUFFICIENT, Hop.APPLICATION, detail)
        return None

    def _service(self, attempt: Attempt) -> Decision | None:
        if self.services_down.get(attempt.service, 0):
            return Decision.deny(Reason.SERVICE_UNAVAILABLE, Hop.SERVICE, attempt.service)
        return None

    def _record(
        self, attempt: Attempt, decision: Decision, leaf: LeafFacts | None, now: datetime
    ) -> None:
        metrics = self.metrics
        metrics.decisions += 1
        self.log.record(
            now,
            EventKind.ACCESS_DECISION,
            attempt.device_id,
            _DECISION_KEYS,
            (
                attempt.service,
                decision.allowed,
                _TEXT[decision.reason],
                _TEXT[decision.hop],
                attempt.purpose,
                None if leaf is None else leaf.serial_hex,
                decision.detail or None,
            ),
        )
        if decision.allowed:
            metrics.allowed += 1
        else:
            metrics.denied += 1
            metrics.denial_reasons[_TEXT[decision.reason]] += 1

    def _audit_allowance(
        self,
        device_id: str,
        entry: InventoryEntry | None,
        leaf: LeafFacts | None,
        record: IssuanceRecord | None,
        now: datetime,
    ) -> None:
        """Ground truth: was this allowance deserved?"""
        if self._wrongly_allowed(device_id, entry, leaf, record, now):
            self.metrics.unauthorized_access += 1
            if entry is not None and entry.state is DeviceState.RETIRED:
                self.metrics.stale_access_after_offboarding += 1

    def wrongly_allowed(
        self, attempt: Attempt, entry: InventoryEntry | None, now: datetime
    ) -> bool:
        """The oracle: facts as the CA and the inventory know them at ``now``."""
        cert = attempt.certificate
        leaf = None if cert is None else self.leaves.facts(cert)
        record = None if leaf is None else self.ca.record(leaf.serial)
        return self._wrongly_allowed(attempt.device_id, entry, leaf, record, now)

    def _wrongly_allowed(
        self,
        device_id: str,
        entry: InventoryEntry | None,
        leaf: LeafFacts | None,
        record: IssuanceRecord | None,
        now: datetime,
    ) -> bool:
        if entry is None or entry.lifecycle.state not in ACTIVE_STATES or leaf is None:
            return True
        if record is None or record.device_id != device_id:
            return True
        revoked = self.ca.revoked_at(leaf.serial)
        if revoked is not None and revoked <= now:
            return True
        return not leaf.not_before <= now <= leaf.not_after

    def service_down(self, name: str) -> None:
        """A service outage starts (nests)."""
        self.services_down[name] = self.services_down.get(name, 0) + 1

    def service_up(self, name: str) -> None:
        """A service outage heals."""
        self.services_down[name] -= 1

    def admit(self, device_ids: Iterable[str]) -> None:
        """NAC admits devices (registration puts them on the list)."""
        self.nac.update(device_ids)
