"""The durable store's codec: every value it writes reads back equal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cryptography import x509

from testbed.devices import DeviceRecord
from testbed.inventory import InventoryEntry
from testbed.lifecycle import DeviceState, Lifecycle
from testbed.live.store_codec import (
    entry_from_json,
    entry_json,
    record_from_row,
    record_row,
    revocation_from_row,
    revocation_row,
)
from testbed.pki.ca import IssuanceRecord, Revocation
from testbed.pki.keys import KeyType
from testbed.pki.renewal import OnExpiry

NOW = datetime(2026, 1, 5, 8, 0, 1, 123456, tzinfo=UTC)
BIG = (1 << 158) + 12345  # serials exceed SQLite's 64-bit integers


def test_an_issuance_record_round_trips() -> None:
    for renewal_of in (None, BIG - 1):
        record = IssuanceRecord(BIG, "ct-1", "north", "Hospital Issuing CA central-g1",
                                "spiffe://h/north/ct-1", "radiology", ("pacs", "ehr,x"),
                                "renew-automatically", NOW.replace(microsecond=0),
                                NOW.replace(microsecond=0) + timedelta(days=30),
                                renewal_of)  # fmt: skip
        assert record_from_row(record_row(record)) == record


def test_a_revocation_round_trips_with_its_microseconds() -> None:
    revocation = Revocation(BIG, NOW, x509.ReasonFlags.key_compromise)
    assert revocation_from_row(revocation_row(revocation)) == revocation


def test_an_inventory_entry_round_trips() -> None:
    record = DeviceRecord("ct-1", "Vendor", "Model", "SN1", "north", "imaging", "radiology",
                          "ct-ai-onbox", ("pacs-north",), KeyType.EC_P256, ("system/x.rs",),
                          "APEXCT001", ("dicom://x",))  # fmt: skip
    entry = InventoryEntry(record, Lifecycle(DeviceState.PRODUCTION), timedelta(days=30),
                           OnExpiry.RENEW_MANUALLY, approved=False, bootstrap_digest=b"\x01\x02",
                           serial=BIG, test_serials={BIG - 1, 7},
                           history=[(NOW, DeviceState.REGISTERED)], version=5)  # fmt: skip
    back = entry_from_json(entry_json(entry))
    assert back.state is DeviceState.PRODUCTION
    assert (back.record, back.lifetime, back.on_expiry, back.approved, back.bootstrap_digest,
            back.serial, back.test_serials, back.history, back.version) == (
        record, entry.lifetime, entry.on_expiry, False, b"\x01\x02", BIG, {BIG - 1, 7},
        entry.history, 5)  # fmt: skip
