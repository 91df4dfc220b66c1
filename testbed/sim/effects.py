"""What each kind of fault does when it starts and when it heals.

A fault spec (:mod:`testbed.faults`) is a value; its :class:`Effect` is the pair of
functions ``start(ctx, fault)`` and ``heal(ctx, fault)`` registered for its
:class:`~testbed.faults.FaultKind` in :data:`EFFECTS`.  The injector looks the effect
up and calls it on the timeline; a new kind of fault adds its spec and one entry
here, and the injector does not change.  Effects touch the hospital only through
their :class:`~testbed.sim.fault_context.FaultContext`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from testbed.events import EventKind
from testbed.faults import (
    BlockedRoute,
    CaOutage,
    ClockSkew,
    ExceptionExpired,
    FaultKind,
    Partition,
    PolicyDrift,
    RenewalAgentBroken,
    RevokedCertificate,
    ServiceOutage,
    SiteOutage,
    TrustBundleMissing,
    TrustBundleStale,
)
from testbed.sim.fault_context import FaultContext

if TYPE_CHECKING:
    from datetime import timedelta

    from testbed.pki.trust import TrustBundle

__all__ = ["EFFECTS", "Effect", "effect_for"]

F = TypeVar("F")


@dataclass(frozen=True, slots=True)
class Effect(Generic[F]):
    """What a fault of one kind does to the hospital when it starts and when it heals."""

    start: Callable[[FaultContext, F], None]
    heal: Callable[[FaultContext, F], None]


# -- the certificate authority ------------------------------------------------


def _ca_down(ctx: FaultContext, fault: CaOutage) -> None:
    ctx.outages.begin(fault.site)


def _ca_up(ctx: FaultContext, fault: CaOutage) -> None:
    if ctx.outages.end(fault.site):
        ctx.publish_crls(site=fault.site)  # back up: relying parties get a fresh CRL at once


# -- trust bundles --------------------------------------------------------------


def _site(target: str) -> str:
    return target.partition(":")[2]


def _withhold(ctx: FaultContext, fault: TrustBundleMissing) -> None:
    ctx.trust.withhold(_site(fault.target))


def _release(ctx: FaultContext, fault: TrustBundleMissing) -> None:
    _restored(ctx, _site(fault.target), ctx.trust.release)


def _freeze(ctx: FaultContext, fault: TrustBundleStale) -> None:
    ctx.trust.stale(_site(fault.target), now=ctx.now())


def _thaw(ctx: FaultContext, fault: TrustBundleStale) -> None:
    _restored(ctx, _site(fault.target), ctx.trust.thaw)


def _restored(ctx: FaultContext, site: str, end: Callable[..., TrustBundle]) -> None:
    """End one fault on ``site``'s bundle; an update event if the bundle changed (an
    overlapping fault may still hold the site: then nothing changed)."""
    now = ctx.now()
    before = ctx.trust.bundle(site, now=now)
    bundle = end(site, now=now)
    if bundle != before:
        ctx.emit(EventKind.TRUST_BUNDLE_UPDATED, site, version=bundle.version)


# -- the network ----------------------------------------------------------------


def _block(ctx: FaultContext, fault: BlockedRoute) -> None:
    ctx.policy.block(fault.source, fault.to, fault.site)


def _unblock(ctx: FaultContext, fault: BlockedRoute) -> None:
    ctx.policy.unblock(fault.source, fault.to, fault.site)


def _service_down(ctx: FaultContext, fault: ServiceOutage) -> None:
    ctx.services.begin(fault.service)


def _service_up(ctx: FaultContext, fault: ServiceOutage) -> None:
    ctx.services.end(fault.service)


# -- network designs (issue 13) ----------------------------------------------------


def _cut(fault: Partition) -> tuple[str, str, str | None]:
    return (fault.between[0], fault.between[1], fault.site)


def _partition(ctx: FaultContext, fault: Partition) -> None:
    ctx.policy.partition(_cut(fault))


def _heal_partition(ctx: FaultContext, fault: Partition) -> None:
    ctx.policy.heal_partition(_cut(fault))


def _site_down(ctx: FaultContext, fault: SiteOutage) -> None:
    ctx.policy.site_down(fault.site)


def _site_up(ctx: FaultContext, fault: SiteOutage) -> None:
    ctx.policy.site_up(fault.site)


def _add_rule(ctx: FaultContext, fault: PolicyDrift) -> None:
    ctx.policy.add_unapproved((fault.source, fault.to, fault.site), now=ctx.now())


def _remove_rule(ctx: FaultContext, fault: PolicyDrift) -> None:
    """The rule goes; the exposure it caused is recorded (how long it was in force)."""
    added = ctx.now() - fault.length
    ctx.policy.remove_unapproved((fault.source, fault.to, fault.site), added=added)
    minutes = fault.length.total_seconds() / 60
    ctx.emit(EventKind.POLICY_EXPOSURE, fault.target, minutes=round(minutes, 3),
             added=added.isoformat().replace("+00:00", "Z"))  # fmt: skip


def _expire_exception(ctx: FaultContext, fault: ExceptionExpired) -> None:
    ctx.design_policy.withdraw(fault.exception)


def _renew_exception(ctx: FaultContext, fault: ExceptionExpired) -> None:
    ctx.design_policy.reinstate(fault.exception)


# -- devices ----------------------------------------------------------------------


def _break_agent(ctx: FaultContext, fault: RenewalAgentBroken) -> None:
    for agent in ctx.devices:
        agent.renewal_broken += 1


def _fix_agent(ctx: FaultContext, fault: RenewalAgentBroken) -> None:
    for agent in ctx.devices:
        agent.renewal_broken -= 1


def _revoke(ctx: FaultContext, fault: RevokedCertificate) -> None:
    for agent in ctx.devices:
        ctx.revoke(agent)


def _rebootstrap_revoked(ctx: FaultContext, fault: RevokedCertificate) -> None:
    for agent in ctx.devices:
        if agent.certificate is not None and ctx.is_revoked(agent.certificate):
            ctx.recover(agent)


def _offset(fault: ClockSkew) -> timedelta:
    return fault.offset if fault.ahead else -fault.offset


def _skew(ctx: FaultContext, fault: ClockSkew) -> None:
    # overlapping skews on one device add up; each end takes back its own
    for agent in ctx.devices:
        ctx.set_skew(agent, agent.skew + _offset(fault))


def _unskew(ctx: FaultContext, fault: ClockSkew) -> None:
    for agent in ctx.devices:
        ctx.set_skew(agent, agent.skew - _offset(fault))


EFFECTS: Mapping[FaultKind, Effect[Any]] = MappingProxyType({
    FaultKind.RENEWAL_AGENT_BROKEN: Effect(_break_agent, _fix_agent),
    FaultKind.REVOKED_CERTIFICATE: Effect(_revoke, _rebootstrap_revoked),
    FaultKind.CA_OUTAGE: Effect(_ca_down, _ca_up),
    FaultKind.TRUST_BUNDLE_MISSING: Effect(_withhold, _release),
    FaultKind.TRUST_BUNDLE_STALE: Effect(_freeze, _thaw),
    FaultKind.CLOCK_SKEW: Effect(_skew, _unskew),
    FaultKind.BLOCKED_ROUTE: Effect(_block, _unblock),
    FaultKind.SERVICE_OUTAGE: Effect(_service_down, _service_up),
    FaultKind.PARTITION: Effect(_partition, _heal_partition),
    FaultKind.POLICY_DRIFT: Effect(_add_rule, _remove_rule),
    FaultKind.EXCEPTION_EXPIRED: Effect(_expire_exception, _renew_exception),
    FaultKind.SITE_OUTAGE: Effect(_site_down, _site_up),
})  # fmt: skip
"""The effect of each kind of fault."""


def effect_for(kind: FaultKind, effects: Mapping[FaultKind, Effect[Any]] = EFFECTS) -> Effect[Any]:
    """The effect registered for fault ``kind``; a :class:`LookupError` naming the
    registered kinds if there is none."""
    effect = effects.get(kind)
    if effect is None:
        known = ", ".join(sorted(effects))
        raise LookupError(f"no effect registered for fault kind {str(kind)!r}; registered: {known}")
    return effect
