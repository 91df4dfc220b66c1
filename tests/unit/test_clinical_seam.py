"""The seam of issue 11: the hospital owns the IdP and the EHR, operations reach them,
and one FHIR request takes one path (network, TLS, token, scope, patient context,
validation, store) with each hop's own reason."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from joserfc.jwk import ECKey
from pydantic import TypeAdapter

from testbed import fault_operations, operations
from testbed.access import Attempt
from testbed.clinical import SmartEnrollment
from testbed.clock import ManualClock
from testbed.decisions import Reason
from testbed.devices import make_record
from testbed.ehr.authorization import TokenCheck
from testbed.ehr.messages import FhirRequest
from testbed.errors import EhrError
from testbed.events import EventKind, EventLog
from testbed.fhir_access import FhirAnswer, TokenAnswer, fhir_request, request_token
from testbed.hospital import Hospital
from testbed.inputs import validate
from testbed.lifecycle import LifecycleEvent
from testbed.pki.keys import KeyType
from testbed.scenario import Scenario
from testbed.smart.client import (
    basic_authorization,
    client_assertion,
    client_key,
    credentials_form,
    public_jwks,
)
from testbed.smart.settings import ClientAuth
from tests.conftest import PROFILES

NOW = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
DEVICE = "ct-ai-onbox-north-001"
PLACEHOLDER = TokenCheck(False, Reason.TOKEN_INVALID)


def scenario(ehr: dict[str, Any] | None = None, **changes: Any) -> Scenario:
    data: dict[str, Any] = {
        "name": "seam", "seed": 5, "start": NOW.isoformat(), "duration": "2d",
        "sites": [{"name": "north", "zones": ["imaging", "datacenter"]}],
        "services": [{"name": "ehr", "kind": "ehr", "site": "north", "zone": "datacenter"},
                     {"name": "pacs-north", "kind": "pacs", "site": "north",
                      "zone": "datacenter"}],
        "network": [{"from": "imaging", "to": "ehr"}, {"from": "imaging", "to": "pacs-north"}],
        "fleet": [{"profile": "ct-ai-onbox", "count": 2, "site": "north", "zone": "imaging",
                   "owner": "radiology"}],
        **changes,
    }  # fmt: skip
    if ehr is not None:
        data["ehr"] = ehr
    return validate(TypeAdapter(Scenario), data, file="seam")


@dataclass
class World:
    hospital: Hospital
    clock: ManualClock
    key: ECKey
    enrollment: SmartEnrollment
    certificate: x509.Certificate
    jti: int = 0

    def token(self, *, key: ECKey | None = None, scope: str = "system/Observation.c",
              accepted: bool = True, jti: str | None = None) -> TokenAnswer:  # fmt: skip
        self.jti += 1
        clinical = self.hospital.clinical
        assert clinical is not None
        if clinical.client_auth is ClientAuth.CLIENT_SECRET_BASIC:
            assert self.enrollment.secret is not None
            return request_token(
                self.hospital, credentials_form(None, scope), now=self.clock.now(),
                certificate=self.certificate, certificate_accepted=accepted,
                authorization=basic_authorization(DEVICE, self.enrollment.secret),
            )  # fmt: skip
        assertion = client_assertion(key or self.key, client_id=DEVICE,
                                     token_url=clinical.urls.token_url, now=self.clock.now(),
                                     jti=jti or f"j{self.jti}")  # fmt: skip
        return request_token(self.hospital, credentials_form(assertion, scope),
                             now=self.clock.now(), certificate=self.certificate,
                             certificate_accepted=accepted)  # fmt: skip

    def bearer(self, **options: Any) -> str:
        answer = self.token(**options)
        assert answer.granted and answer.response is not None, answer
        return str(answer.response.body["access_token"])

    def patient(self, *, here: bool = True) -> tuple[str, str]:
        """A patient at the device's location (or elsewhere) and their encounter."""
        clinical = self.hospital.clinical
        assert clinical is not None
        ehr = clinical.ehrs["ehr"]
        census = clinical.census("ehr", "north")
        assert census is not None
        location = self.enrollment.location.split("/")[1]
        for patient in census.patients:
            found = ehr.context.encounter_at(patient, location, self.clock.now())
            if (found is not None) == here:
                encounter = ehr.context._of(patient)[0]
                return patient, str(encounter["id"])
        raise AssertionError("no such patient")

    def create(
        self, bearer: str | None, patient: tuple[str, str], *,
        certificate: x509.Certificate | None = None, item: str = "item-1",
    ) -> FhirAnswer:  # fmt: skip
        body = {
            "resourceType": "Observation", "status": "final",
            "identifier": [{"system": f"urn:testbed:device:{DEVICE}", "value": item}],
            "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
            "subject": {"reference": f"Patient/{patient[0]}"},
            "encounter": {"reference": f"Encounter/{patient[1]}"},
            "valueQuantity": {"value": 72, "unit": "/min"},
        }  # fmt: skip
        condition = f"identifier=urn:testbed:device:{DEVICE}|{item}"
        request = FhirRequest("POST", "Observation", PLACEHOLDER, "",
                              body=json.dumps(body).encode(),
                              headers=(("If-None-Exist", condition),))  # fmt: skip
        cert = self.certificate if certificate is None else certificate
        attempt = Attempt(DEVICE, "ehr", cert, ("north", "imaging"))
        return fhir_request(self.hospital, attempt, bearer, request, self.clock.now())


