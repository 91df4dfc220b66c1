"""The live hospital: the scenario's :class:`~testbed.hospital.Hospital` over wall time.

:class:`LiveHospital` wraps the same composition root as the simulation, built with a
:class:`~testbed.clock.WallClock` (optionally offset, so a test can move time) and
OS randomness for keys and secrets, and acts through the same operator operations
(:mod:`testbed.operations`).  No sockets here: :mod:`testbed.live.server` translates
HTTP to these calls.

Given a durable store (:mod:`testbed.live.store`), the hospital is the one the store
kept, and every operation that changes it runs as one of the store's transactions
(:func:`_durable`): the method returns, and the server answers, only once what it did
is on disk.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

from testbed import fault_operations, operations
from testbed.clock import Clock, WallClock, isoformat
from testbed.crosscheck import scenario_profiles
from testbed.devices import DeviceProfile, ae_title_for, make_record
from testbed.dicom import InstanceStores, memory_instances
from testbed.drift_watch import DriftWatch
from testbed.errors import RegistrationError
from testbed.events import EventKind, EventLog
from testbed.faults import FaultKind
from testbed.hospital import Hospital
from testbed.network.peer import Peer
from testbed.network.policy import zones_reaching
from testbed.offboard import Offboarding
from testbed.pki.ca import IssuingCA
from testbed.pki.est import EstResponse
from testbed.pki.fidelity import Fidelity, LeafCertificate
from testbed.pki.leaf_profile import device_name_problem
from testbed.pki.revocation import (
    PublishedCrl,
    RevocationReason,
    ocsp_response,
)
from testbed.scenario import Scenario, load_scenario
from testbed.sites import ServiceKind
from testbed.store import HospitalStore

if TYPE_CHECKING:
    from testbed.ehr.context import Move

__all__ = ["Bootstrap", "LiveHospital", "Registration", "device_id_for"]

_SERIAL = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,39}")


@dataclass(frozen=True, slots=True)
class Registration:
    """An operator's request to pre-register one device (seed §7 step 1)."""

    serial: str
    site: str
    zone: str
    profile: str
    owner: str = "unassigned"


