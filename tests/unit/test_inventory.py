"""The inventory: registration, one-time bootstrap, lifecycle, drift against the CA."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from testbed.devices import DeviceRecord
from testbed.errors import LifecycleError, RegistrationError
from testbed.inventory import Drift, DriftKind, Inventory
from testbed.lifecycle import DeviceState, LifecycleEvent
from testbed.pki.ca import CertificateAuthority, IssuingMode
from testbed.pki.keys import KeyType, make_csr, new_private_key

NOW = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def _record(device_id: str) -> DeviceRecord:
    return DeviceRecord(
        device_id=device_id, vendor="Meridian Imaging", model="Apex CT 128 AI",
        serial=f"SN-{device_id}", site="north", zone="imaging", owner="radiology",
        profile="ct-ai-onbox", intended_services=("pacs-north",),
        certificate_type=KeyType.EC_P256,
    )  # fmt: skip


@pytest.fixture(autouse=True)
def _same_epoch(request: pytest.FixtureRequest) -> None:
    if "hospital" in request.fixturenames:
        assert request.getfixturevalue("hospital").start == NOW


def test_register_pre_creates_the_record() -> None:
    inventory = Inventory()
    entry = inventory.register(_record("ct-1"), now=NOW, lifetime=timedelta(days=30))
    assert entry.state is DeviceState.REGISTERED
    assert entry.history == [(NOW, DeviceState.REGISTERED)]
    assert "ct-1" in inventory
    assert len(inventory) == 1
    assert inventory.entry("ct-1") is entry
    assert list(inventory) == [entry]


def test_registering_twice_raises() -> None:
    inventory = Inventory()
    inventory.register(_record("ct-1"), now=NOW, lifetime=timedelta(days=30))
    with pytest.raises(RegistrationError, match="'ct-1' is already registered"):
        inventory.register(_record("ct-1"), now=NOW, lifetime=timedelta(days=30))
    assert len(inventory) == 1
    assert inventory.entry("ct-1").history == [(NOW, DeviceState.REGISTERED)]


def test_an_unknown_device_is_refused_by_entry_and_absent_from_get() -> None:
    inventory = Inventory()
    assert inventory.get("ghost") is None
    assert inventory.subject("ghost") is None
    assert "ghost" not in inventory
    with pytest.raises(RegistrationError, match="'ghost' is not registered"):
        inventory.entry("ghost")


def test_transitions_follow_the_table_and_keep_history(hospital) -> None:
    hospital.register("ct-1")
    later = NOW + timedelta(hours=1)
    with pytest.raises(LifecycleError):
        hospital.inventory.transition("ct-1", LifecycleEvent.PROMOTE, now=later)
    hospital.inventory.transition("ct-1", LifecycleEvent.OFFBOARD, now=later)
    entry = hospital.inventory.entry("ct-1")
    assert entry.history == [(NOW, DeviceState.REGISTERED), (later, DeviceState.RETIRED)]


def test_the_enrollment_subject_follows_the_lifecycle(hospital) -> None:
    hospital.register("ct-1", lifetime=timedelta(days=10))
    subject = hospital.inventory.subject("ct-1")
    assert subject is not None
    assert subject.may_enroll
    assert subject.lifetime == timedelta(days=10)
    assert subject.services == ("pacs-north", "ehr")
    hospital.enroll("ct-1")
    hospital.promote("ct-1")
    hospital.transition("ct-1", LifecycleEvent.SUSPEND)
    suspended = hospital.inventory.subject("ct-1")
    assert suspended is not None
    assert not suspended.may_enroll
    assert suspended.state == "suspended"


# -- one-time bootstrap ----------------------------------------------------------------


def test_the_bootstrap_secret_identifies_the_device(hospital) -> None:
    password = hospital.register("ct-1")
    inventory = hospital.inventory
    assert inventory.bootstrap_device("ct-1", password) == "ct-1"
    assert inventory.bootstrap_device("ct-1", password + "x") is None
    assert inventory.bootstrap_device("ct-2", password) is None  # unknown device
    hospital.register("ct-2")
    assert inventory.bootstrap_device("ct-2", password) is None  # another device's secret


def test_a_device_without_a_secret_cannot_bootstrap(hospital) -> None:
    hospital.inventory.register(_record("ct-1"), now=NOW, lifetime=timedelta(days=30))
    assert hospital.inventory.bootstrap_device("ct-1", "") is None


def test_the_bootstrap_secret_is_one_time(hospital) -> None:
    password = hospital.register("ct-1")
    cert = hospital.enroll("ct-1")
    entry = hospital.inventory.entry("ct-1")
    assert entry.state is DeviceState.ENROLLED
    assert entry.serial == cert.serial_number
    assert hospital.inventory.bootstrap_device("ct-1", password) is None
    again = hospital.simpleenroll("ct-1", now=NOW + timedelta(minutes=5))
    assert again.status == 401
    assert again.certificate is None
    assert len(hospital.ca.records_for("ct-1")) == 1


def test_a_renewal_rebinds_without_a_transition(hospital) -> None:
    first = hospital.onboard("ct-1")
    response = hospital.reenroll("ct-1", first, now=NOW + timedelta(days=20))
    assert response.status == 200
    assert response.certificate is not None
    entry = hospital.inventory.entry("ct-1")
    assert entry.serial == response.certificate.serial_number != first.serial_number
    assert entry.state is DeviceState.PRODUCTION


# -- drift -------------------------------------------------------------------------------


def _ca() -> CertificateAuthority:
    return CertificateAuthority(
        name="Drift",
        trust_domain="hospital.example",
        sites=["north", "south"],
        issuing=IssuingMode.CENTRAL,
        now=NOW - timedelta(days=1),
        rng=random.Random(1),
    )


def test_a_consistent_inventory_has_no_drift(hospital) -> None:
    hospital.onboard("ct-1")
    hospital.onboard("ct-2")
    assert hospital.inventory.drift(hospital.ca, now=NOW + timedelta(days=1)) == []


def test_a_retired_device_with_a_live_certificate_is_drift(hospital) -> None:
    cert = hospital.onboard("ct-1")
    hospital.transition("ct-1", LifecycleEvent.OFFBOARD)
    found = hospital.inventory.drift(hospital.ca, now=NOW + timedelta(hours=1))
    assert found == [
        Drift(DriftKind.RETIRED_WITH_LIVE_CERTIFICATE, "ct-1", f"{cert.serial_number:x}")
    ]
    hospital.ca.revoke(cert.serial_number, now=NOW + timedelta(hours=2))
    assert hospital.inventory.drift(hospital.ca, now=NOW + timedelta(hours=3)) == []


def test_a_production_device_whose_certificate_expired_is_drift(hospital) -> None:
    cert = hospital.onboard("ct-1", lifetime=timedelta(days=2))
    assert hospital.inventory.drift(hospital.ca, now=NOW + timedelta(days=1)) == []
    found = hospital.inventory.drift(hospital.ca, now=NOW + timedelta(days=3))
    assert [(d.kind, d.device_id) for d in found] == [
        (DriftKind.PRODUCTION_WITHOUT_LIVE_IDENTITY, "ct-1")
    ]
    assert f"{cert.serial_number:x}" in found[0].detail


def test_a_production_device_whose_certificate_was_revoked_is_drift(hospital) -> None:
    cert = hospital.onboard("ct-1")
    hospital.ca.revoke(cert.serial_number, now=NOW + timedelta(hours=1))
    found = hospital.inventory.drift(hospital.ca, now=NOW + timedelta(hours=2))
    assert [d.kind for d in found] == [DriftKind.PRODUCTION_WITHOUT_LIVE_IDENTITY]


def test_a_certificate_is_still_live_at_its_not_after(hospital) -> None:
    """RFC 5280 §4.1.2.5: the validity period includes notAfter.

    The verifier (``now > not_after`` is expired) and the access point's oracle agree;
    drift must not call the identity dead at that instant.
    """
    cert = hospital.onboard("ct-1", lifetime=timedelta(days=2))
    hospital.publish_crls(now=NOW)
    at_end = cert.not_valid_after_utc
    assert hospital.attempt("ct-1", cert, now=at_end).allowed
    assert hospital.inventory.drift(hospital.ca, now=at_end) == []


def test_a_certificate_for_a_device_the_inventory_does_not_know_is_drift() -> None:
    ca = _ca()
    key = new_private_key(KeyType.EC_P256, random.Random(2))
    cert = ca.issue(make_csr(key, "rogue-1"), device_id="rogue-1", site="north",
                    services=("pacs-north",), requester="someone", on_expiry="discard",
                    lifetime=timedelta(days=1), now=NOW)  # fmt: skip
    found = Inventory().drift(ca, now=NOW + timedelta(hours=1))
    assert found == [Drift(DriftKind.UNKNOWN_HOLDER, "rogue-1", f"live {cert.serial_number:x}")]
    assert Inventory().drift(ca, now=NOW + timedelta(days=2)) == []  # expired: not live


def test_a_bound_serial_the_ca_never_issued_is_drift(hospital) -> None:
    hospital.onboard("ct-1")
    hospital.inventory.entry("ct-1").serial = 0xBAD
    found = hospital.inventory.drift(hospital.ca, now=NOW + timedelta(hours=1))
    assert (DriftKind.INVENTORY_SERIAL_UNKNOWN_TO_CA, "ct-1") in {
        (d.kind, d.device_id) for d in found
    }


def test_drift_is_sorted_by_device() -> None:
    ca = _ca()
    key = new_private_key(KeyType.EC_P256, random.Random(3))
    for device_id in ("zeta", "alpha", "mid"):
        csr = make_csr(key, device_id)
        ca.issue(csr, device_id=device_id, site="south", services=(), requester="x",
                 on_expiry="discard", lifetime=timedelta(days=1), now=NOW)  # fmt: skip
    found = Inventory().drift(ca, now=NOW)
    assert [d.device_id for d in found] == ["alpha", "mid", "zeta"]


# -- the drift index: a scan looks at what changed, and finds what a full scan finds --


def _both(hospital, now: datetime) -> list[Drift]:
    """The incremental scan, checked against a full one at the same time."""
    found = hospital.inventory.drift(hospital.ca, now=now)
    assert found == hospital.inventory.drift(hospital.ca, now=now, full=True)
    return found


def test_a_quiet_device_revoked_after_a_scan_is_found_by_the_next(hospital) -> None:
    cert = hospital.onboard("ct-1")
    hospital.onboard("ct-2")
    assert _both(hospital, NOW + timedelta(hours=1)) == []
    hospital.ca.revoke(cert.serial_number, now=NOW + timedelta(hours=2))
    found = _both(hospital, NOW + timedelta(hours=3))
    assert [(d.kind, d.device_id) for d in found] == [
        (DriftKind.PRODUCTION_WITHOUT_LIVE_IDENTITY, "ct-1")
    ]


def test_a_quiet_device_retired_after_a_scan_is_found_by_the_next(hospital) -> None:
    hospital.onboard("ct-1")
    assert _both(hospital, NOW + timedelta(hours=1)) == []
    hospital.transition("ct-1", LifecycleEvent.OFFBOARD)
    found = _both(hospital, NOW + timedelta(hours=2))
    assert [d.kind for d in found] == [DriftKind.RETIRED_WITH_LIVE_CERTIFICATE]
    assert _both(hospital, NOW + timedelta(hours=3)) == found  # still there: looked at again


def test_a_quiet_device_is_looked_at_again_when_its_certificate_expires(hospital) -> None:
    hospital.onboard("ct-1", lifetime=timedelta(days=2))
    hospital.onboard("ct-2", lifetime=timedelta(days=5))
    for day in (1, 2):
        assert _both(hospital, NOW + timedelta(days=day)) == []
    for day in (3, 4):  # ct-1 expired; ct-2 still quiet
        found = _both(hospital, NOW + timedelta(days=day))
        assert [d.device_id for d in found] == ["ct-1"]
    assert [d.device_id for d in _both(hospital, NOW + timedelta(days=6))] == ["ct-1", "ct-2"]


def test_a_new_binding_after_a_scan_is_looked_at_by_the_next(hospital) -> None:
    """A device bound to another certificate after a scan is looked at again: the
    notAfter of the certificate it was bound to no longer says how long it is quiet."""
    hospital.onboard("ct-1", lifetime=timedelta(days=5))
    assert _both(hospital, NOW + timedelta(days=1)) == []
    key = new_private_key(KeyType.EC_P256, random.Random(4))
    short = hospital.ca.issue(make_csr(key, "ct-1"), device_id="ct-1", site="north",
                              services=("pacs-north",), requester="ct-1", on_expiry="renew",
                              lifetime=timedelta(hours=1), now=NOW + timedelta(days=1))  # fmt: skip
    hospital.inventory.on_issued("ct-1", short, now=NOW + timedelta(days=1), renewal=True)
    found = _both(hospital, NOW + timedelta(days=2))
    assert [(d.kind, d.device_id) for d in found] == [
        (DriftKind.PRODUCTION_WITHOUT_LIVE_IDENTITY, "ct-1")
    ]


def test_another_ca_is_compared_afresh_and_then_the_first_again(hospital) -> None:
    hospital.onboard("ct-1")
    assert _both(hospital, NOW + timedelta(hours=1)) == []
    other = _ca()
    found = hospital.inventory.drift(other, now=NOW + timedelta(hours=2))
    assert found == hospital.inventory.drift(other, now=NOW + timedelta(hours=2), full=True)
    assert [(d.kind, d.device_id) for d in found] == [
        (DriftKind.INVENTORY_SERIAL_UNKNOWN_TO_CA, "ct-1")
    ]
    assert _both(hospital, NOW + timedelta(hours=3)) == []


def test_a_scan_at_an_earlier_time_finds_what_a_full_one_does(hospital) -> None:
    """Live mode's clock can be set back (a test moving time): quiet stays quiet, and
    what expired later is looked at again."""
    hospital.onboard("ct-1", lifetime=timedelta(days=2))
    assert [d.device_id for d in _both(hospital, NOW + timedelta(days=3))] == ["ct-1"]
    assert _both(hospital, NOW + timedelta(days=1)) == []
    assert [d.device_id for d in _both(hospital, NOW + timedelta(days=4))] == ["ct-1"]


def test_a_scan_that_fails_part_way_forgets_nothing(
    hospital, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An error while looking at one entry (a store that cannot be read): the next scan
    still finds what a full one does."""
    hospital.onboard("ct-1")
    hospital.onboard("ct-2")
    assert _both(hospital, NOW + timedelta(hours=1)) == []
    hospital.transition("ct-1", LifecycleEvent.OFFBOARD)
    hospital.transition("ct-2", LifecycleEvent.OFFBOARD)

    class Unreadable:
        """The CA's records store, whose per-device lookups fail (a disk error)."""

        def __init__(self, store: object) -> None:
            self.store = store

        def for_device(self, device_id: str) -> list[object]:
            raise OSError("the store cannot be read")

        def __getattr__(self, name: str) -> object:
            return getattr(self.store, name)

    with monkeypatch.context() as patch:  # the store, not a CA method: see benchmarks/compiled.py
        patch.setattr(hospital.ca, "_store", Unreadable(hospital.ca._store))
        with pytest.raises(OSError):
            hospital.inventory.drift(hospital.ca, now=NOW + timedelta(hours=2))
    found = _both(hospital, NOW + timedelta(hours=3))
    assert [(d.kind, d.device_id) for d in found] == [
        (DriftKind.RETIRED_WITH_LIVE_CERTIFICATE, "ct-1"),
        (DriftKind.RETIRED_WITH_LIVE_CERTIFICATE, "ct-2"),
    ]