def build(ehr: dict[str, Any] | None = None, **changes: Any) -> World:
    clock = ManualClock(NOW)
    spec = scenario({} if ehr is None else ehr, **changes)
    hospital = Hospital(spec, profiles=PROFILES, clock=clock, rng=random.Random(5), log=EventLog())
    profile = PROFILES["ct-ai-onbox"]
    record = make_record(profile, hospital.system, device_id=DEVICE, serial="SN1",
                         site="north", zone="imaging", owner="radiology",
                         preferred_key=KeyType.EC_P256)  # fmt: skip
    key = client_key(12345)
    clinical = hospital.clinical
    assert clinical is not None
    secret_design = clinical.client_auth is ClientAuth.CLIENT_SECRET_BASIC
    password = operations.register(hospital, record,
                                   jwks=None if secret_design else public_jwks(key))  # fmt: skip
    enrollment = operations.smart_enrollment(hospital, DEVICE)
    assert enrollment is not None
    device_key = hospital.ca.artefacts.new_key(KeyType.EC_P256, random.Random(9))
    answer = hospital.est.simpleenroll(
        hospital.ca.artefacts.request(device_key, DEVICE), content_type="application/pkcs10",
        basic=(DEVICE, password), client_cert=None, now=NOW,
    )  # fmt: skip
    assert answer.certificate is not None
    hospital.inventory.transition(DEVICE, LifecycleEvent.VALIDATE, now=NOW)
    hospital.inventory.transition(DEVICE, LifecycleEvent.PROMOTE, now=NOW)
    operations.publish_crls(hospital)
    return World(hospital, clock, key, enrollment, answer.certificate)


@pytest.fixture
def world() -> World:
    return build()


def test_without_the_block_nothing_is_built_and_no_draw_shifts() -> None:
    draws = []
    for ehr in (None, {}):
        rng = random.Random(5)
        spec = scenario(ehr)
        hospital = Hospital(spec, profiles=PROFILES, clock=ManualClock(NOW), rng=rng,
                            log=EventLog())  # fmt: skip
        assert (hospital.clinical is None) == (ehr is None)
        assert (hospital.idp is None) == (ehr is None)
        draws.append(rng.getrandbits(64))
    assert draws[0] == draws[1]


