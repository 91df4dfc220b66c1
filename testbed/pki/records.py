"""Where a certificate authority keeps what it has done: the seam to durable storage.

A :class:`~testbed.pki.ca.CertificateAuthority` decides; a :class:`CertificateRecords`
remembers: its root and issuing CA generations (certificates and keys), every issued
leaf with its :class:`~testbed.pki.issuance.IssuanceRecord`, revocations, the CRL
bookkeeping (numbers, what the last CRL listed, serials gone from CRLs for good) and
which leaves were seen in use (the re-enrollment grace reads it,
:mod:`testbed.pki.est`).

:class:`MemoryRecords` (here) keeps it all in dictionaries: the simulation and the
tests use it, and it behaves exactly as the CA's own dictionaries did.  Live mode's
SQLite store (:mod:`testbed.live.store`) implements the same protocol on disk, so a
restarted ``testbed serve`` continues the same CA.  The CA calls the protocol and
never knows which one it has.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Protocol

# imported at run time, not only for type checking: CaMaterial's field types must
# resolve when it is built, compiled with mypyc (benchmarks.compiled)
from cryptography import x509

from testbed.pki.issuance import IssuanceRecord, IssuingCA, Revocation
from testbed.pki.keys import PrivateKey

if TYPE_CHECKING:
    from testbed.pki.fidelity import LeafCertificate

__all__ = ["CaMaterial", "CertificateRecords", "MemoryRecords"]


@dataclass(frozen=True, slots=True)
class CaMaterial:
    """A CA's own certificates and keys: the root and every issuing generation (oldest
    first)."""

    root: x509.Certificate
    root_key: PrivateKey
    issuing: tuple[IssuingCA, ...]


class CertificateRecords(Protocol):
    """What a CA remembers, written as it happens and read back by serial or device."""

    @property
    def records(self) -> Mapping[int, IssuanceRecord]:
        """Every issuance record by serial, in issuance order."""
        ...

    @property
    def revocations(self) -> Mapping[int, Revocation]:
        """Every revocation by serial (a live view: it shows later revocations too)."""
        ...

    def material(self) -> CaMaterial | None:
        """The CA's certificates and keys, or None when no CA was made yet."""
        ...

    def save_root(self, root: x509.Certificate, key: PrivateKey) -> None:
        """Keep a new root certificate and its key."""
        ...

    def save_issuing(self, issuing: IssuingCA) -> None:
        """Keep a new issuing CA generation and its key."""
        ...

    def add(self, record: IssuanceRecord, certificate: LeafCertificate) -> None:
        """Keep an issued leaf and its record."""
        ...

    def certificate(self, serial: int) -> LeafCertificate | None:
        """The leaf issued with ``serial``, or None."""
        ...

    def for_device(self, device_id: str) -> list[IssuanceRecord]:
        """The issuance records of one device, oldest first."""
        ...

    def device_ids(self) -> set[str]:
        """Every device a leaf was issued to."""
        ...

    def revoke(self, revocation: Revocation) -> None:
        """Keep a revocation (the CA keeps only the first one of a serial)."""
        ...

    def next_crl_number(self, issuer: str) -> int:
        """Take the next CRL number of ``issuer`` (from 1, never reused)."""
        ...

    def last_crl(self, issuer: str) -> tuple[datetime, frozenset[int]] | None:
        """When the last CRL of ``issuer`` was signed and what it listed."""
        ...

    def crl_signed(
        self, issuer: str, this_update: datetime, serials: frozenset[int], dropped: Iterable[int]
    ) -> None:
        """Note a signed CRL; ``dropped`` left the CRLs of ``issuer`` for good."""
        ...

    def off_crl(self, issuer: str) -> Set[int]:
        """The revoked serials of ``issuer`` no CRL lists any more."""
        ...

    def mark_used(self, serial: int) -> None:
        """Note that the leaf ``serial`` was presented somewhere (TLS, EST)."""
        ...

    def used(self, serial: int) -> bool:
        """Whether the leaf ``serial`` was ever presented."""
        ...


class MemoryRecords:
    """:class:`CertificateRecords` in dictionaries (the simulation's; nothing survives
    the process)."""

    def __init__(self) -> None:
        self._material: CaMaterial | None = None
        self._records: dict[int, IssuanceRecord] = {}
        self._certificates: dict[int, LeafCertificate] = {}
        self._by_device: dict[str, list[IssuanceRecord]] = {}
        self._revoked: dict[int, Revocation] = {}
        self._crl_numbers: dict[str, int] = {}
        self._last_crls: dict[str, tuple[datetime, frozenset[int]]] = {}
        self._off_crl: dict[str, set[int]] = {}
        self._used: set[int] = set()

    @property
    def records(self) -> Mapping[int, IssuanceRecord]:
        """Every issuance record by serial (read-only view)."""
        return MappingProxyType(self._records)

    @property
    def revocations(self) -> Mapping[int, Revocation]:
        """Every revocation by serial (read-only view)."""
        return MappingProxyType(self._revoked)

    def material(self) -> CaMaterial | None:
        """The CA's certificates and keys kept so far."""
        return self._material

    def save_root(self, root: x509.Certificate, key: PrivateKey) -> None:
        """Keep the root."""
        self._material = CaMaterial(root, key, ())

    def save_issuing(self, issuing: IssuingCA) -> None:
        """Keep an issuing generation (after the root)."""
        if self._material is not None:
            kept = self._material
            self._material = CaMaterial(kept.root, kept.root_key, (*kept.issuing, issuing))

    def add(self, record: IssuanceRecord, certificate: LeafCertificate) -> None:
        """Keep a leaf and its record."""
        self._records[record.serial] = record
        self._certificates[record.serial] = certificate
        self._by_device.setdefault(record.device_id, []).append(record)

    def certificate(self, serial: int) -> LeafCertificate | None:
        """The leaf issued with ``serial``."""
        return self._certificates.get(serial)

    def for_device(self, device_id: str) -> list[IssuanceRecord]:
        """One device's records, oldest first."""
        return list(self._by_device.get(device_id, ()))

    def device_ids(self) -> set[str]:
        """Every device a leaf was issued to."""
        return set(self._by_device)

    def revoke(self, revocation: Revocation) -> None:
        """Keep a revocation."""
        self._revoked.setdefault(revocation.serial, revocation)

    def next_crl_number(self, issuer: str) -> int:
        """The next CRL number of ``issuer``."""
        number = self._crl_numbers.get(issuer, 0) + 1
        self._crl_numbers[issuer] = number
        return number

    def last_crl(self, issuer: str) -> tuple[datetime, frozenset[int]] | None:
        """The last CRL of ``issuer``: when, and what it listed."""
        return self._last_crls.get(issuer)

    def crl_signed(
        self, issuer: str, this_update: datetime, serials: frozenset[int], dropped: Iterable[int]
    ) -> None:
        """Note a signed CRL."""
        self._last_crls[issuer] = (this_update, serials)
        self._off_crl.setdefault(issuer, set()).update(dropped)

    def off_crl(self, issuer: str) -> Set[int]:
        """Serials gone from ``issuer``'s CRLs for good."""
        return self._off_crl.get(issuer, frozenset())

    def mark_used(self, serial: int) -> None:
        """Note a presented leaf."""
        self._used.add(serial)

    def used(self, serial: int) -> bool:
        """Whether the leaf was presented."""
        return serial in self._used
