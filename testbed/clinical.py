"""The hospital's identity provider and EHRs, built once for every transport (issue 11).

A scenario with an ``ehr:`` block (:class:`~testbed.scenario.EhrSettings`) gets a
:class:`Clinical`: one :class:`~testbed.smart.idp.IdentityProvider` (SMART backend
services), one :class:`~testbed.ehr.ehr.Ehr` per EHR-kind service with a census per
site, and the EHRs' :class:`~testbed.smart.verifier.TokenVerifier` (the IdP's JWKS
cached for ``ehr.jwks_cache``, introspection in process).  Without the block the
hospital has none of these and nothing else changes.

Randomness never comes from the run's generator, so adding the block shifts no draw
of an existing scenario: the IdP's keys and token ids come from a generator seeded
with ``"<seed>:idp"`` (live mode, whose ``rng`` is None, uses the operating system's:
its signing keys must not be predictable from a seed), each census from
``"<seed>:census:<service>:<site>"``, each EHR's resource ids from
``"<seed>:ehr:<service>"``.

Devices are placed deterministically: a device of a site goes to the next of that
site's wards that have patients, round robin in registration order.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from testbed.devices import DeviceProfile, DeviceRecord
from testbed.ehr.census import Census, CensusSize
from testbed.ehr.context import Move
from testbed.ehr.ehr import Ehr
from testbed.errors import EhrError, RegistrationError
from testbed.events import EventLog
from testbed.inventory import Inventory
from testbed.metrics import EhrMeasures, Metrics
from testbed.network.design import CredentialIssuance, load_design
from testbed.pki.fidelity import Fidelity
from testbed.scenario import EhrSettings, Scenario
from testbed.sites import HealthSystem, ServiceKind
from testbed.smart.clients import client_keys, jwks_url_of
from testbed.smart.idp import IdentityProvider
from testbed.smart.jwks import Fetched, Fetcher, JwksError
from testbed.smart.relying import IdpJwksCache
from testbed.smart.settings import ClientAuth, IdpSettings
from testbed.smart.signatures import jose_for
from testbed.smart.verifier import TokenVerifier
from testbed.write_oracle import WriteOracle

__all__ = ["Clinical", "SmartEnrollment", "SmartUrls", "idp_settings"]


@dataclass(frozen=True, slots=True)
class SmartUrls:
    """Where the IdP and the FHIR API are: the IdP's ``iss``, its token endpoint
    (the ``aud`` of client assertions), its JWKS, and the FHIR base its tokens are
    for (the ``aud`` of access tokens).  With several EHR services, each EHR's base is
    ``<fhir>/<service>`` (the audience stays ``fhir``)."""

    issuer: str
    token_url: str
    jwks_url: str
    fhir: str

    @classmethod
    def for_domain(cls, trust_domain: str) -> SmartUrls:
        """The simulation's names, under the scenario's trust domain."""
        idp = f"https://idp.{trust_domain}"
        return cls(idp, f"{idp}/token", f"{idp}/jwks", f"https://ehr.{trust_domain}/fhir")


@dataclass(frozen=True, slots=True)
class SmartEnrollment:
    """What registering a device at the IdP and the EHR gave it.

    ``location`` is ``Location/<id>`` (where the EHR places the device); ``secret``
    is the shared secret of ``client_secret_basic`` designs (None otherwise).
    """

    client_id: str
    scopes: tuple[str, ...]
    service: str
    location: str
    device: str  # Device/<id> in the EHR's registry
    secret: str | None = None

    def answer(self) -> dict[str, Any]:
        """The ``smart`` and ``location`` members of a register answer.  In a
        ``client_secret_basic`` design the ``smart`` block also gives the department's
        shared ``client_secret`` (the one the IdP accepts for this client) and
        ``token_endpoint_auth_method``: without it the device could get no token."""
        smart: dict[str, Any] = {"client_id": self.client_id, "scopes": list(self.scopes)}
        if self.secret is not None:
            smart["client_secret"] = self.secret
            smart["token_endpoint_auth_method"] = "client_secret_basic"
        return {"smart": smart, "location": self.location}


def idp_settings(scenario: Scenario, settings: EhrSettings) -> IdpSettings:
    """The IdP's design choices: the block's, else the design's, else the defaults.

    The design says the client authentication (``credentials: shared`` is
    ``client_secret_basic``, any other ``private_key_jwt``) and whether tokens are
    certificate-bound (``certificate_bound_tokens``, RFC 8705).
    """
    auth, bound = settings.client_auth, settings.certificate_bound
    if (auth is None or bound is None) and scenario.design is not None:
        design = load_design(Path(scenario.design))
        if auth is None:
            shared = design.credentials is CredentialIssuance.SHARED
            auth = ClientAuth.CLIENT_SECRET_BASIC if shared else ClientAuth.PRIVATE_KEY_JWT
        if bound is None:
            bound = design.certificate_bound_tokens
    return IdpSettings(
        client_auth=auth or ClientAuth.PRIVATE_KEY_JWT,
        certificate_bound=bool(bound),
        token_lifetime=settings.token_lifetime,
    )


@dataclass(slots=True)
class _Site:
    """One EHR's census of one site and where its next device goes."""

    census: Census
    wards: tuple[str, ...]  # the census's locations with patients (else all of them)
    placed: int = 0