def test_the_hospital_builds_the_idp_and_one_ehr_per_service(world: World) -> None:
    hospital = world.hospital
    assert set(hospital.ehrs) == {"ehr"}
    assert hospital.idp is not None and DEVICE in hospital.idp.clients
    census = hospital.clinical.census("ehr", "north")  # type: ignore[union-attr]
    assert census is not None and len(census.patients) == 20 and len(census.locations) == 4
    answer = world.enrollment.answer()
    assert answer["smart"] == {"client_id": DEVICE,
                               "scopes": ["system/Observation.c", "system/ImagingStudy.rs"]}
    assert answer["location"].startswith("Location/")
    device = hospital.ehrs["ehr"].registry.device(DEVICE)
    assert device["location"]["reference"] == answer["location"]


def test_the_same_seed_builds_the_same_census_and_idp_keys() -> None:
    one, two = build(), build()
    assert one.enrollment == two.enrollment
    assert one.hospital.idp.jwks(NOW) == two.hospital.idp.jwks(NOW)  # type: ignore[union-attr]


def test_a_create_at_the_device_location_is_stored_once(world: World) -> None:
    bearer = world.bearer()
    patient = world.patient()
    first = world.create(bearer, patient)
    assert first.status == 201 and first.reason is Reason.OK
    again = world.create(bearer, patient)  # a retry after a lost answer
    assert again.status == 200 and again.reason is Reason.OK
    assert world.hospital.ehrs["ehr"].store.count("Observation") == 1


def test_each_hop_refuses_with_its_own_reason(world: World) -> None:
    bearer = world.bearer()
    assert world.create(bearer, world.patient(here=False)).reason is Reason.PATIENT_CONTEXT_MISMATCH
    assert world.create(None, world.patient()).reason is Reason.TOKEN_INVALID
    world.clock.advance(timedelta(minutes=6))
    expired = world.create(bearer, world.patient())
    assert (expired.status, expired.reason) == (401, Reason.TOKEN_EXPIRED)
    read_only = world.bearer(scope="system/ImagingStudy.rs")
    assert world.create(read_only, world.patient()).reason is Reason.SCOPE_INSUFFICIENT
    # below the EHR: the access point refuses, and the EHR never sees it
    world.hospital.outages.begin("ehr")
    down = world.create(world.bearer(), world.patient())
    assert down.response is None and down.reason is Reason.SERVICE_UNAVAILABLE


def test_a_certificate_bound_token_needs_that_certificate() -> None:
    world = build({"certificate_bound": True})
    assert world.token(accepted=False).reason is Reason.CERT_BINDING_REQUIRED
    bearer = world.bearer()
    assert world.create(bearer, world.patient()).status == 201
    # the same seed builds the same CA and serial: another certificate that the TLS hop
    # accepts as the device's, with other bytes; the token is bound to the first one
    other = build({"certificate_bound": True}).certificate
    assert other != world.certificate
    refused = world.create(bearer, world.patient(), certificate=other)
    assert refused.access.allowed and (refused.status, refused.reason) == (
        401, Reason.TOKEN_CERT_MISMATCH)


def test_suspend_resume_and_offboard_reach_the_idp(world: World) -> None:
    hospital, bearer = world.hospital, world.bearer()
    assert operations.suspend(hospital, DEVICE)
    assert world.token().reason is Reason.CLIENT_SUSPENDED
    assert operations.resume(hospital, DEVICE)
    assert world.create(bearer, world.patient()).status == 201
    operations.offboard(hospital, DEVICE)
    assert world.token().reason is Reason.CLIENT_OFFBOARDED
    assert hospital.idp.introspect(bearer, now=NOW) == {"active": False}  # type: ignore[union-attr]
    assert hospital.ehrs["ehr"].registry.device(DEVICE)["status"] == "inactive"
    step = [e for e in hospital.log.of_kind(EventKind.OFFBOARDING_STEP)
            if e.data["step"] == "invalidate-api-access"]  # fmt: skip
    assert "SMART client offboarded" in str(step[0].data["detail"])


