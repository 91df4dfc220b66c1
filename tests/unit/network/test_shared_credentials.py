"""The access path of a ``credentials: shared`` design, hop by hop: the department's
shared credential stands in for a certificate (NAC, registration and the TLS hop's
place decide on it), nothing takes it back from one device, and an attempt with a
certificate instead (a live client, a device that enrolled) is decided as in any
other design."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from pydantic import TypeAdapter

from testbed import operations
from testbed.access import Attempt
from testbed.clock import ManualClock
from testbed.decisions import Decision
from testbed.devices import make_record
from testbed.events import EventKind, EventLog
from testbed.hospital import Hospital
from testbed.inputs import validate
from testbed.lifecycle import LifecycleEvent
from testbed.network.shared import SharedCredentials
from testbed.pki.keys import KeyType
from testbed.scenario import Scenario
from tests.conftest import PROFILES

NOW = datetime(2026, 1, 5, tzinfo=UTC)
DEVICE, OTHER = "ct-ai-onbox-north-001", "ct-ai-onbox-north-002"
SOURCE = ("north", "imaging")


def _hospital(design: str) -> Hospital:
    data: dict[str, Any] = {
        "name": "shared", "seed": 5, "start": NOW.isoformat(), "duration": "2d",
        "sites": [{"name": "north", "zones": ["imaging", "datacenter"]}],
        "services": [{"name": "pacs-north", "kind": "pacs", "site": "north",
                      "zone": "datacenter"},
                     {"name": "ehr", "kind": "ehr", "site": "north", "zone": "datacenter"}],
        "design": design,
        "fleet": [{"profile": "ct-ai-onbox", "count": 2, "site": "north", "zone": "imaging",
                   "owner": "radiology"}],
    }  # fmt: skip
    spec = validate(TypeAdapter(Scenario), data, file="shared")
    return Hospital(spec, profiles=PROFILES, clock=ManualClock(NOW), rng=random.Random(5),
                    log=EventLog())  # fmt: skip


def _register(hospital: Hospital, device: str) -> str:
    record = make_record(PROFILES["ct-ai-onbox"], hospital.system, device_id=device,
                         serial=f"SN-{device}", site="north", zone="imaging",
                         owner="radiology", preferred_key=KeyType.EC_P256)  # fmt: skip
    return operations.register(hospital, record)


def _promote(hospital: Hospital, device: str) -> None:
    operations.validate(hospital, device)
    operations.promote(hospital, device)


def _enrolled(hospital: Hospital, device: str, password: str) -> x509.Certificate:
    """What a live device does whatever the design: enroll over EST with its bootstrap."""
    key = hospital.ca.artefacts.new_key(KeyType.EC_P256, random.Random(9))
    answer = hospital.est.simpleenroll(
        hospital.ca.artefacts.request(key, device), content_type="application/pkcs10",
        basic=(device, password), client_cert=None, now=NOW,
    )  # fmt: skip
    assert answer.certificate is not None
    return answer.certificate


def _decide(hospital: Hospital, attempt: Attempt, after: timedelta = timedelta(0)) -> Decision:
    return hospital.access.decide(attempt, now=NOW + after)


def test_one_credential_per_department() -> None:
    shared = SharedCredentials("hospital.example")
    radiology = shared.issue("radiology")
    assert shared.issue("radiology") == radiology != shared.issue("nursing")
    assert shared.valid(radiology) and not shared.valid("guess") and not shared.valid(None)
    assert SharedCredentials("other.example").issue("radiology") != radiology


def test_only_a_shared_design_has_shared_credentials() -> None:
    assert _hospital("flat-shared-credentials").shared is not None
    for design in ("per-site-vlans", "central-ca-automated-renewal",
                   "fhir-first-scoped-identities", "zero-trust-microsegmentation"):
        assert _hospital(design).shared is None, design


def test_the_shared_credential_passes_where_a_certificate_would() -> None:
    hospital = _hospital("flat-shared-credentials")
    _register(hospital, DEVICE)
    credential = operations.hand_shared_credential(hospital, DEVICE)
    _promote(hospital, DEVICE)
    with_it = Attempt(DEVICE, "pacs-north", None, SOURCE, shared_credential=credential)
    assert _decide(hospital, with_it).allowed
    # years later, during a CA outage: nothing of it expires, nothing needs the CA
    hospital.ca_outages.begin()
    assert _decide(hospital, with_it, timedelta(days=3650)).allowed
    wrong = Attempt(DEVICE, "pacs-north", None, SOURCE, shared_credential="guess")
    refused = _decide(hospital, wrong)
    assert (refused.reason.value, refused.hop.value) == ("client-secret-invalid", "tls")
    nothing = _decide(hospital, Attempt(DEVICE, "pacs-north", None, SOURCE))
    assert nothing.reason.value == "cert-missing"  # the TLS hop's, as in any design
    assert hospital.metrics.unauthorized_access == 0


def test_offboarding_cannot_take_it_back_and_the_oracle_counts_it() -> None:
    hospital = _hospital("flat-shared-credentials")
    for device in (DEVICE, OTHER):
        _register(hospital, device)
    credential = operations.hand_shared_credential(hospital, DEVICE)
    assert operations.hand_shared_credential(hospital, OTHER) == credential  # the department's
    for device in (DEVICE, OTHER):
        _promote(hospital, device)
    operations.revoke(hospital, DEVICE)
    assert hospital.shared is not None and hospital.shared.revoked_at(DEVICE) == NOW
    operations.offboard(hospital, DEVICE)
    assert DEVICE not in hospital.nac
    stale = Attempt(DEVICE, "pacs-north", None, SOURCE, shared_credential=credential)
    assert _decide(hospital, stale, timedelta(hours=1)).allowed
    assert hospital.metrics.unauthorized_access == 1
    assert hospital.metrics.stale_access_after_offboarding == 1
    (event,) = hospital.log.of_kind(EventKind.UNAUTHORIZED_ACCESS)
    assert event.data["state"] == "retired"
    # the department's other device is still rightly in
    assert _decide(hospital, Attempt(OTHER, "pacs-north", None, SOURCE,
                                     shared_credential=credential)).allowed  # fmt: skip
    assert hospital.metrics.unauthorized_access == 1


def test_a_revoked_device_still_gets_in_and_is_counted() -> None:
    hospital = _hospital("flat-shared-credentials")
    _register(hospital, DEVICE)
    credential = operations.hand_shared_credential(hospital, DEVICE)
    _promote(hospital, DEVICE)
    operations.revoke(hospital, DEVICE, why="reported stolen")
    (kept,) = hospital.log.of_kind(EventKind.SHARED_CREDENTIAL_KEPT)  # the revoke is audited
    assert (kept.subject, kept.data["why"]) == (DEVICE, "reported stolen")
    assert kept.data["department"] == hospital.inventory.entry(DEVICE).record.owner
    assert "stays valid" in str(kept.data["effect"])
    assert not hospital.log.of_kind(EventKind.CERTIFICATE_REVOKED)  # it held no certificate
    attempt = Attempt(DEVICE, "pacs-north", None, SOURCE, shared_credential=credential)
    assert _decide(hospital, attempt, timedelta(minutes=5)).allowed
    (event,) = hospital.log.of_kind(EventKind.UNAUTHORIZED_ACCESS)
    assert "a shared credential cannot be" in str(event.data["why"])


def test_a_certificate_is_decided_as_in_any_design() -> None:
    """Live mode's devices enroll and present certificates: under the flat design the
    TLS hop decides them, and offboarding takes them off the network."""
    hospital = _hospital("flat-shared-credentials")
    password = _register(hospital, DEVICE)
    certificate = _enrolled(hospital, DEVICE, password)
    hospital.inventory.transition(DEVICE, LifecycleEvent.VALIDATE, now=NOW)
    hospital.inventory.transition(DEVICE, LifecycleEvent.PROMOTE, now=NOW)
    operations.publish_crls(hospital)
    attempt = Attempt(DEVICE, "pacs-north", certificate, SOURCE)
    assert _decide(hospital, attempt).allowed
    operations.revoke(hospital, DEVICE)  # it holds a certificate, not the shared credential
    assert not hospital.log.of_kind(EventKind.SHARED_CREDENTIAL_KEPT)
    assert hospital.log.of_kind(EventKind.CERTIFICATE_REVOKED)
    operations.offboard(hospital, DEVICE)
    refused = _decide(hospital, attempt, timedelta(minutes=1))
    assert not refused.allowed and refused.reason.value == "device-retired"
    assert hospital.metrics.unauthorized_access == 0


def test_a_rotation_replaces_the_department_credential_and_moves_the_revision() -> None:
    hospital = _hospital("flat-shared-credentials")
    _register(hospital, DEVICE)
    _register(hospital, OTHER)
    old = operations.hand_shared_credential(hospital, DEVICE)
    _promote(hospital, DEVICE)
    attempt = Attempt(DEVICE, "pacs-north", None, SOURCE, shared_credential=old)
    assert _decide(hospital, attempt).allowed
    shared, revision = hospital.shared, hospital.revision.value
    assert shared is not None
    department = hospital.inventory.entry(DEVICE).record.owner
    new = operations.rotate_shared_credential(hospital, department, why="offboarding")
    assert new != old and shared.valid(new) and not shared.valid(old)
    assert shared.generation(department) == 1 and hospital.revision.value > revision
    (event,) = hospital.log.of_kind(EventKind.SHARED_CREDENTIAL_ROTATED)
    assert (event.subject, event.data["generation"], event.data["why"]) == (
        department, 1, "offboarding")
    refused = _decide(hospital, attempt, timedelta(minutes=1))
    assert not refused.allowed  # the old one is no department's any more
    assert operations.hand_rotated_credential(hospital, DEVICE) == new
    assert operations.hand_shared_credential(hospital, OTHER) == new  # onboarded later
    again = Attempt(DEVICE, "pacs-north", None, SOURCE, shared_credential=new)
    assert _decide(hospital, again, timedelta(minutes=2)).allowed
    assert shared.issue(department) == new


def test_only_a_shared_design_rotates_or_hands_credentials() -> None:
    hospital = _hospital("zero-trust-microsegmentation")
    _register(hospital, DEVICE)
    with pytest.raises(ValueError, match="credentials: shared"):
        operations.rotate_shared_credential(hospital, "radiology", why="x")
    with pytest.raises(ValueError, match="credentials: shared"):
        operations.hand_rotated_credential(hospital, DEVICE)