@dataclass(frozen=True, slots=True)
class Bootstrap:
    """The registered device id and its one-time HTTP Basic bootstrap credentials.

    ``approval_pending``: the scenario asks for manual approval (``pki.manual_approval``),
    so EST answers 202 + Retry-After until an operator approves the device.
    """

    device_id: str
    username: str
    password: str
    approval_pending: bool = False
    ae_title: str | None = None  # the device's DICOM AE title, if its profile speaks DICOM
    #: the SMART client and EHR placement (``smart``, ``location``), if it uses the EHR
    smart: dict[str, object] | None = None
    key_type: str = ""  # the registered certificate type (the key its CSR must carry)


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _durable(
    method: Callable[Concatenate[LiveHospital, _P], _R],
) -> Callable[Concatenate[LiveHospital, _P], _R]:
    """Run the method as one transaction of the hospital's store: what it changed is
    kept (durably, for a durable store) before it returns."""

    @functools.wraps(method)
    def durable(self: LiveHospital, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        with self.hospital.store.transaction():
            return method(self, *args, **kwargs)

    return durable


def device_id_for(registration: Registration) -> str:
    """The stable device id: ``{profile}-{site}-{serial}``, lowercased."""
    return f"{registration.profile}-{registration.site}-{registration.serial}".lower()


LIVE_CACHE_ENTRIES = 65_536
"""Certificates whose decoded facts a live hospital keeps (the simulation's bound is
a million): each entry is about 4 KB, and a full cache is cleared."""


class LiveHospital:
    """A scenario's :class:`~testbed.hospital.Hospital` on a wall clock, with OS-random
    keys and secrets, as the live servers answer from it: the same composition root
    and the same operator operations (:mod:`testbed.operations`) as the simulation,
    plus what only a live run needs (parsing registrations, CRLs reissued on demand)."""

    def __init__(
        self,
        scenario: Scenario,
        *,
        profiles: dict[str, DeviceProfile],
        clock: Clock | None = None,
        log: EventLog | None = None,
        store: HospitalStore | None = None,
        instances: InstanceStores = memory_instances,
    ) -> None:
        # live mode is always full fidelity: real devices meet real certificates;
        # ``instances``: where each PACS keeps its instances (the state directory's)
        self.hospital = Hospital(scenario, profiles=profiles, clock=clock or WallClock(),
                                 rng=None, log=EventLog() if log is None else log,
                                 fidelity=Fidelity.FULL, store=store,
                                 instances=instances)  # fmt: skip
        # a long-running server's caches of certificate facts stay small (cleared when
        # full; testbed.live.peer gives one object per certificate presented)
        self.hospital.access.leaves.max_entries = LIVE_CACHE_ENTRIES
        self.hospital.verifier.max_entries = LIVE_CACHE_ENTRIES
        if store is not None:  # a CA made now is kept before anyone sees it
            with store.transaction():
                pass
        self.scenario = scenario
        self.profiles = profiles
        self.clock = self.hospital.clock
        self.log = self.hospital.log
        self.ca = self.hospital.ca
        self.inventory = self.hospital.inventory
        self.est = self.hospital.est
        self.drift_watch = DriftWatch()  # what this run alerted (a restart alerts again)

    @classmethod
    def from_file(
        cls,
        path: Path,
        *,
        clock: Clock | None = None,
        log: EventLog | None = None,
        store: HospitalStore | None = None,
    ) -> LiveHospital:
        """Load, validate and cross-check a scenario file and build its live hospital
        (the one ``store`` kept, if it kept one)."""
        scenario = load_scenario(path)
        profiles = scenario_profiles(scenario, path.parent)
        return cls(scenario, profiles=profiles, clock=clock, log=log, store=store)

    @property
    def continued(self) -> bool:
        """Whether this hospital is one its store kept from an earlier run."""
        return self.ca.restored

    def now(self) -> datetime:
        """Wall time (the one clock of the live run)."""
        return self.clock.now()

    def tally(self) -> None:
        """Write the decision points' own count of their decisions (access decisions,
        EST answers) as the log's ``audit-tally`` event: the server does so when it
        stops, so a report of the run can measure its audit coverage."""
        self.log.emit(self.now(), EventKind.AUDIT_TALLY, "testbed",
                      access_decisions=self.hospital.metrics.decisions,
                      enrollment_answers=self.est.answers)  # fmt: skip

    def trust_bundle_pem(self) -> bytes:
        """The root and every issuing CA, PEM, root first."""
        return self.hospital.trust_bundle_pem()

    # -- enrollment (RFC 7030) ---------------------------------------------------

    @_durable
    def simpleenroll(
        self,
        body: bytes,
        *,
        content_type: str,
        basic: tuple[str, str] | None,
        client_cert: LeafCertificate | None,
    ) -> EstResponse:
        """The EST core's answer to a first enrollment, now; kept before it returns."""
        return self.est.simpleenroll(body, content_type=content_type, basic=basic,
                                     client_cert=client_cert, now=self.now())  # fmt: skip

    @_durable
    def simplereenroll(
        self, body: bytes, *, content_type: str, client_cert: LeafCertificate | None
    ) -> EstResponse:
        """The EST core's answer to a re-enrollment, now; kept before it returns."""
        return self.est.simplereenroll(body, content_type=content_type,
                                       client_cert=client_cert, now=self.now())  # fmt: skip

    # -- registration ---------------------------------------------------------

    @_durable
    def register(
        self,
        registration: Registration,
        *,
        jwks: Mapping[str, Any] | None = None,
        jwks_url: str | None = None,
    ) -> Bootstrap:
        """Pre-register a device (:func:`testbed.operations.register`); a device whose
        profile uses the EHR registers its SMART client with ``jwks`` or ``jwks_url``.

        Raises :class:`RegistrationError` naming the bad site, zone, profile or serial.
        """
        profile = self._checked(registration)
        device_id = device_id_for(registration)
        registered = len(self.inventory)
        try:
            ae_title = ae_title_for(profile, registered + 1)  # numbered as the simulation does
        except ValueError as error:
            raise RegistrationError(f"profile {profile.id!r}: {error}") from None
        record = make_record(
            profile,
            self.hospital.system,
            device_id=device_id,
            serial=registration.serial,
            site=registration.site,
            zone=registration.zone,
            owner=registration.owner,
            preferred_key=self.scenario.pki.key_type,
            ae_title=ae_title,
        )
        password = operations.register(self.hospital, record, jwks=jwks, jwks_url=jwks_url)
        pending = self.scenario.pki.manual_approval
        enrollment = operations.smart_enrollment(self.hospital, device_id)
        smart = None if enrollment is None else enrollment.answer()
        return Bootstrap(device_id, device_id, password, approval_pending=pending,
                         ae_title=ae_title, key_type=record.certificate_type.value,
                         smart=smart)  # fmt: skip

    @_durable
    def replace_jwks(
        self, device_id: str, *, jwks: Mapping[str, Any] | None = None,
        jwks_url: str | None = None,
    ) -> None:  # fmt: skip
        """Replace a device's registered JWK Set or URL
        (:func:`~testbed.operations.replace_jwks`)."""
        self.inventory.entry(device_id)
        operations.replace_jwks(self.hospital, device_id, jwks=jwks, jwks_url=jwks_url)

    @_durable
    def move_patient(self, patient: str, to_location: str) -> Move:
        """Move a patient in the EHR (:func:`~testbed.operations.move_patient`)."""
        return operations.move_patient(self.hospital, patient, to_location)

    @_durable
    def rollover_idp_key(self, overlap: timedelta | None = None) -> operations.IdpRollover:
        """An operator rotates the IdP's signing key
        (:func:`~testbed.operations.rollover_idp_key`); the keys are in the store
        before the answer leaves."""
        return operations.rollover_idp_key(self.hospital, overlap=overlap)

    @_durable
    def approve(self, device_id: str) -> bool:
        """An operator approves a registered device's enrollment (seed §7 step 2)."""
        return operations.approve(self.hospital, device_id)

    def _checked(self, registration: Registration) -> DeviceProfile:
        sites = {s.name: s for s in self.scenario.sites}
        site = sites.get(registration.site)
        if site is None:
            raise RegistrationError(f"unknown site {registration.site!r}; known: {sorted(sites)}")
        if registration.zone not in site.zones:
            raise RegistrationError(
                f"unknown zone {registration.zone!r} at site {site.name!r}; "
                f"known: {list(site.zones)}"
            )
        profile = self.profiles.get(registration.profile)
        if profile is None:
            raise RegistrationError(
                f"unknown profile {registration.profile!r}; known: {sorted(self.profiles)}"
            )
        if not profile.supports_est:
            raise RegistrationError(f"profile {profile.id!r} does not support EST enrollment")
        if not _SERIAL.fullmatch(registration.serial):
            raise RegistrationError(
                f"serial {registration.serial!r} must be 1-40 letters, digits or '-'"
            )
        device_id = device_id_for(registration)
        problem = device_name_problem(device_id, site.name, self.scenario.trust_domain)
        if problem is not None:
            raise RegistrationError(f"{problem}: use a shorter serial")
        return profile

    def devices(self) -> list[dict[str, object]]:
        """Every registered device as the inventory and the CA know it now (JSON-ready):
        state, approval, and its current certificate (serial, notAfter, revoked)."""
        now = self.now()
        out: list[dict[str, object]] = []
        for entry in self.inventory:
            record = entry.record
            issued = None if entry.serial is None else self.ca.record(entry.serial)
            certificate = None
            if issued is not None:
                certificate = {
                    "serial": f"{issued.serial:x}",
                    "not_after": isoformat(issued.not_after),
                    "expired": issued.not_after <= now,
                    "revoked": self.ca.revoked_at(issued.serial) is not None,
                }
            out.append({
                "device_id": record.device_id, "profile": record.profile,
                "site": record.site, "zone": record.zone, "owner": record.owner,
                "ae_title": record.ae_title,
                "state": entry.state.value,
                "approval": "approved" if entry.approved else "pending",
                "certificate": certificate,
            })  # fmt: skip
        return out

    def zones_reaching(self, service: str, profile: str) -> list[dict[str, object]]:
        """Where a device of ``profile`` (presenting a certificate; with an AE title,
        toward a PACS) may send to ``service`` now: every site and zone with the network
        hop's decision (JSON-ready).  :class:`RegistrationError` naming what is known
        for an unknown service or profile."""
        if profile not in self.profiles:
            raise RegistrationError(f"profile: no {profile!r}; profiles: "
                                    f"{', '.join(sorted(self.profiles))}")  # fmt: skip
        try:
            kind = self.hospital.system.service(service).kind
        except KeyError as error:
            raise RegistrationError(f"service: {error.args[0]}") from None
        peer = Peer("(placement)", profile, certificate=True,
                    ae_title="PLACEMENT" if kind is ServiceKind.PACS else None)  # fmt: skip
        found = zones_reaching(self.hospital.policy, self.hospital.system, service, peer,
                               self.now())  # fmt: skip
        return [{"site": site, "zone": zone, "allowed": decision.allowed,
                 "reason": decision.reason.value} for site, zone, decision in found]  # fmt: skip

    def scan_drift(self) -> dict[str, object]:
        """An operator's drift scan (the simulation's daily one, :class:`DriftWatch`):
        every disagreement between the inventory and the CA, the IdP's clients and the
        EHRs' device registries now (JSON-ready), each marked ``new`` when this run had
        not alerted it; a new one writes one ``drift-detected`` event."""
        scan = self.drift_watch.scan(self.hospital, self.log, self.now())
        new = {(d.device_id, d.kind) for d in scan.new}
        drift = [{"device_id": d.device_id, "drift": d.kind.value, "detail": d.detail,
                  "new": (d.device_id, d.kind) in new} for d in scan.found]  # fmt: skip
        return {"drift": drift, "new": len(scan.new)}

    @_durable
    def rebootstrap(self, device_id: str) -> str | None:
        """A fresh one-time bootstrap secret for the device (returned; None for a
        retired device: :func:`~testbed.operations.rebootstrap`)."""
        return operations.rebootstrap(self.hospital, device_id)

    @_durable
    def validate(self, device_id: str) -> bool:
        """An enrolled device passed its pre-production validation; False otherwise."""
        return operations.validate(self.hospital, device_id)

    @_durable
    def promote(self, device_id: str) -> bool:
        """Route a validated device to production; False in any other state."""
        return operations.promote(self.hospital, device_id)

    @_durable
    def suspend(self, device_id: str) -> bool:
        """Suspend a device in production; False in any other state."""
        return operations.suspend(self.hospital, device_id)

    @_durable
    def resume(self, device_id: str) -> bool:
        """Return a suspended device to production; False in any other state."""
        return operations.resume(self.hospital, device_id)

    @_durable
    def rotate_ca_key(self, *, site: str | None, overlap: timedelta) -> IssuingCA:
        """A new issuing CA generation (:func:`~testbed.operations.rotate_ca_key`)."""
        return operations.rotate_ca_key(self.hospital, site=site, overlap=overlap)

    @_durable
    def deliver_trust(self) -> dict[str, int]:
        """Push the trust bundles on their way to the sites now
        (:func:`~testbed.operations.deliver_trust`)."""
        return operations.deliver_trust(self.hospital)

    # -- revocation and offboarding -------------------------------------------

    @_durable
    def revoke(
        self, device_id: str, reason: RevocationReason = RevocationReason.UNSPECIFIED
    ) -> tuple[int, ...]:
        """Revoke every live certificate of a device, then republish the CRLs at once
        (two operations: :func:`~testbed.operations.revoke`, then
        :func:`~testbed.operations.publish_crls`)."""
        serials = operations.revoke(self.hospital, device_id, reason=reason)
        self.publish_crls()
        return serials

    @_durable
    def offboard(self, device_id: str) -> Offboarding:
        """Run the shared offboarding steps (seed §2), then republish the CRLs."""
        done = operations.offboard(self.hospital, device_id)
        self.publish_crls()
        return done

    # -- live fault injection (issue 15: the certification kit) -------------------

    @_durable
    def hold_for_approval(self, device_id: str) -> bool:
        """Hold the device's next enrollment for approval (202 + Retry-After)."""
        return operations.hold_for_approval(self.hospital, device_id)

    def begin_ca_outage(self, site: str | None = None) -> None:
        """The CA (or ``site``'s issuing CA) goes down (not kept: faults are not)."""
        fault_operations.begin_ca_outage(self.hospital, site=site)

    @_durable
    def end_ca_outage(self, site: str | None = None) -> bool:
        """One CA outage ends (CRLs republished, kept); whether the CA is up."""
        return fault_operations.end_ca_outage(self.hospital, site=site)

    def block_route(self, zone: str, service: str, site: str | None = None) -> None:
        """Block the route from ``zone`` to ``service`` (not kept: faults are not)."""
        fault_operations.block_route(self.hospital, zone, service, site=site)

    def unblock_route(self, zone: str, service: str, site: str | None = None) -> None:
        """Heal one block of the route from ``zone`` to ``service``."""
        fault_operations.unblock_route(self.hospital, zone, service, site=site)

    def begin_pacs_trust_missing(self, site: str) -> None:
        """``site``'s PACS stops trusting the CA (not kept: faults are not)."""
        fault_operations.begin_pacs_trust_missing(self.hospital, site=site)

    def end_pacs_trust_missing(self, site: str) -> None:
        """``site``'s PACS trusts the CA again."""
        fault_operations.end_pacs_trust_missing(self.hospital, site=site)

    def begin_service_outage(self, fault: FaultKind, service: str) -> None:
        """A PACS or an EHR goes down (``pacs-outage``, ``ehr-outage``; not kept)."""
        fault_operations.begin_service_outage(self.hospital, fault, service)

    def end_service_outage(self, fault: FaultKind, service: str) -> None:
        """One outage of a PACS or an EHR ends."""
        fault_operations.end_service_outage(self.hospital, fault, service)

    def begin_idp_outage(self) -> None:
        """The identity provider goes down (not kept: faults are not)."""
        fault_operations.begin_idp_outage(self.hospital)

    def end_idp_outage(self) -> None:
        """One IdP outage ends."""
        fault_operations.end_idp_outage(self.hospital)

    @_durable
    def begin_idp_key_rotation(self) -> str:
        """The IdP signs with a new key, the old one gone at once, while the EHRs' copy
        of its JWKS is held stale (``idp-key-rotation``; the keys are kept, the stale
        copy is not); the new ``kid``."""
        return fault_operations.begin_idp_key_rotation(self.hospital)

    def end_idp_key_rotation(self) -> None:
        """The EHRs fetch the IdP's JWKS again."""
        fault_operations.end_idp_key_rotation(self.hospital)

    # -- CRL and OCSP ---------------------------------------------------------

    @_durable
    def publish_crls(self) -> list[str]:
        """Sign and publish a fresh CRL for every issuing CA that is up
        (:func:`~testbed.operations.publish_crls`); the issuers that published."""
        return [crl.issuer for crl in operations.publish_crls(self.hospital)]

    @_durable
    def refresh_crls(self) -> None:
        """Reissue every unexpired issuing CA generation's CRL that is due
        (``crl_interval`` since its last one)."""
        for issuing in self.ca.issuing_cas(now=self.now()):
            operations.current_crl(self.hospital, issuing)

    @_durable
    def crl(self, site: str | None = None) -> PublishedCrl | None:
        """The current CRL of the issuing CA for ``site`` (None: central), reissued when due.

        A CRL is reissued after every revocation and once ``crl_interval`` has passed.
        None: the CA is down and has published none for this generation
        (:func:`~testbed.operations.current_crl`).  Raises
        :class:`~testbed.errors.PkiError` for an unknown site, or for None in per-site
        mode.
        """
        issuing = self.ca.issuing_ca_for(site, now=self.now())
        return operations.current_crl(self.hospital, issuing)

    def ocsp(self, request_der: bytes) -> bytes:
        """The DER OCSP response to a DER OCSP request (RFC 6960)."""
        return ocsp_response(self.ca, request_der, now=self.now())