def test_replace_jwks_and_move_patient(world: World) -> None:
    hospital = world.hospital
    new = client_key(999)
    assert world.token(key=new).reason is Reason.CLIENT_KEY_UNRESOLVED
    operations.replace_jwks(hospital, DEVICE, jwks=public_jwks(new))
    assert world.token(key=new).granted
    bearer = world.bearer(key=new)
    patient = world.patient()
    census = hospital.clinical.census("ehr", "north")  # type: ignore[union-attr]
    elsewhere = next(loc for loc in census.locations  # type: ignore[union-attr]
                     if f"Location/{loc}" != world.enrollment.location)  # fmt: skip
    move = operations.move_patient(hospital, patient[0], elsewhere)
    assert move.to_location == elsewhere
    assert world.create(bearer, patient).reason is Reason.PATIENT_CONTEXT_MISMATCH


def test_a_private_key_jwt_device_must_give_its_keys() -> None:
    from testbed.errors import RegistrationError

    spec = scenario({})
    hospital = Hospital(spec, profiles=PROFILES, clock=ManualClock(NOW), rng=random.Random(5),
                        log=EventLog())  # fmt: skip
    record = make_record(PROFILES["ct-ai-onbox"], hospital.system, device_id=DEVICE,
                         serial="SN1", site="north", zone="imaging", owner="radiology",
                         preferred_key=KeyType.EC_P256)  # fmt: skip
    with pytest.raises(RegistrationError, match="JWK Set"):
        operations.register(hospital, record)
    assert hospital.inventory.get(DEVICE) is None  # nothing was changed
    # credentials enrolling the client would refuse are refused before anything changes
    # (an empty set, a URL with no host): the device was left registered, with no client
    for keys in ({"jwks": {"keys": []}}, {"jwks_url": "https://"},
                 {"jwks_url": "https://[::1/x"}):  # urlsplit raised: a 500
        with pytest.raises(RegistrationError, match=r"no RSA or EC key|name a host"):
            operations.register(hospital, record, **keys)  # type: ignore[arg-type]
        assert hospital.inventory.get(DEVICE) is None
    operations.register(hospital, record, jwks=public_jwks(client_key(1)))  # and may be again
    assert hospital.inventory.get(DEVICE) is not None


def test_the_shared_secret_design_grants_whoever_holds_the_secret() -> None:
    world = build({"client_auth": "client_secret_basic"})
    assert world.enrollment.secret is not None
    assert world.token().granted
    assert world.create(world.bearer(), world.patient()).status == 201


def test_the_design_chooses_the_client_authentication() -> None:
    world = build(None, design="flat-shared-credentials", network=[])
    assert world.hospital.clinical.client_auth is ClientAuth.CLIENT_SECRET_BASIC  # type: ignore[union-attr]


def test_an_idp_key_rotation_is_seen_once_the_ehr_cache_refreshes(world: World) -> None:
    """Without a stale-cache fault: the old key stays published for the overlap, so a
    token signed before the rotation still verifies; a new one verifies once the
    EHR's copy of the JWKS (5 minutes) is refreshed."""
    hospital = world.hospital
    old = world.bearer()
    assert world.create(old, world.patient(), item="a").status == 201  # the EHR caches the JWKS
    operations.rotate_idp_key(hospital, overlap=timedelta(minutes=10))
    new = world.bearer()
    assert world.create(old, world.patient(), item="b").status == 201
    assert world.create(new, world.patient(), item="c").reason is Reason.TOKEN_KEY_UNKNOWN
    world.clock.advance(timedelta(minutes=4))
    assert world.create(world.bearer(), world.patient(), item="d").reason is (
        Reason.TOKEN_KEY_UNKNOWN)  # the copy is 4 minutes old: still kept
    world.clock.advance(timedelta(minutes=1, seconds=1))
    assert world.create(world.bearer(), world.patient(), item="e").status == 201