@dataclass(slots=True)
class _Published:
    """JWK Sets the simulation publishes at URLs (the in-memory :data:`Fetcher`)."""

    documents: dict[str, Fetched] = field(default_factory=dict)

    def __call__(self, url: str) -> Fetched:
        try:
            return self.documents[url]
        except KeyError:
            raise JwksError(f"nothing is published at {url!r}") from None


class Clinical:
    """The IdP, the EHRs and the token verifier of one hospital (see the module)."""

    def __init__(
        self,
        scenario: Scenario,
        *,
        settings: EhrSettings,
        system: HealthSystem,
        log: EventLog,
        now: datetime,
        deterministic: bool,
        inventory: Inventory,
        metrics: Metrics,
        fidelity: Fidelity = Fidelity.FULL,
        urls: SmartUrls | None = None,
        fetcher: Fetcher | None = None,
    ) -> None:
        self.scenario = scenario
        self.settings = settings
        self.system = system
        self.log = log
        self.urls = urls or SmartUrls.for_domain(scenario.trust_domain)
        seed = scenario.seed
        self.deterministic = deterministic
        #: JWK Sets published at URLs, fetched by the IdP when no transport fetcher is given
        self.published = _Published()
        idp_rng: random.Random = random.Random(f"{seed}:idp") if deterministic else (
            random.SystemRandom()
        )
        #: how tokens and assertions are signed: real JWS at full, modeled values else
        self.jose = jose_for(fidelity)
        self.idp = IdentityProvider(
            issuer=self.urls.issuer, audience=self.urls.fhir, rng=idp_rng, now=now,
            settings=idp_settings(scenario, settings), fetcher=fetcher or self.published,
            log=log, jose=self.jose,
        )  # fmt: skip
        self.verifier = TokenVerifier(
            issuer=self.urls.issuer,
            audience=self.urls.fhir,
            jwks=IdpJwksCache(self.idp.jwks, lifetime=settings.jwks_cache),
            introspect=lambda token, at: self.idp.introspect(token, now=at),
            require_binding=self.idp.settings.certificate_bound,
            jose=self.jose,
        )
        services = system.services_of_kind(ServiceKind.EHR)
        self.ehrs: dict[str, Ehr] = {
            s.name: Ehr(
                log=log,
                seed=random.Random(f"{seed}:ehr:{s.name}").getrandbits(32),
                base=self.urls.fhir if len(services) == 1 else f"{self.urls.fhir}/{s.name}",
                name=s.name,
            )
            for s in services
        }
        self.enrollments: dict[str, SmartEnrollment] = {}
        self._idp_outages = 0
        #: a live ``idp-key-rotation`` fault is in progress (its own flag: an operator's
        #: rollover meanwhile refreshes the EHRs' copy, and the fault still ends)
        self.key_rotation_fault = False
        #: the IdP's and EHR's measures (the run's metrics report them)
        self.measures = metrics.ehr = EhrMeasures()
        #: judges accepted writes and impostors' grants against the true whereabouts
        self.oracle = WriteOracle(inventory, metrics, self.measures, log)
        self._sites: dict[tuple[str, str], _Site] = {}
        self._secrets: dict[str, str] = {}
        self._secret_rng = random.Random(f"{seed}:shared-secrets") if deterministic else None
        for service in services:  # each site's census in the EHR nearest to it
            for site in scenario.sites:
                if system.nearest(ServiceKind.EHR, site.name).name == service.name:
                    self._site(service.name, site.name, now)

    @property
    def idp_down(self) -> bool:
        """Whether the IdP answers nothing now (an outage)."""
        return self._idp_outages > 0

    def idp_outage(self, *, begin: bool) -> None:
        """An IdP outage begins, or one ends (outages nest)."""
        if not begin and self._idp_outages == 0:
            raise ValueError("the identity provider is not down")
        self._idp_outages += 1 if begin else -1

    @property
    def client_auth(self) -> ClientAuth:
        """How devices authenticate at the token endpoint in this hospital."""
        return self.idp.settings.client_auth

    def census(self, service: str, site: str) -> Census | None:
        """``site``'s census in EHR ``service``, if admitted."""
        found = self._sites.get((service, site))
        return None if found is None else found.census

    def uses_ehr(self, record: DeviceRecord, profile: DeviceProfile) -> str | None:
        """The EHR service the device writes to (its first intended EHR service), if
        its profile uses the EHR with SMART scopes and this hospital has that EHR."""
        if ServiceKind.EHR not in profile.services or not record.fhir_scopes:
            return None
        return next((s for s in record.intended_services if s in self.ehrs), None)

    def check_credentials(
        self,
        device_id: str,
        *,
        jwks: Mapping[str, Any] | None = None,
        jwks_url: str | None = None,
    ) -> None:
        """:class:`~testbed.errors.RegistrationError` unless the credentials fit the
        design: exactly one of a JWK Set or URL (``private_key_jwt``), neither
        (``client_secret_basic``: the department's shared secret)."""
        if self.client_auth is ClientAuth.CLIENT_SECRET_BASIC:
            if jwks is not None or jwks_url is not None:
                raise RegistrationError(
                    f"device {device_id!r}: this design authenticates clients with a "
                    "shared secret (client_secret_basic), not a JWK Set"
                )
        elif (jwks is None) == (jwks_url is None):
            raise RegistrationError(
                f"device {device_id!r} uses the EHR: give its public JWK Set (--jwks FILE) "
                "or its JWKS URL (--jwks-url URL), exactly one (private_key_jwt)"
            )
        # what enrolling the client would refuse, refused before anything changes
        client_keys(device_id, jwks)
        jwks_url_of(device_id, jwks_url)
        if device_id in self.idp.clients:
            raise RegistrationError(f"device {device_id!r} has a SMART client already")

    def enroll(
        self,
        record: DeviceRecord,
        *,
        service: str,
        now: datetime,
        jwks: Mapping[str, Any] | None = None,
        jwks_url: str | None = None,
    ) -> SmartEnrollment:
        """Register the device's SMART client at the IdP (its JWK Set or URL; in
        ``client_secret_basic`` designs its department's shared secret) and place it
        in ``service``'s device registry at a ward of its site.

        :class:`~testbed.errors.RegistrationError` when the design wants keys and none
        were given, or a secret design was given keys.
        """
        device_id = record.device_id
        self.check_credentials(device_id, jwks=jwks, jwks_url=jwks_url)
        secret: str | None = None
        if self.client_auth is ClientAuth.CLIENT_SECRET_BASIC:
            secret = self._shared_secret(record.owner)
        scopes = tuple(record.fhir_scopes)
        self.idp.register(device_id, device_id=device_id, scopes=" ".join(scopes), now=now,
                          jwks=jwks, jwks_url=jwks_url, secret=secret)  # fmt: skip
        site = self._site(service, record.site, now)
        ward = site.wards[site.placed % len(site.wards)]
        site.placed += 1
        ehr = self.ehrs[service]
        device = ehr.register_device(device_id, owner=record.owner, location=ward, now=now)
        self.oracle.truth.devices[device_id] = ward
        enrollment = SmartEnrollment(device_id, scopes, service, f"Location/{ward}",
                                     f"Device/{device}", secret)  # fmt: skip
        self.enrollments[device_id] = enrollment
        return enrollment

    def restore_enrollment(self, enrollment: SmartEnrollment, *, site: str, now: datetime) -> None:
        """Know again an enrollment a durable store kept (a live restart), counted in
        its site's placement so the next device goes to the next ward."""
        self.enrollments[enrollment.client_id] = enrollment
        self._site(enrollment.service, site, now).placed += 1
        self.oracle.truth.devices[enrollment.client_id] = enrollment.location.split("/")[1]

    def restore_whereabouts(self, now: datetime) -> None:
        """The true whereabouts of every census patient as the EHRs say now (after a
        durable store gave the EHRs back, moves included)."""
        for (service, _), site in self._sites.items():
            context = self.ehrs[service].context
            for patient in site.census.patients:
                ward = next((w for w in site.census.locations
                             if context.encounter_at(patient, w, now)), None)  # fmt: skip
                if ward is not None:
                    self.oracle.truth.patients[(service, patient)] = ward

    def deactivate(self, device_id: str, now: datetime) -> None:
        """The device leaves the EHR's registry's active devices (offboarding)."""
        enrollment = self.enrollments.get(device_id)
        if enrollment is None:
            return
        ehr = self.ehrs[enrollment.service]
        device = ehr.registry.device(device_id)
        device["status"] = "inactive"
        ehr.store.touch(device, now)

    def _site(self, service: str, site: str, now: datetime) -> _Site:
        key = (service, site)
        found = self._sites.get(key)
        if found is None:
            rng = random.Random(f"{self.scenario.seed}:census:{service}:{site}")
            spec = self.settings.census
            census = self.ehrs[service].admit_census(
                site, size=CensusSize(spec.locations, spec.patients), rng=rng, now=now
            )
            context = self.ehrs[service].context
            occupied = tuple(
                ward for ward in census.locations
                if any(context.encounter_at(p, ward, now) for p in census.patients)
            )  # fmt: skip
            found = self._sites[key] = _Site(census, occupied or census.locations)
            for patient in census.patients:
                ward = next(
                    (w for w in census.locations if context.encounter_at(patient, w, now)), None
                )
                if ward is not None:
                    self.oracle.truth.patients[(service, patient)] = ward
        return found

    def census_of(self, service: str, location: str) -> Census:
        """The census in EHR ``service`` that holds ``location`` (a Location id)."""
        for (svc, _), found in self._sites.items():
            if svc == service and location in found.census.locations:
                return found.census
        raise EhrError(f"no census of EHR {service!r} holds Location {location!r}")

    def patients_at(self, service: str, site: str, location: str, now: datetime) -> list[str]:
        """The patients of ``site``'s census in EHR ``service`` at ``location`` now, in
        census order."""
        census = self._site(service, site, now).census
        context = self.ehrs[service].context
        return [p for p in census.patients if context.encounter_at(p, location, now)]

    def encounter_of(self, service: str, patient: str, location: str, now: datetime) -> str:
        """The id of ``patient``'s in-progress Encounter at ``location`` now."""
        found = self.ehrs[service].context.encounter_at(patient, location, now)
        if found is None:
            raise EhrError(f"Patient {patient!r} has no in-progress encounter at {location!r}")
        return str(found["id"])

    def where(self, service: str, patient: str) -> str | None:
        """The Location id where ``patient`` of EHR ``service`` truly is now."""
        return self.oracle.truth.patient(service, patient)

    def move_patient(self, service: str, patient: str, to_location: str, now: datetime) -> Move:
        """Move a patient in EHR ``service`` (the EHR's record and the true whereabouts)."""
        move = self.ehrs[service].move_patient(patient, to_location, now)
        self.oracle.truth.patients[(service, patient)] = move.to_location
        return move

    def _shared_secret(self, owner: str) -> str:
        """The shared secret of a department (one account per owner: the flat design)."""
        if owner not in self._secrets:
            rng = self._secret_rng
            self._secrets[owner] = (
                secrets.token_urlsafe(18) if rng is None else f"{rng.getrandbits(96):024x}"
            )
        return self._secrets[owner]

