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
    AeTitleNotAllowed,
    BlockedRoute,
    CaOutage,
    ClockSkew,
    DicomEndpointChanged,
    FaultKind,
    FirmwareBreaksDicomTls,
    PacsOutage,
    PacsTrustMissing,
    RenewalAgentBroken,
    RevokedCertificate,
    ServiceOutage,
    TrustBundleMissing,
    TrustBundleStale,
)
from testbed.pacs.ae_title import canonical_ae_title
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


# -- DICOM (issue 12) -------------------------------------------------------------


def _pacs_down(ctx: FaultContext, fault: PacsOutage) -> None:
    ctx.services.begin(fault.service)


def _pacs_up(ctx: FaultContext, fault: PacsOutage) -> None:
    ctx.services.end(fault.service)


def _titles(ctx: FaultContext) -> list[str]:
    return [canonical_ae_title(a.record.ae_title) for a in ctx.devices if a.record.ae_title]


def _unlist(ctx: FaultContext, fault: AeTitleNotAllowed) -> None:
    for title in _titles(ctx):
        ctx.allow_lists.withhold(fault.service, title)


def _relist(ctx: FaultContext, fault: AeTitleNotAllowed) -> None:
    for title in _titles(ctx):
        ctx.allow_lists.restore(fault.service, title)


def _pacs_distrusts(ctx: FaultContext, fault: PacsTrustMissing) -> None:
    ctx.pacs_trust.withhold(_site(fault.target))


def _pacs_trusts(ctx: FaultContext, fault: PacsTrustMissing) -> None:
    ctx.pacs_trust.release(_site(fault.target))


def _move(ctx: FaultContext, fault: DicomEndpointChanged) -> None:
    ctx.dicom.move(fault.service, port=fault.port, ae_title=fault.ae_title)


def _distribute(ctx: FaultContext, fault: DicomEndpointChanged) -> None:
    """The change reaches the devices: they send to where the PACS listens now."""
    ctx.imaging.distribute(fault.service)


def _fall_back(ctx: FaultContext, fault: FirmwareBreaksDicomTls) -> None:
    for agent in ctx.devices:
        agent.tls_faults = (*agent.tls_faults, fault.to)


def _firmware_fixed(ctx: FaultContext, fault: FirmwareBreaksDicomTls) -> None:
    for agent in ctx.devices:
        held = list(agent.tls_faults)
        held.remove(fault.to)
        agent.tls_faults = tuple(held)


EFFECTS: Mapping[FaultKind, Effect[Any]] = MappingProxyType({
    FaultKind.RENEWAL_AGENT_BROKEN: Effect(_break_agent, _fix_agent),
    FaultKind.REVOKED_CERTIFICATE: Effect(_revoke, _rebootstrap_revoked),
    FaultKind.CA_OUTAGE: Effect(_ca_down, _ca_up),
    FaultKind.TRUST_BUNDLE_MISSING: Effect(_withhold, _release),
    FaultKind.TRUST_BUNDLE_STALE: Effect(_freeze, _thaw),
    FaultKind.CLOCK_SKEW: Effect(_skew, _unskew),
    FaultKind.BLOCKED_ROUTE: Effect(_block, _unblock),
    FaultKind.SERVICE_OUTAGE: Effect(_service_down, _service_up),
    FaultKind.PACS_OUTAGE: Effect(_pacs_down, _pacs_up),
    FaultKind.AE_TITLE_NOT_ALLOWED: Effect(_unlist, _relist),
    FaultKind.PACS_TRUST_MISSING: Effect(_pacs_distrusts, _pacs_trusts),
    FaultKind.DICOM_ENDPOINT_CHANGED: Effect(_move, _distribute),
    FaultKind.FIRMWARE_BREAKS_DICOM_TLS: Effect(_fall_back, _firmware_fixed),
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