def test_the_design_chooses_certificate_bound_tokens() -> None:
    """zero-trust-microsegmentation sets ``certificate_bound_tokens``: a request without
    the device certificate gets no token; the scenario's block overrides the design."""
    world = build(None, design="zero-trust-microsegmentation", network=[])
    clinical = world.hospital.clinical
    assert clinical is not None and clinical.idp.settings.certificate_bound
    assert world.token(accepted=False).reason is Reason.CERT_BINDING_REQUIRED
    assert world.create(world.bearer(), world.patient()).status == 201
    unbound = build({"certificate_bound": False}, design="zero-trust-microsegmentation",
                    network=[])  # fmt: skip
    assert unbound.token(accepted=False).granted
    vlans = build(None, design="per-site-vlans", network=[]).hospital.clinical
    assert vlans is not None and not vlans.idp.settings.certificate_bound


def test_an_operator_rollover_keeps_old_tokens_and_takes_new_ones_at_once(world: World) -> None:
    """``rollover_idp_key``: the old key stays published for the overlap (at least the
    token lifetime), so a token it signed verifies until it expires; the EHR's copy of
    the JWKS is refreshed, so a token signed with the new key verifies at once."""
    hospital = world.hospital
    clinical = hospital.clinical
    assert clinical is not None
    old = world.bearer()
    assert world.create(old, world.patient(), item="a").status == 201  # the EHR caches the JWKS
    before = clinical.idp.signing_keys.current.kid
    with pytest.raises(EhrError, match=r"overlap: expected at least the token lifetime \(300 s\)"):
        operations.rollover_idp_key(hospital, overlap=timedelta(seconds=60))
    assert clinical.idp.signing_keys.current.kid == before  # nothing changed
    rolled = operations.rollover_idp_key(hospital)
    assert rolled.kid != before and rolled.retiring == (before,)
    assert rolled.overlap == timedelta(minutes=10)  # the scenario's key_overlap
    assert rolled.retires == world.clock.now() + timedelta(minutes=10)
    published = {k["kid"] for k in clinical.idp.jwks(world.clock.now())["keys"]}
    assert published == {before, rolled.kid}
    assert world.create(old, world.patient(), item="b").status == 201
    assert world.create(world.bearer(), world.patient(), item="c").status == 201
    [event] = hospital.log.of_kind(EventKind.IDP_KEY_ROTATED)
    assert (event.data["kid"], event.data["overlap_s"]) == (rolled.kid, 600)
    world.clock.advance(timedelta(minutes=10))
    assert {k["kid"] for k in clinical.idp.jwks(world.clock.now())["keys"]} == {rolled.kid}


