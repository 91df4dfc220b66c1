"""The live hospital: the scenario's CA, inventory, EST core and revocation over wall time.

One :class:`LiveHospital` owns everything the live servers answer from.  It builds the
same services as the simulation (:class:`~testbed.pki.ca.CertificateAuthority`,
:class:`~testbed.inventory.Inventory`, :class:`~testbed.pki.est.EstService`) but with
OS-random keys and a :class:`~testbed.clock.WallClock`, and it offboards through the
shared :mod:`testbed.offboard` functions.  No sockets here: :mod:`testbed.live.server`
translates HTTP to these calls.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.serialization import Encoding

from testbed.approval import approve_enrollment
from testbed.clock import Clock, WallClock, isoformat
from testbed.crosscheck import profiles_for
from testbed.devices import DeviceProfile, ae_title_for, load_profiles, make_record
from testbed.errors import RegistrationError
from testbed.events import EventKind, EventLog
from testbed.hospital import HealthSystem
from testbed.inventory import Inventory
from testbed.offboard import Offboarding, offboard_device, revoke_device
from testbed.pki.ca import CertificateAuthority, IssuingCA
from testbed.pki.est import EstService
from testbed.pki.leaf_profile import device_name_problem
from testbed.pki.revocation import (
    CrlDistribution,
    PublishedCrl,
    RevocationReason,
    build_crl,
    ocsp_response,
)
from testbed.scenario import Scenario, load_scenario

__all__ = ["Bootstrap", "LiveHospital", "Registration", "device_id_for"]

_SERIAL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,39}$")


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


def device_id_for(registration: Registration) -> str:
    """The stable device id: ``{profile}-{site}-{serial}``, lowercased."""
    return f"{registration.profile}-{registration.site}-{registration.serial}".lower()


class LiveHospital:
    """A scenario's PKI and inventory, live: wall clock, OS-random keys, audit log."""

    def __init__(
        self,
        scenario: Scenario,
        *,
        profiles: dict[str, DeviceProfile],
        clock: Clock | None = None,
        log: EventLog | None = None,
    ) -> None:
        self.scenario = scenario
        self.profiles = profiles
        self.clock: Clock = clock or WallClock()
        self.log = log or EventLog()
        self.system = HealthSystem(scenario.sites, scenario.services)
        self.ca = CertificateAuthority(
            name="Hospital",
            trust_domain=scenario.trust_domain,
            sites=[s.name for s in scenario.sites],
            issuing=scenario.pki.issuing,
            now=self.clock.now(),
            rng=None,
            key_type=scenario.pki.key_type,
        )
        self.inventory = Inventory()
        self.est = EstService(ca=self.ca, directory=self.inventory, log=self.log)
        self.crls = CrlDistribution()
        self.nac: set[str] = set()

    @classmethod
    def from_file(
        cls, path: Path, *, clock: Clock | None = None, log: EventLog | None = None
    ) -> LiveHospital:
        """Load, validate and cross-check a scenario file and build its live hospital."""
        scenario = load_scenario(path)
        profiles = load_profiles(profiles_for(scenario, path.parent))
        return cls(scenario, profiles=profiles, clock=clock, log=log)

    def now(self) -> datetime:
        """Wall time (the one clock of the live run)."""
        return self.clock.now()

    # -- trust ----------------------------------------------------------------

    def trust_bundle_pem(self) -> bytes:
        """The root and every issuing CA, PEM, root first."""
        certificates = [self.ca.root, *(i.certificate for i in self.ca.issuing_cas())]
        return b"".join(c.public_bytes(Encoding.PEM) for c in certificates)

    # -- registration ---------------------------------------------------------

    def register(self, registration: Registration) -> Bootstrap:
        """Pre-register a device and set its one-time bootstrap secret.

        Raises :class:`RegistrationError` naming the bad site, zone, profile or serial.
        """
        profile = self._checked(registration)
        device_id = device_id_for(registration)
        registered = sum(1 for _ in self.inventory)
        try:
            ae_title = ae_title_for(profile, registered + 1)  # numbered as the simulation does
        except ValueError as error:
            raise RegistrationError(f"profile {profile.id!r}: {error}") from None
        record = make_record(
            profile,
            self.system,
            device_id=device_id,
            serial=registration.serial,
            site=registration.site,
            zone=registration.zone,
            owner=registration.owner,
            preferred_key=self.scenario.pki.key_type,
            ae_title=ae_title,
        )
        now = self.now()
        pending = self.scenario.pki.manual_approval
        self.inventory.register(
            record,
            now=now,
            lifetime=profile.validity(self.scenario.pki.lifetime),
            on_expiry="renew-automatically" if profile.automated_renewal else "renew-manually",
            approved=not pending,
        )
        password = secrets.token_urlsafe(18)
        self.inventory.set_bootstrap(device_id, password)
        self.nac.add(device_id)
        self.log.emit(now, EventKind.DEVICE_REGISTERED, device_id, site=record.site,
                      zone=record.zone, profile=record.profile, owner=record.owner,
                      services=",".join(record.intended_services), ae_title=ae_title,
                      audit_code="110108/110124")  # fmt: skip
        return Bootstrap(device_id, device_id, password, approval_pending=pending,
                         ae_title=ae_title)  # fmt: skip

    def approve(self, device_id: str) -> bool:
        """An operator approves a registered device's enrollment (seed §7 step 2):
        :func:`~testbed.approval.approve_enrollment`, as the simulation does."""
        return approve_enrollment(device_id, inventory=self.inventory, log=self.log, now=self.now())

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
        if not _SERIAL.match(registration.serial):
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

    # -- revocation and offboarding -------------------------------------------

    def revoke(
        self, device_id: str, reason: RevocationReason = RevocationReason.UNSPECIFIED
    ) -> tuple[int, ...]:
        """Revoke every live certificate of a registered device; republish the CRLs."""
        self.inventory.entry(device_id)
        serials = revoke_device(device_id, ca=self.ca, log=self.log, now=self.now(),
                                why="operator revocation", reason=reason)  # fmt: skip
        self.publish_crls()
        return serials

    def offboard(self, device_id: str) -> Offboarding:
        """Run the shared offboarding steps (seed §2); republish the CRLs."""
        done = offboard_device(
            device_id,
            ca=self.ca,
            inventory=self.inventory,
            nac=self.nac,
            log=self.log,
            now=self.now(),
        )
        self.publish_crls()
        return done

    # -- CRL and OCSP ---------------------------------------------------------

    def publish_crls(self) -> None:
        """Sign and publish a fresh CRL for every issuing CA."""
        for issuing in self.ca.issuing_cas():
            self._publish(issuing)

    def _publish(self, issuing: IssuingCA) -> PublishedCrl:
        now = self.now()
        crl = build_crl(self.ca, issuing, now=now, next_update_after=self.scenario.pki.crl_validity)
        self.crls.publish(crl)
        self.log.emit(now, EventKind.CRL_PUBLISHED, issuing.name, entries=len(crl.serials))
        return crl

    def crl(self, site: str | None = None) -> PublishedCrl:
        """The current CRL of the issuing CA for ``site`` (None: central), reissued when due.

        A CRL is reissued after every revocation and once ``crl_interval`` has passed.
        Raises :class:`~testbed.errors.PkiError` for an unknown site, or for None in
        per-site mode.
        """
        now = self.now()
        issuing = self.ca.issuing_ca_for(site, now=now)
        current = self.crls.current(issuing.name)
        due = timedelta(0) if current is None else now - current.this_update
        if current is None or due >= self.scenario.pki.crl_interval:
            return self._publish(issuing)
        return current

    def ocsp(self, request_der: bytes) -> bytes:
        """The DER OCSP response to a DER OCSP request (RFC 6960)."""
        return ocsp_response(self.ca, request_der, now=self.now())
