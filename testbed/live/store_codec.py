"""How the durable store writes the hospital's values: one row or one JSON text each.

Serial numbers are lowercase hex text (they exceed SQLite's 64-bit integers), times
ISO 8601 text (a revocation keeps its microseconds), an inventory entry one JSON
object.  Each ``*_row`` function has its inverse; a test round-trips them.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from cryptography import x509

from testbed.devices import DeviceRecord
from testbed.inventory import InventoryEntry
from testbed.lifecycle import DeviceState, Lifecycle
from testbed.pki.ca import IssuanceRecord, Revocation
from testbed.pki.keys import KeyType
from testbed.pki.renewal import OnExpiry

__all__ = [
    "RECORD_COLUMNS",
    "entry_from_json",
    "entry_json",
    "hex_serial",
    "record_from_row",
    "record_row",
    "revocation_from_row",
    "revocation_row",
]

RECORD_COLUMNS = (
    "serial, device_id, site, issuer, spiffe_id, requester, services, on_expiry, "
    "not_before, not_after, renewal_of"
)
"""The columns of an issuance record, in :func:`record_row`'s order."""

# value -> member, looked up directly: a 100k-device restart spent ~40% of its time in
# Enum.__call__ (400k calls; benchmarks/live_store.py, profiled 2026-12-05)
_STATES = {s.value: s for s in DeviceState}
_KEYS = {k.value: k for k in KeyType}
_ON_EXPIRY = {o.value: o for o in OnExpiry}

RecordRow = tuple[str, str, str, str, str, str, str, str, str, str, str | None]


def hex_serial(serial: int) -> str:
    """A serial number as the store keys it."""
    return f"{serial:x}"


def record_row(record: IssuanceRecord) -> RecordRow:
    """An issuance record as a row of :data:`RECORD_COLUMNS`."""
    renewal_of = None if record.renewal_of is None else hex_serial(record.renewal_of)
    return (
        hex_serial(record.serial), record.device_id, record.site, record.issuer,
        record.spiffe_id, record.requester, json.dumps(list(record.services)),
        record.on_expiry, record.not_before.isoformat(), record.not_after.isoformat(),
        renewal_of,
    )  # fmt: skip


def record_from_row(row: tuple[str, ...]) -> IssuanceRecord:
    """The issuance record of a row of :data:`RECORD_COLUMNS` (``renewal_of`` may be
    None)."""
    (serial, device_id, site, issuer, spiffe, requester, services, on_expiry, not_before,
     not_after, renewal_of) = row  # fmt: skip
    return IssuanceRecord(
        int(serial, 16), device_id, site, issuer, spiffe, requester,
        tuple(json.loads(services)), on_expiry, datetime.fromisoformat(not_before),
        datetime.fromisoformat(not_after), None if renewal_of is None else int(renewal_of, 16),
    )  # fmt: skip


def revocation_row(revocation: Revocation) -> tuple[str, str, str]:
    """A revocation as (serial, time, reason flag name)."""
    return hex_serial(revocation.serial), revocation.time.isoformat(), revocation.reason.name


def revocation_from_row(row: tuple[str, str, str]) -> Revocation:
    """The revocation of a :func:`revocation_row`."""
    serial, time, reason = row
    return Revocation(int(serial, 16), datetime.fromisoformat(time), x509.ReasonFlags[reason])


def entry_json(entry: InventoryEntry) -> str:
    """An inventory entry as one JSON object."""
    record = entry.record
    return json.dumps({
        "record": {
            "device_id": record.device_id, "vendor": record.vendor, "model": record.model,
            "serial": record.serial, "site": record.site, "zone": record.zone,
            "owner": record.owner, "profile": record.profile,
            "intended_services": list(record.intended_services),
            "certificate_type": record.certificate_type.value,
            "fhir_scopes": list(record.fhir_scopes), "ae_title": record.ae_title,
            "dicom_endpoints": list(record.dicom_endpoints),
        },
        "state": entry.state.value,
        "lifetime": entry.lifetime.total_seconds(),
        "on_expiry": entry.on_expiry.value,
        "approved": entry.approved,
        "bootstrap": None if entry.bootstrap_digest is None else entry.bootstrap_digest.hex(),
        "serial": None if entry.serial is None else hex_serial(entry.serial),
        "test_serials": sorted(hex_serial(s) for s in entry.test_serials),
        "history": [[t.isoformat(), s.value] for t, s in entry.history],
        "version": entry.version,
    }, separators=(",", ":"))  # fmt: skip


def entry_from_json(text: str) -> InventoryEntry:
    """The inventory entry of an :func:`entry_json` text."""
    data = json.loads(text)
    r = data["record"]
    record = DeviceRecord(
        r["device_id"], r["vendor"], r["model"], r["serial"], r["site"], r["zone"],
        r["owner"], r["profile"], tuple(r["intended_services"]),
        _KEYS[r["certificate_type"]], tuple(r["fhir_scopes"]), r["ae_title"],
        tuple(r["dicom_endpoints"]),
    )  # fmt: skip
    bootstrap = data["bootstrap"]
    serial = data["serial"]
    return InventoryEntry(
        record,
        Lifecycle(_STATES[data["state"]]),
        timedelta(seconds=data["lifetime"]),
        _ON_EXPIRY[data["on_expiry"]],
        approved=bool(data["approved"]),
        bootstrap_digest=None if bootstrap is None else bytes.fromhex(bootstrap),
        serial=None if serial is None else int(serial, 16),
        test_serials={int(s, 16) for s in data["test_serials"]},
        history=[(datetime.fromisoformat(t), _STATES[s]) for t, s in data["history"]],
        version=int(data["version"]),
    )
