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
    ClientCredentialLeaked,
    ClockSkew,
    DicomEndpointChanged,
    EhrOutage,
    ExceptionExpired,
    FaultKind,
    FirmwareBreaksDicomTls,
    IdpKeyRotation,
    IdpOutage,
    PacsOutage,
    PacsTrustMissing,
    Partition,
    PatientMoved,
    PolicyDrift,
    RenewalAgentBroken,
    RevokedCertificate,
    ScopeDrift,
    ServiceOutage,
    SiteOutage,
    TokenExpired,
    TrustBundleMissing,
    TrustBundleStale,
)
from testbed.pacs.ae_title import canonical_ae_title
from testbed.sim.fault_context import FaultContext

if TYPE_CHECKING:
    from datetime import timedelta

    from testbed.pki.trust import TrustBundle
    from testbed.sim.ehr_traffic import EhrSession

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


# -- the identity provider and the EHR (issue 11) --------------------------------------


def _sessions(ctx: FaultContext) -> list[EhrSession]:
    return [a.ehr for a in ctx.devices if a.ehr is not None]


def _token_clock_behind(ctx: FaultContext, fault: TokenExpired) -> None:
    for session in _sessions(ctx):
        session.token_skew -= fault.offset


def _token_clock_right(ctx: FaultContext, fault: TokenExpired) -> None:
    for session in _sessions(ctx):
        session.token_skew += fault.offset


def _idp_down(ctx: FaultContext, fault: IdpOutage) -> None:
    ctx.clinical.idp_outage(begin=True)


def _idp_up(ctx: FaultContext, fault: IdpOutage) -> None:
    ctx.clinical.idp_outage(begin=False)


def _rotate_with_stale_cache(ctx: FaultContext, fault: IdpKeyRotation) -> None:
    ctx.clinical.verifier.jwks.hold_copy(now=ctx.now(), until=ctx.now() + fault.length)
    ctx.rotate_idp_key(fault.overlap)


def _refresh_cache(ctx: FaultContext, fault: IdpKeyRotation) -> None:
    ctx.clinical.verifier.jwks.refresh()  # the operator's fix: fetch the JWKS again


def _ehr_fails(ctx: FaultContext, fault: EhrOutage) -> None:
    lost, service = ctx.ehr_delivery.answers_lost, fault.service
    lost.add(service)

    def down() -> None:
        lost.discard(service)
        ctx.services.begin(service)

    ctx.later(fault.answers_lost, down)


def _ehr_back(ctx: FaultContext, fault: EhrOutage) -> None:
    ctx.services.end(fault.service)


def _patients(ctx: FaultContext) -> dict[tuple[str, str], str]:
    """The target devices' patients, once each: (service, patient) -> the ward the
    device that writes for them is at."""
    return {(s.service, s.patient): s.location for s in _sessions(ctx) if s.patient}


def _move_patients(ctx: FaultContext, fault: PatientMoved) -> None:
    for (service, patient), home in _patients(ctx).items():
        if ctx.clinical.where(service, patient) != home:
            continue  # moved already (an overlapping fault)
        census = ctx.clinical.census_of(service, home)
        elsewhere = next(w for w in census.locations if w != home)
        ctx.move_patient(service, patient, elsewhere)


def _patients_back(ctx: FaultContext, fault: PatientMoved) -> None:
    for (service, patient), home in _patients(ctx).items():
        if ctx.clinical.where(service, patient) != home:
            ctx.move_patient(service, patient, home)


def _drift(ctx: FaultContext, fault: ScopeDrift) -> None:
    for session in _sessions(ctx):
        session.drifted_scope = fault.scopes


def _rollback(ctx: FaultContext, fault: ScopeDrift) -> None:
    for session in _sessions(ctx):
        session.drifted_scope = None


def _leak(ctx: FaultContext, fault: ClientCredentialLeaked) -> None:
    for session in _sessions(ctx):
        session.leaked += 1


def _contain(ctx: FaultContext, fault: ClientCredentialLeaked) -> None:
    for session in _sessions(ctx):
        session.leaked -= 1
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
    FaultKind.PARTITION: Effect(_partition, _heal_partition),
    FaultKind.POLICY_DRIFT: Effect(_add_rule, _remove_rule),
    FaultKind.EXCEPTION_EXPIRED: Effect(_expire_exception, _renew_exception),
    FaultKind.SITE_OUTAGE: Effect(_site_down, _site_up),
    FaultKind.TOKEN_EXPIRED: Effect(_token_clock_behind, _token_clock_right),
    FaultKind.IDP_OUTAGE: Effect(_idp_down, _idp_up),
    FaultKind.IDP_KEY_ROTATION: Effect(_rotate_with_stale_cache, _refresh_cache),
    FaultKind.EHR_OUTAGE: Effect(_ehr_fails, _ehr_back),
    FaultKind.PATIENT_MOVED: Effect(_move_patients, _patients_back),
    FaultKind.SCOPE_DRIFT: Effect(_drift, _rollback),
    FaultKind.CLIENT_CREDENTIAL_LEAKED: Effect(_leak, _contain),
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
