"""The policy point that every device action passes through (DESIGN: the path of one action).

An :class:`Attempt` says who acts, towards which service, from where (its
:data:`~testbed.network.Source`) and with which certificate.  The :class:`AccessPoint`
walks the chain of hops for the service's kind (:mod:`testbed.hops`), stops at the
first that refuses, writes exactly one ``access-decision`` event, and notifies its
listeners (the run's metrics, the unauthorized-access oracle).  It decides; it does not
count: whatever observes decisions subscribes to them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol, cast

from testbed.decisions import ALLOW, Decision, Hop
from testbed.events import EventKind, EventLog, Value
from testbed.inventory import Inventory, InventoryEntry
from testbed.pki.ca import CertificateAuthority, IssuanceRecord
from testbed.pki.fidelity import LeafCertificate
from testbed.pki.leaf import LeafCache, LeafFacts
from testbed.revision import Revision
from testbed.sites import HealthSystem, ServiceKind
from testbed.standing import (
    ALWAYS_QUIET,
    Deadline,
    Standing,
    StandingError,
    Steady,
    SteadyHook,
    TimedHop,
)

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
    # the network and TLS part of a FHIR request (testbed/fhir_access.py): what it
    # delivers is the EHR's answer, not this decision
    FHIR_REQUEST = "fhir-request"


@dataclass(frozen=True, slots=True)
class Attempt:
    """One device action: who, to which service, from where, with which certificate.

    ``source`` is the (site, zone) the traffic comes from; None when the network cannot
    place it (a live peer address outside every zone).  ``shared_credential`` is the
    department's shared credential a device of a ``credentials: shared`` design
    presents instead of a certificate (:mod:`testbed.network.shared`).
    """

    device_id: str
    service: str
    certificate: LeafCertificate | None
    source: tuple[str, str] | None
    purpose: Purpose = Purpose.TRAFFIC
    shared_credential: str | None = None


@dataclass(slots=True)
class AccessContext:
    """One attempt at one moment, with what the hospital knows of it, looked up once.

    ``entry`` is the device's inventory entry (None: not registered); ``leaf`` the
    presented certificate's decoded fields; ``record`` the CA's issuance record of it
    (None: this CA never issued it); ``standing`` the allowance that stood for it or
    that it established (:mod:`testbed.standing`; None: not a standing attempt, or
    refused).
    """

    attempt: Attempt
    now: datetime
    entry: InventoryEntry | None
    leaf: LeafFacts | None
    record: IssuanceRecord | None
    standing: Standing | None = None


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

#: the data keys of an ``access-decision`` event, in the order ``_values`` gives them
_DECISION_KEYS = ("service", "allowed", "reason", "hop", "purpose", "serial", "detail")
_ACCESS_DECISION = EventKind.ACCESS_DECISION  # (a module constant: read per decision)


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
        revision: Revision | None = None,
    ) -> None:
        self.system = system
        self.inventory = inventory
        self.ca = ca
        self.log = log
        self.chains = dict(chains)
        self.leaves = LeafCache()
        #: what the hops read moves this (shared with them by the composition root)
        self.revision = revision or Revision()
        #: walk the hops even when an allowance stands, and raise on a difference
        self.check_standing = False
        self.stood = 0  # decisions given by a standing allowance (not walked)
        self._listeners: list[DecisionListener] = []
        self._again: list[DecisionListener] = []  # those called for a standing allowance
        # their steady hooks, in the same order (None: that listener has none, so no
        # allowances are given again together: testbed.standing.Steady)
        self._hooks: tuple[SteadyHook | None, ...] = ()
        self._kind_of = {service.name: service.kind for service in system.services}
        self._timed: dict[ServiceKind, tuple[TimedHop, ...]] = {
            kind: tuple(cast(TimedHop, h) for h in chain if callable(getattr(h, "until", None)))
            for kind, chain in self.chains.items()
        }

    def subscribe(
        self, listener: DecisionListener, *, again: bool = True, steady: SteadyHook | None = None
    ) -> None:
        """Call ``listener`` after every decision from now on; with ``again`` False,
        not for an allowance that stands (:mod:`testbed.standing`): a listener whose
        effect for it is the walk's that established it (idempotent, and lasting).
        ``steady`` is its part in allowances given again together (:meth:`again`);
        without one, none are (with ``again`` False it is not needed, and ignored)."""
        self._listeners.append(listener)
        if again:
            self._again.append(listener)
            self._hooks = (*self._hooks, steady)

    def settle(self, attempts: Sequence[tuple[Attempt, Standing]], now: datetime) -> Steady | None:
        """What one device's ``attempts`` (each with its standing) have in common when
        each one's allowance stands at ``now`` and every listener's hook settles: the
        terms on which :meth:`again` gives them all again.  None otherwise."""
        hooks = self._hooks
        if not attempts or not hooks or None in hooks:
            return None
        device_id = attempts[0][0].device_id
        entry = self.inventory.get(device_id)
        revision = self.revision.value
        if entry is None:
            return None
        decided = []
        due: datetime | None = None
        for attempt, standing in attempts:
            # holds: the same entry, version and revision, and before its due (its
            # deadlines read now if they were not since it was walked: later reads
            # only find them later while the revision stands)
            decision = standing.decision
            if (
                decision is None
                or attempt.device_id != device_id
                or not standing.holds(entry, revision, now)
            ):
                return None
            assert standing.due is not None  # it holds: its deadlines were read
            due = standing.due if due is None else min(due, standing.due)
            context = AccessContext(attempt, now, entry, standing.leaf, standing.record, standing)
            decided.append((context, decision))
        asks = []
        until: datetime | None = None  # the hooks' earliest
        for hook in cast(tuple[SteadyHook, ...], hooks):
            settled = hook.settle(decided)
            if settled is None:
                return None
            token, limit = settled
            if limit is not None and (until is None or limit < until):
                until = limit
            if token is not ALWAYS_QUIET:
                asks.append((hook, token))
        assert due is not None  # there is an attempt
        if until is not None and until < due:
            due = until
        return Steady(device_id, entry, entry.version, revision, due, until,
                      tuple(s.values for _, s in attempts), cast(tuple[SteadyHook, ...], hooks),
                      tuple(asks), tuple(attempts))  # fmt: skip

    def again(self, steady: Steady, now: datetime) -> bool:
        """Give every allowance of ``steady`` again at ``now``: each its event, in
        order, then each listener's count (True); or nothing at all (False: decide
        each) once one of its terms no longer holds (:class:`~testbed.standing.Steady`)."""
        if (
            steady.entry.version != steady.version
            or self.revision.value != steady.revision
            or steady.hooks is not self._hooks
        ):
            return False
        if now >= steady.due and not self._extend(steady, now):
            return False
        for hook, token in steady.asks:
            if not hook.quiet(token, now):
                return False
        record, device_id = self.log.record, steady.device_id
        if self.check_standing:  # each walked, then its event, as deciding each would
            for (attempt, standing), values in zip(steady.attempts, steady.values, strict=True):
                assert standing.decision is not None  # settled
                context = AccessContext(attempt, now, steady.entry, standing.leaf,
                                        standing.record, standing)  # fmt: skip
                self._check(context, standing.decision)
                record(now, _ACCESS_DECISION, device_id, _DECISION_KEYS, values)
        else:
            for values in steady.values:
                record(now, _ACCESS_DECISION, device_id, _DECISION_KEYS, values)
        count = len(steady.values)
        self.stood += count
        for hook in steady.hooks:
            hook.heard(count)
        return True

    def _extend(self, steady: Steady, now: datetime) -> bool:
        """Once ``now`` reaches ``steady.due``: read its allowances' deadlines again, as
        deciding each would (:meth:`Standing.holds`), and keep the new earliest (with
        the hooks' ``until``); False when one no longer stands or the hooks' time is up."""
        revision, due = self.revision.value, steady.until
        for _, standing in steady.attempts:
            if not standing.holds(steady.entry, revision, now):
                return False
            assert standing.due is not None  # it holds: its deadlines were read
            if due is None or standing.due < due:
                due = standing.due
        if due is None or now >= due:
            return False
        steady.due = due
        return True

    def context(self, attempt: Attempt, *, now: datetime) -> AccessContext:
        """What the hospital knows of ``attempt`` at ``now`` (no decision, no event)."""
        cert = attempt.certificate
        leaf = None if cert is None else self.leaves.facts(cert)
        record = None if leaf is None else self.ca.record(leaf.serial)
        return AccessContext(attempt, now, self.inventory.get(attempt.device_id), leaf, record)

    def decide(
        self, attempt: Attempt, *, now: datetime, standing: Standing | None = None
    ) -> Decision:
        """Walk the hops, record the decision, notify the listeners.

        With ``standing`` (the same object for every attempt of one device, service
        and certificate), an allowance that still stands is given again without the
        walk, and a walked decision updates it (:mod:`testbed.standing`).
        """
        if standing is not None:
            entry = self.inventory.get(attempt.device_id)
            if standing.holds(entry, self.revision.value, now):  # given again, not walked
                decision = standing.decision
                assert decision is not None  # it holds
                self.stood += 1
                context = AccessContext(attempt, now, entry, standing.leaf, standing.record,
                                        standing)  # fmt: skip
                if self.check_standing:
                    self._check(context, decision)
                self.log.record(now, _ACCESS_DECISION, attempt.device_id, _DECISION_KEYS,
                                standing.values)  # fmt: skip
                for listener in self._again:
                    listener(context, decision)
                return decision
        context = self.context(attempt, now=now)
        decision = self._walk(context)
        values = _values(context, decision)
        if standing is not None:
            self._stand(standing, context, decision, values)
        self.log.record(now, _ACCESS_DECISION, attempt.device_id, _DECISION_KEYS, values)
        for listener in self._listeners:
            listener(context, decision)
        return decision

    def _check(self, context: AccessContext, decision: Decision) -> None:
        """Walk anyway; :class:`StandingError` if the walk sees anything else."""
        fresh = self.context(context.attempt, now=context.now)
        walked = self._walk(fresh)
        if walked != decision or (fresh.leaf, fresh.record) != (context.leaf, context.record):
            attempt = context.attempt
            raise StandingError(
                f"{attempt.device_id} -> {attempt.service} at {context.now}: the standing "
                f"allowance {decision} differs from the walk's {walked}"
            )

    def _stand(
        self,
        standing: Standing,
        context: AccessContext,
        decision: Decision,
        values: tuple[Value, ...],
    ) -> None:
        """Let an allowance stand until a hop's pass could end by time alone."""
        if not decision.allowed or context.entry is None:
            standing.clear()
            return
        context.standing = standing
        limits: list[datetime] = []
        deadlines: tuple[Deadline, ...] = ()
        for hop in self._timed[self._kind(context.attempt.service)]:
            limit = hop.until(context)
            if limit is not None:
                limits.append(limit)
            deadlines += hop.deadlines(context)
        standing.deadlines = deadlines
        standing.decision = decision
        standing.values = values
        standing.entry = context.entry
        standing.leaf = context.leaf
        standing.record = context.record
        standing.version = context.entry.version
        standing.revision = self.revision.value
        standing.until = min(limits) if limits else datetime.max.replace(tzinfo=context.now.tzinfo)
        standing.due = None  # the deadlines are read at the first reuse
        standing.deserved = -1

    def _kind(self, service: str) -> ServiceKind:
        kind = self._kind_of.get(service)
        return self.system.service(service).kind if kind is None else kind  # raises: unknown

    def _walk(self, context: AccessContext) -> Decision:
        """The first hop that refuses, or an allowance at the service hop."""
        for hop in self.chains[self._kind(context.attempt.service)]:
            decision = hop.check(context)
            if decision is not None:
                return decision
        return ALLOW


def _values(context: AccessContext, decision: Decision) -> tuple[Value, ...]:
    """The data of a decision's ``access-decision`` event, in :data:`_DECISION_KEYS` order."""
    attempt, leaf = context.attempt, context.leaf
    return (
        attempt.service,
        decision.allowed,
        decision.reason.value,
        decision.hop.value,
        attempt.purpose.value,
        None if leaf is None else leaf.serial_hex,
        decision.detail or None,
    )
