"""Faults begun and healed now: live fault injection (issue 15: the certification kit).

An operator, or the certification kit through the admin API, starts and heals a fault
now, on the same state the simulation's fault effects change (:mod:`testbed.sim.effects`),
with the same ``fault-started`` / ``fault-healed`` events (no ``ends``: a live fault
lasts until it is healed).  Each is a plain function over a
:class:`~testbed.hospital.Hospital`, like the operator operations of
:mod:`testbed.operations`; ending a fault that is not in progress raises
:class:`~testbed.errors.RegistrationError` (the admin API's 409).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from testbed.errors import EhrError, RegistrationError
from testbed.events import EventKind
from testbed.faults import FaultKind
from testbed.operations import publish_crls, rotate_idp_key
from testbed.pki.issuing_mode import IssuingMode
from testbed.sites import ServiceKind

if TYPE_CHECKING:
    from testbed.clinical import Clinical
    from testbed.hospital import Hospital

__all__ = [
    "begin_ca_outage",
    "begin_idp_key_rotation",
    "begin_idp_outage",
    "begin_pacs_trust_missing",
    "begin_service_outage",
    "block_route",
    "end_ca_outage",
    "end_idp_key_rotation",
    "end_idp_outage",
    "end_pacs_trust_missing",
    "end_service_outage",
    "unblock_route",
]


def _ca_target(site: str | None) -> str:
    return "ca" if site is None else f"site:{site}"


def _check_site(hospital: Hospital, site: str | None) -> None:
    sites = [s.name for s in hospital.scenario.sites]
    if site is not None and site not in sites:
        raise RegistrationError(f"unknown site {site!r}; known: {sites}")


def _check_ca_site(hospital: Hospital, site: str | None) -> None:
    """``site`` names an issuing CA: a known site, under per-site issuing (the rule
    ``testbed validate`` applies to a scenario's ``ca-outage`` target)."""
    _check_site(hospital, site)
    if site is not None and hospital.scenario.pki.issuing is IssuingMode.CENTRAL:
        raise RegistrationError(
            f"site {site!r} has no issuing CA of its own under central issuing: take the "
            "whole CA down (no site), or issue per site (pki.issuing: per-site)"
        )


def begin_ca_outage(hospital: Hospital, *, site: str | None = None) -> None:
    """The CA (or ``site``'s issuing CA, per-site issuing) goes down: EST answers 503 +
    Retry-After, and it signs no CRL."""
    _check_ca_site(hospital, site)
    hospital.ca_outages.begin(site)
    hospital.log.emit(hospital.now(), EventKind.FAULT_STARTED, _ca_target(site),
                      fault=FaultKind.CA_OUTAGE)  # fmt: skip


def end_ca_outage(hospital: Hospital, *, site: str | None = None) -> bool:
    """One CA outage ends; when the CA is up again its CRLs are republished at once (as
    the simulation's heal does).  Whether it is up; raises
    :class:`~testbed.errors.PkiError` when no such outage is in progress."""
    _check_ca_site(hospital, site)
    up = hospital.ca_outages.end(site)
    if up:
        publish_crls(hospital, site=site)
    hospital.log.emit(hospital.now(), EventKind.FAULT_HEALED, _ca_target(site),
                      fault=FaultKind.CA_OUTAGE)  # fmt: skip
    return up


def begin_pacs_trust_missing(hospital: Hospital, *, site: str) -> None:
    """``site``'s PACS loses the hospital's CA from its own trust store (the site's FHIR
    and EST keep it): the ``pacs-trust-missing`` fault, begun now."""
    _check_site(hospital, site)
    hospital.pacs_trust.withhold(site)
    hospital.log.emit(hospital.now(), EventKind.FAULT_STARTED, f"site:{site}",
                      fault=FaultKind.PACS_TRUST_MISSING)  # fmt: skip


def end_pacs_trust_missing(hospital: Hospital, *, site: str) -> None:
    """``site``'s PACS trusts the CA again (one fault ends; they nest); raises
    :class:`~testbed.errors.RegistrationError` when none is in progress."""
    _check_site(hospital, site)
    try:
        hospital.pacs_trust.release(site)
    except KeyError:
        raise RegistrationError(f"the PACS of site {site!r} is not missing trust") from None
    hospital.log.emit(hospital.now(), EventKind.FAULT_HEALED, f"site:{site}",
                      fault=FaultKind.PACS_TRUST_MISSING)  # fmt: skip


def _route(hospital: Hospital, zone: str, service: str, site: str | None) -> str:
    _check_site(hospital, site)
    services = [s.name for s in hospital.scenario.services]
    if service not in services:
        raise RegistrationError(f"unknown service {service!r}; known: {services}")
    zones = {z for s in hospital.scenario.sites for z in s.zones}
    if zone not in zones:
        raise RegistrationError(f"unknown zone {zone!r}; known: {sorted(zones)}")
    return f"{zone}->{service}"


def block_route(hospital: Hospital, zone: str, service: str, *, site: str | None = None) -> None:
    """Zone ``zone`` can no longer reach ``service`` (at ``site``, or everywhere)."""
    target = _route(hospital, zone, service, site)
    hospital.policy.block(zone, service, site)
    hospital.log.emit(hospital.now(), EventKind.FAULT_STARTED, target,
                      fault=FaultKind.BLOCKED_ROUTE, site=site)  # fmt: skip


def unblock_route(hospital: Hospital, zone: str, service: str, *, site: str | None = None) -> None:
    """Heal one block of a route; raises :class:`~testbed.errors.RegistrationError`
    when the route is not blocked."""
    target = _route(hospital, zone, service, site)
    try:
        hospital.policy.unblock(zone, service, site)
    except ValueError as error:
        raise RegistrationError(str(error)) from None
    hospital.log.emit(hospital.now(), EventKind.FAULT_HEALED, target,
                      fault=FaultKind.BLOCKED_ROUTE, site=site)  # fmt: skip


_OUTAGE_KINDS = {FaultKind.PACS_OUTAGE: ServiceKind.PACS, FaultKind.EHR_OUTAGE: ServiceKind.EHR}


def _outage_service(hospital: Hospital, fault: FaultKind, service: str) -> str:
    """``service`` checked as a service this kind of outage can take down."""
    kind = _OUTAGE_KINDS[fault]
    names = [s.name for s in hospital.scenario.services if s.kind is kind]
    if service not in names:
        raise RegistrationError(f"{fault}: unknown {kind} service {service!r}; known: {names}")
    return f"service:{service}"


def begin_service_outage(hospital: Hospital, fault: FaultKind, service: str) -> None:
    """A PACS (``pacs-outage``: associations refused ``service-unavailable``) or an EHR
    (``ehr-outage``: FHIR requests refused ``service-unavailable``) goes down, as the
    simulation's effects take it down (:class:`~testbed.hops.ServiceOutages`)."""
    target = _outage_service(hospital, fault, service)
    hospital.outages.begin(service)
    hospital.log.emit(hospital.now(), EventKind.FAULT_STARTED, target, fault=fault)


def end_service_outage(hospital: Hospital, fault: FaultKind, service: str) -> None:
    """One outage of ``service`` ends; raises :class:`~testbed.errors.RegistrationError`
    when the service is not down."""
    target = _outage_service(hospital, fault, service)
    try:
        hospital.outages.end(service)
    except ValueError as error:
        raise RegistrationError(str(error)) from None
    hospital.log.emit(hospital.now(), EventKind.FAULT_HEALED, target, fault=fault)


def _clinical(hospital: Hospital) -> Clinical:
    clinical = hospital.clinical
    if clinical is None:
        raise EhrError("this hospital has no identity provider: its scenario has no 'ehr' block")
    return clinical


def begin_idp_outage(hospital: Hospital) -> None:
    """The identity provider answers nothing (token requests: ``service-unavailable``)."""
    _clinical(hospital).idp_outage(begin=True)
    hospital.log.emit(hospital.now(), EventKind.FAULT_STARTED, "idp", fault=FaultKind.IDP_OUTAGE)


def end_idp_outage(hospital: Hospital) -> None:
    """One IdP outage ends; raises :class:`~testbed.errors.RegistrationError` when the
    IdP is not down."""
    try:
        _clinical(hospital).idp_outage(begin=False)
    except ValueError as error:
        raise RegistrationError(str(error)) from None
    hospital.log.emit(hospital.now(), EventKind.FAULT_HEALED, "idp", fault=FaultKind.IDP_OUTAGE)


def begin_idp_key_rotation(hospital: Hospital) -> str:
    """The ``idp-key-rotation`` fault begun now, as the simulation's effect begins it
    with no overlap: the EHRs keep their copy of the IdP's JWKS (held stale until the
    heal) and the IdP signs with a new key, the old one leaving its JWKS at once.  A
    token a device holds is inactive at introspection from now (the EHR answers 401
    ``token-inactive``, RFC 6750 §3.1 ``invalid_token``) and a new one is signed with a
    key the EHRs' copy lacks (401 ``token-key-unknown``) until
    :func:`end_idp_key_rotation`.  The new ``kid``; :class:`RegistrationError` while
    one is in progress."""
    clinical = _clinical(hospital)
    if clinical.key_rotation_fault:
        raise RegistrationError("an idp-key-rotation is in progress already")
    now = hospital.now()
    clinical.verifier.jwks.hold_copy(now=now)  # the EHRs' copy, from before, until the heal
    kid = rotate_idp_key(hospital, overlap=timedelta(0))
    clinical.key_rotation_fault = True
    hospital.log.emit(now, EventKind.FAULT_STARTED, "idp", fault=FaultKind.IDP_KEY_ROTATION)
    return kid


def end_idp_key_rotation(hospital: Hospital) -> None:
    """The heal: the EHRs fetch the IdP's JWKS again, so tokens signed with the new key
    verify (those signed with the old one stay inactive: it is gone); raises
    :class:`~testbed.errors.RegistrationError` when no rotation is in progress."""
    clinical = _clinical(hospital)
    if not clinical.key_rotation_fault:
        raise RegistrationError("no idp-key-rotation is in progress")
    clinical.verifier.jwks.refresh()
    clinical.key_rotation_fault = False
    hospital.log.emit(hospital.now(), EventKind.FAULT_HEALED, "idp",
                      fault=FaultKind.IDP_KEY_ROTATION)  # fmt: skip