def test_an_idp_key_rotation_fault_makes_held_tokens_inactive_until_new_ones_verify(
    world: World,
) -> None:
    """The live ``idp-key-rotation`` fault (no overlap, the EHR's JWKS copy held stale):
    the token a device holds is inactive at once (401 ``token-inactive``), a new one is
    signed with a key the EHR does not know yet (401 ``token-key-unknown``); after the
    heal the new token verifies and the old one stays refused (its key is gone)."""
    from testbed.errors import RegistrationError

    hospital = world.hospital
    old = world.bearer()
    assert world.create(old, world.patient(), item="a").status == 201  # the EHR caches the JWKS
    with pytest.raises(RegistrationError, match="no idp-key-rotation is in progress"):
        fault_operations.end_idp_key_rotation(hospital)
    kid = fault_operations.begin_idp_key_rotation(hospital)
    with pytest.raises(RegistrationError, match="in progress already"):
        fault_operations.begin_idp_key_rotation(hospital)
    held = world.create(old, world.patient(), item="b")
    assert (held.status, held.reason) == (401, Reason.TOKEN_INACTIVE)
    assert held.response is not None
    assert dict(held.response.headers)["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    new = world.bearer()
    assert (world.create(new, world.patient(), item="b").reason) is Reason.TOKEN_KEY_UNKNOWN
    fault_operations.end_idp_key_rotation(hospital)
    assert world.create(new, world.patient(), item="b").status == 201
    gone = world.create(old, world.patient(), item="c")
    assert (gone.status, gone.reason) == (401, Reason.TOKEN_KEY_UNKNOWN)  # not in the JWKS
    faults = [(e.kind, e.subject, e.data["fault"]) for e in hospital.log
              if e.kind in (EventKind.FAULT_STARTED, EventKind.FAULT_HEALED)]  # fmt: skip
    assert faults == [(EventKind.FAULT_STARTED, "idp", "idp-key-rotation"),
                      (EventKind.FAULT_HEALED, "idp", "idp-key-rotation")]  # fmt: skip
    [rotated] = hospital.log.of_kind(EventKind.IDP_KEY_ROTATED)
    assert (rotated.data["kid"], rotated.data["overlap_s"]) == (kid, 0)
    # the key rotated before the fault is written as started, as the simulation writes it
    started = hospital.log.of_kind(EventKind.FAULT_STARTED)[0]
    assert rotated.seq < started.seq


def test_an_idp_key_rotation_fault_still_ends_after_an_operators_rollover(
    world: World,
) -> None:
    """An operator's rollover during the fault refreshes the EHR's copy (the operator's
    fix); the fault's end is still accepted and written, not refused as not running."""
    hospital = world.hospital
    world.create(world.bearer(), world.patient(), item="a")
    fault_operations.begin_idp_key_rotation(hospital)
    operations.rollover_idp_key(hospital)
    assert world.create(world.bearer(), world.patient(), item="b").status == 201
    fault_operations.end_idp_key_rotation(hospital)
    healed = hospital.log.of_kind(EventKind.FAULT_HEALED)
    assert [e.data["fault"] for e in healed] == ["idp-key-rotation"]


def test_drift_between_the_inventory_the_idp_and_the_ehr_registry(world: World) -> None:
    """Offboarding keeps the three in step (no drift); a device retired in the inventory
    alone leaves an active client and an active EHR Device behind, and the hospital's
    drift scan says so, next to the CA drift it already reported."""
    hospital = world.hospital
    now = world.clock.now()
    assert hospital.drift(now) == []
    hospital.inventory.transition(DEVICE, LifecycleEvent.OFFBOARD, now=now)  # inventory only
    kinds = {(d.device_id, d.kind.value) for d in hospital.drift(now)}
    assert {(DEVICE, "retired-with-active-smart-client"),
            (DEVICE, "retired-with-active-ehr-device")} <= kinds  # fmt: skip
    assert (DEVICE, "retired-with-live-certificate") in kinds  # the certificate drift


def test_an_offboarded_device_shows_no_registry_drift(world: World) -> None:
    operations.offboard(world.hospital, DEVICE)
    kinds = {d.kind.value for d in world.hospital.drift(world.clock.now())}
    assert not {k for k in kinds if "smart" in k or "ehr" in k}, kinds


def test_an_idp_that_is_down_refuses_tokens_counted_and_audited_in_the_core(
    world: World,
) -> None:
    """Both transports call :func:`request_token`: an IdP outage's refusal is counted and
    written there (live mode only adds the 503), so a report folded from a live audit
    log and the simulation's measures agree."""
    hospital = world.hospital
    clinical = hospital.clinical
    assert clinical is not None
    fault_operations.begin_idp_outage(hospital)
    refused = world.token()
    assert refused.response is None and refused.reason is Reason.SERVICE_UNAVAILABLE
    assert clinical.measures.tokens_refused == {"service-unavailable": 1}
    [event] = [e for e in hospital.log if e.kind is EventKind.TOKEN_REFUSED]
    assert event.subject == "(unauthenticated)"
    assert event.data == {"client_id": "", "authenticated": False,
                          "error": "temporarily_unavailable", "reason": "service-unavailable",
                          "status": 503, "detail": "the identity provider is down"}  # fmt: skip
    fault_operations.end_idp_outage(hospital)
    assert world.token().granted
    assert clinical.measures.tokens_refused == {"service-unavailable": 1}
