"""The inventory (CMDB): the single source of truth for device identity.

One device record maps to one operational identity.  The inventory answers the
enrollment service's questions (it is the EST :class:`EnrollmentDirectory`), holds
each device's lifecycle, and :meth:`Inventory.drift` compares it with the CA's
issuance records (seed §6: use inventory as an identity primitive).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from testbed.devices import DeviceRecord
from testbed.drift_index import DriftIndex
from testbed.errors import RegistrationError
from testbed.events import EventKind, EventLog
from testbed.lifecycle import ACTIVE_STATES, DeviceState, Lifecycle, LifecycleEvent, Transition
from testbed.pki.ca import CertificateAuthority, IssuanceRecord
from testbed.pki.est import EnrollmentSubject
from testbed.pki.fidelity import LeafCertificate
from testbed.pki.renewal import OnExpiry

__all__ = ["DeviceJournal", "Drift", "DriftKind", "Inventory", "InventoryEntry"]


@dataclass(slots=True)
class InventoryEntry:
    """A device record with its lifecycle and enrollment facts.

    ``version`` moves whenever a fact access decisions read changes (the lifecycle
    state, the current serial, the test serials): the :class:`Inventory` methods
    that change them bump it (:mod:`testbed.standing`); so does a change of another
    service's fact about this device alone (:meth:`Inventory.touch`).
    """

    record: DeviceRecord
    lifecycle: Lifecycle
    lifetime: timedelta
    on_expiry: OnExpiry
    approved: bool = True
    bootstrap_digest: bytes | None = None
    serial: int | None = None
    test_serials: set[int] = field(default_factory=set)
    history: list[tuple[datetime, DeviceState]] = field(default_factory=list)
    version: int = 0

    @property
    def state(self) -> DeviceState:
        """The current lifecycle state."""
        return self.lifecycle.state


class DeviceJournal(Protocol):
    """Where the inventory writes each entry it changed (live mode's durable store,
    :mod:`testbed.live.store`); the simulation has none."""

    def save(self, entry: InventoryEntry) -> None:
        """Keep the entry as it is now (its record, lifecycle, approval, bindings)."""
        ...


class DriftKind(StrEnum):
    """Ways the inventory and the CA (or the IdP and the EHR) can disagree."""

    RETIRED_WITH_LIVE_CERTIFICATE = "retired-with-live-certificate"
    UNKNOWN_HOLDER = "certificate-for-unknown-device"
    PRODUCTION_WITHOUT_LIVE_IDENTITY = "production-without-live-identity"
    INVENTORY_SERIAL_UNKNOWN_TO_CA = "inventory-serial-unknown-to-ca"
    # the inventory and the identity provider's clients or the EHR's device registry
    # (testbed.registry_drift)
    CLIENT_FOR_UNKNOWN_DEVICE = "smart-client-for-unknown-device"
    RETIRED_WITH_ACTIVE_CLIENT = "retired-with-active-smart-client"
    CLIENT_MISSING = "smart-client-missing"
    CLIENT_SCOPES_DIFFER = "smart-client-scopes-differ"
    EHR_DEVICE_FOR_UNKNOWN_DEVICE = "ehr-device-for-unknown-device"
    EHR_DEVICE_MISSING = "ehr-device-missing"
    RETIRED_WITH_ACTIVE_EHR_DEVICE = "retired-with-active-ehr-device"


@dataclass(frozen=True, slots=True)
class Drift:
    """One disagreement between the inventory and the CA."""

    kind: DriftKind
    device_id: str
    detail: str


class Inventory:
    """Device records by id, with lifecycle and bootstrap credentials.

    With a ``log``, every lifecycle transition writes one ``device-transition`` event
    (the event, its source and target states), whoever caused it: an operator, the
    EST service issuing a first certificate, or the pre-production validation.

    With a ``journal``, every change of an entry is written to it, through the methods
    here (so nothing else assigns to an entry's fields); :meth:`restore` gives back
    the entries a journal kept.
    """

    def __init__(
        self, *, log: EventLog | None = None, journal: DeviceJournal | None = None
    ) -> None:
        self._entries: dict[str, InventoryEntry] = {}
        self._log = log
        self._journal = journal
        self._drift_index = DriftIndex()  # what the next drift scan looks at

    def restore(self, entries: Iterable[InventoryEntry]) -> None:
        """Take back kept entries (a restarted live hospital); no events, no journal."""
        for entry in entries:
            if entry.record.device_id in self._entries:
                raise RegistrationError(f"device {entry.record.device_id!r} kept twice")
            self._entries[entry.record.device_id] = entry
            self._drift_index.changed(entry.record.device_id)

    @property
    def drift_index(self) -> DriftIndex:
        """What the next drift scan looks at (and how many entries scans looked at)."""
        return self._drift_index

    def _changed(self, entry: InventoryEntry) -> None:
        self._drift_index.changed(entry.record.device_id)
        if self._journal is not None:
            self._journal.save(entry)

    def touch(self, device_id: str) -> None:
        """A fact of another service that only this device's decisions read changed
        (:meth:`Revision.devices_changed <testbed.revision.Revision.devices_changed>`):
        move the entry's version, so the device's allowances are decided afresh
        (nothing for a device the hospital does not know: it has none).  Not written
        to the journal: no fact of the device changed, and a restarted hospital's
        allowances are all new (a live restart admits its kept devices again)."""
        entry = self._entries.get(device_id)
        if entry is not None:
            entry.version += 1

    def __contains__(self, device_id: object) -> bool:
        return device_id in self._entries

    def __iter__(self) -> Iterator[InventoryEntry]:
        return iter(self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, device_id: str) -> InventoryEntry | None:
        """The entry, or None for a device the hospital does not know."""
        return self._entries.get(device_id)

    def entry(self, device_id: str) -> InventoryEntry:
        """The entry, or :class:`RegistrationError`."""
        found = self._entries.get(device_id)
        if found is None:
            raise RegistrationError(f"device {device_id!r} is not registered")
        return found

    def register(
        self,
        record: DeviceRecord,
        *,
        now: datetime,
        lifetime: timedelta,
        on_expiry: OnExpiry = OnExpiry.RENEW_AUTOMATICALLY,
        approved: bool = True,
    ) -> InventoryEntry:
        """Pre-create the identity record (seed §7 step 1)."""
        if record.device_id in self._entries:
            raise RegistrationError(f"device {record.device_id!r} is already registered")
        entry = InventoryEntry(record, Lifecycle(), lifetime, on_expiry, approved)
        self._entries[record.device_id] = entry
        self.transition(record.device_id, LifecycleEvent.REGISTER, now=now)
        return entry

    def transition(self, device_id: str, event: LifecycleEvent, *, now: datetime) -> Transition:
        """Apply a lifecycle event (raises on an invalid transition)."""
        entry = self.entry(device_id)
        row = entry.lifecycle.apply(event)
        entry.version += 1
        entry.history.append((now, row.target))
        self._changed(entry)
        if self._log is not None:
            self._log.emit(now, EventKind.DEVICE_TRANSITION, device_id, event=event.value,
                           source=row.source.value, target=row.target.value)  # fmt: skip
        return row

    def add_test_serial(self, device_id: str, serial: int) -> None:
        """A pre-production test's own certificate, accepted beside the current one."""
        entry = self.entry(device_id)
        entry.test_serials.add(serial)
        entry.version += 1
        self._changed(entry)

    def set_bootstrap(self, device_id: str, password: str) -> None:
        """Store (a digest of) a one-time bootstrap secret for HTTP Basic enrollment."""
        entry = self.entry(device_id)
        entry.bootstrap_digest = _digest(device_id, password)
        self._changed(entry)

    def clear_bootstrap(self, device_id: str) -> None:
        """Invalidate the device's bootstrap secret (offboarding)."""
        entry = self.entry(device_id)
        entry.bootstrap_digest = None
        self._changed(entry)

    def approve(self, device_id: str) -> None:
        """Record an operator's approval of the device's enrollment."""
        entry = self.entry(device_id)
        entry.approved = True
        self._changed(entry)

    def hold(self, device_id: str) -> None:
        """Hold the device's next enrollment for an operator's approval (live fault
        injection of the certification kit: a 202 + Retry-After, seed §7 step 2)."""
        entry = self.entry(device_id)
        entry.approved = False
        self._changed(entry)

    # -- EnrollmentDirectory -------------------------------------------------------

    def subject(self, device_id: str) -> EnrollmentSubject | None:
        """What the enrollment service needs to know about a device."""
        entry = self._entries.get(device_id)
        if entry is None:
            return None
        record = entry.record
        return EnrollmentSubject(
            device_id=device_id,
            site=record.site,
            services=record.intended_services,
            owner=record.owner,
            lifetime=entry.lifetime,
            on_expiry=entry.on_expiry,
            may_enroll=entry.state in ACTIVE_STATES,
            approved=entry.approved,
            key_type=record.certificate_type.value,
            state=entry.state.value,
        )

    def bootstrap_device(self, username: str, password: str) -> str | None:
        """The device id when the one-time bootstrap secret matches."""
        entry = self._entries.get(username)
        if entry is None or entry.bootstrap_digest is None:
            return None
        if not hmac.compare_digest(entry.bootstrap_digest, _digest(username, password)):
            return None
        return username

    def current_serial(self, device_id: str) -> int | None:
        """The serial of the device's current certificate (None: none, or unknown device)."""
        entry = self._entries.get(device_id)
        return None if entry is None else entry.serial

    def on_issued(
        self, device_id: str, certificate: LeafCertificate, *, now: datetime, renewal: bool
    ) -> None:
        """Bind the new certificate; the first one moves the device to ``enrolled``."""
        entry = self.entry(device_id)
        entry.serial = certificate.serial_number
        entry.version += 1
        if not renewal:
            entry.bootstrap_digest = None  # one-time secret
        if entry.state is DeviceState.REGISTERED:
            self.transition(device_id, LifecycleEvent.ENROLL, now=now)
        else:
            self._changed(entry)

    # -- drift ------------------------------------------------------------------------

    def drift(
        self, ca: CertificateAuthority, *, now: datetime, full: bool = False
    ) -> list[Drift]:
        """Disagreements between the inventory and the CA's live certificates.

        Looks only at the entries that could have changed since the last scan
        (:class:`~testbed.drift_index.DriftIndex`), so a daily scan of a large fleet
        costs what changed; ``full`` looks at every entry (the same answer).
        """
        found: list[Drift] = []
        for device_id in sorted(ca.device_ids() - self._entries.keys()):
            serials = _live(ca, ca.records_for(device_id), now)
            if serials:
                found.append(Drift(DriftKind.UNKNOWN_HOLDER, device_id, f"live {_hex(serials)}"))
        revoked, records, index = ca.revocations, ca.records, self._drift_index
        if full:
            index = DriftIndex()  # a fresh one looks at every entry
        production, retired = DeviceState.PRODUCTION, DeviceState.RETIRED  # read once
        entries = self._entries
        due = index.due(ca, len(revoked), now, entries)
        try:
            for device_id in due:
                entry = entries[device_id]
                state, serial = entry.lifecycle.state, entry.serial
                if state is production and serial is not None:
                    record = records.get(serial)
                    if record is not None and record.not_after >= now and serial not in revoked:
                        index.quiet(device_id, record.not_after)
                        continue  # the common case, bound to a live certificate: no drift
                index.loud(device_id)
                if state is retired:
                    serials = _live(ca, ca.records_for(device_id), now)
                    if serials:
                        found.append(
                            Drift(DriftKind.RETIRED_WITH_LIVE_CERTIFICATE, device_id,
                                  _hex(serials))
                        )  # fmt: skip
                found.extend(_binding_drift(entry, ca, now))
        except BaseException:
            index.again()  # failed part way: the next scan looks at every entry
            raise
        return sorted(found, key=lambda d: (d.device_id, d.kind.value))


def _live(ca: CertificateAuthority, records: list[IssuanceRecord], now: datetime) -> list[int]:
    return sorted(
        r.serial for r in records if r.not_after >= now and ca.revoked_at(r.serial) is None
    )


def _hex(serials: list[int]) -> str:
    return ", ".join(f"{s:x}" for s in serials)


def _binding_drift(entry: InventoryEntry, ca: CertificateAuthority, now: datetime) -> list[Drift]:
    """A device in production must be bound to a live certificate the CA issued."""
    if entry.lifecycle.state is not DeviceState.PRODUCTION or entry.serial is None:
        return []
    device_id = entry.record.device_id
    record = ca.record(entry.serial)
    if record is None:
        detail = f"inventory binds {entry.serial:x}, which the CA never issued"
        return [Drift(DriftKind.INVENTORY_SERIAL_UNKNOWN_TO_CA, device_id, detail)]
    if record.not_after < now or ca.revoked_at(entry.serial) is not None:
        detail = f"bound certificate {entry.serial:x} is expired or revoked"
        return [Drift(DriftKind.PRODUCTION_WITHOUT_LIVE_IDENTITY, device_id, detail)]
    return []


def _digest(device_id: str, password: str) -> bytes:
    return hashlib.sha256(f"{device_id}\x00{password}".encode()).digest()
