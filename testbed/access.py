"""The policy point that every device action passes through (DESIGN: the path of one action).

An :class:`Attempt` says who acts, towards which service, from where (its
:data:`~testbed.network.Source`) and with which certificate.  The :class:`AccessPoint`
walks the chain of hops for the service's kind (:mod:`testbed.hops`), stops at the
first that refuses, writes exactly one ``access-decision`` event, and notifies its
listeners (the run's metrics, the unauthorized-access oracle).  It decides; it does not
count: whatever observes decisions subscribes to them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from testbed.decisions import ALLOW, Decision, Hop
from testbed.events import EventKind, EventLog
from testbed.inventory import Inventory, InventoryEntry
from testbed.pki.ca import CertificateAuthority, IssuanceRecord
from testbed.pki.fidelity import LeafCertificate
from testbed.pki.leaf import LeafCache, LeafFacts
from testbed.sites import HealthSystem, ServiceKind

__all__ = [
    "AccessContext",
    "AccessHop",
    "AccessPoint",
    "Attempt",
    "DecisionListener",
    "Purpose",
]


class Purpose(StrEnum):
    """Why a device acts: clinical traffic, or one of the checks the hospital runs."""

    TRAFFIC = "traffic"
    STALE_PROBE = "stale-probe"
    RECOVERY_CHECK = "recovery-check"
    EXPIRED_CREDENTIAL = "expired-credential"
    REVOKED_CERTIFICATE = "revoked-certificate"
    BLOCKED_ROUTE = "blocked-route"


@dataclass(frozen=True, slots=True)
class Attempt:
    """One device action: who, to which service, from where, with which certificate.

    ``source`` is the (site, zone) the traffic comes from; None when the network cannot
    place it (a live peer address outside every zone).
    """

    device_id: str
    service: str
    certificate: LeafCertificate | None
    source: tuple[str, str] | None
    purpose: Purpose = Purpose.TRAFFIC


@dataclass(slots=True)
class AccessContext:
    """One attempt at one moment, with what the hospital knows of it, looked up once.

    ``entry`` is the device's inventory entry (None: not registered); ``leaf`` the
    presented certificate's decoded fields; ``record`` the CA's issuance record of it
    (None: this CA never issued it).
    """

    attempt: Attempt
    now: datetime
    entry: InventoryEntry | None
    leaf: LeafFacts | None
    record: IssuanceRecord | None


class AccessHop(Protocol):
    """One hop on the path: refuses with a :class:`Decision`, or passes (None)."""

    @property
    def hop(self) -> Hop:
        """Where on the path this hop decides."""
        ...

    def check(self, context: AccessContext) -> Decision | None:
        """The hop's refusal of this attempt, or None to pass it on."""
        ...


DecisionListener = Callable[[AccessContext, Decision], None]
"""Notification: called after every decision with its context (metrics, oracle)."""

#: the data keys of an ``access-decision`` event, in the order ``_record`` gives them
_DECISION_KEYS = ("service", "allowed", "reason", "hop", "purpose", "serial", "detail")


class AccessPoint:
    """Decides device actions against hospital services, hop by hop, per service kind."""

    def __init__(
        self,
        *,
        system: HealthSystem,
        inventory: Inventory,
        ca: CertificateAuthority,
        log: EventLog,
        chains: Mapping[ServiceKind, tuple[AccessHop, ...]],
    ) -> None:
        self.system = system
        self.inventory = inventory
        self.ca = ca
        self.log = log
        self.chains = dict(chains)
        self.leaves = LeafCache()
        self._listeners: list[DecisionListener] = []
        self._kind_of = {service.name: service.kind for service in system.services}

    def subscribe(self, listener: DecisionListener) -> None:
        """Call ``listener`` after every decision from now on."""
        self._listeners.append(listener)

    def context(self, attempt: Attempt, *, now: datetime) -> AccessContext:
        """What the hospital knows of ``attempt`` at ``now`` (no decision, no event)."""
        cert = attempt.certificate
        leaf = None if cert is None else self.leaves.facts(cert)
        record = None if leaf is None else self.ca.record(leaf.serial)
        return AccessContext(attempt, now, self.inventory.get(attempt.device_id), leaf, record)

    def decide(self, attempt: Attempt, *, now: datetime) -> Decision:
        """Walk the hops, record the decision, notify the listeners."""
        context = self.context(attempt, now=now)
        decision = self._walk(context)
        self._record(context, decision)
        for listener in self._listeners:
            listener(context, decision)
        return decision

    def _walk(self, context: AccessContext) -> Decision:
        """The first hop that refuses, or an allowance at the service hop."""
        kind = self._kind_of.get(context.attempt.service)
        if kind is None:
            kind = self.system.service(context.attempt.service).kind  # raises: unknown name
        for hop in self.chains[kind]:
            decision = hop.check(context)
            if decision is not None:
                return decision
        return ALLOW

    def _record(self, context: AccessContext, decision: Decision) -> None:
        attempt, leaf = context.attempt, context.leaf
        values = (
            attempt.service,
            decision.allowed,
            decision.reason.value,
            decision.hop.value,
            attempt.purpose.value,
            None if leaf is None else leaf.serial_hex,
            decision.detail or None,
        )
        self.log.record(context.now, EventKind.ACCESS_DECISION, attempt.device_id,
                        _DECISION_KEYS, values)  # fmt: skip

