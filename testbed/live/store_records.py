"""The CA's records in SQLite: :class:`~testbed.pki.records.CertificateRecords` on disk.

Leaves and their issuance records are read from the database when asked for (by
serial, by device), so a restart costs nothing per certificate; revocations and the
CRL bookkeeping are few and are also kept in memory, written through.  The CA's own
private keys are files beside the database, mode 0600 (:class:`KeyFiles`); the
database names them.  Writes join the store's current transaction
(:mod:`testbed.live.store`).
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Set
from datetime import datetime
from pathlib import Path
from types import MappingProxyType

from cryptography import x509
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from testbed.errors import LiveError
from testbed.live.store_codec import (
    RECORD_COLUMNS,
    hex_serial,
    record_from_row,
    record_row,
    revocation_from_row,
    revocation_row,
)
from testbed.pki.ca import IssuanceRecord, IssuingCA, Revocation
from testbed.pki.fidelity import LeafCertificate
from testbed.pki.keys import PrivateKey
from testbed.pki.records import CaMaterial

__all__ = ["SCHEMA", "KeyFiles", "SqliteRecords"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS ca (
    seq INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, site TEXT, generation INTEGER,
    active_from TEXT, der BLOB NOT NULL, key_file TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS certificates (
    seq INTEGER PRIMARY KEY, serial TEXT UNIQUE NOT NULL, device_id TEXT NOT NULL,
    site TEXT NOT NULL, issuer TEXT NOT NULL, spiffe_id TEXT NOT NULL,
    requester TEXT NOT NULL, services TEXT NOT NULL, on_expiry TEXT NOT NULL,
    not_before TEXT NOT NULL, not_after TEXT NOT NULL, renewal_of TEXT,
    der BLOB NOT NULL, used INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS certificates_by_device ON certificates (device_id, seq);
CREATE TABLE IF NOT EXISTS revocations (
    serial TEXT PRIMARY KEY, time TEXT NOT NULL, reason TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS crls (
    issuer TEXT PRIMARY KEY, number INTEGER NOT NULL, this_update TEXT, listed TEXT,
    off TEXT NOT NULL DEFAULT '[]');
"""
"""The tables of the CA's records (the root is the ``ca`` row with no generation)."""

_CACHED = 4096  # issuance records kept in memory after a read (the hot ones: renewals)


class KeyFiles:
    """The CA's private keys as PEM files in ``directory`` (mode 0700), each mode 0600,
    written with fsync before the database names them.  A production CA keeps them in
    an HSM or a cloud KMS instead (``docs/live.md``)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def write(self, name: str, key: PrivateKey) -> str:
        """Store ``key`` as ``name``.pem; returns the file name the database keeps."""
        self.directory.mkdir(mode=0o700, exist_ok=True)
        path = self.directory / f"{name}.pem"
        temporary = path.with_name(f".{path.name}.tmp")
        temporary.unlink(missing_ok=True)  # left by a crash before its name was kept
        pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        descriptor = os.open(temporary, flags, 0o600)
        try:
            os.write(descriptor, pem)
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        temporary.replace(path)
        directory = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(directory)  # the file's name is durable too
        finally:
            os.close(directory)
        return path.name

    def read(self, file_name: str) -> PrivateKey:
        """The key kept in ``file_name``; :class:`LiveError` when missing or unreadable."""
        path = self.directory / file_name
        try:
            key = load_pem_private_key(path.read_bytes(), password=None)
        except (OSError, ValueError) as error:
            raise LiveError(f"{path}: expected the CA's private key ({error})") from None
        if path.stat().st_mode & 0o077:
            raise LiveError(f"{path}: a CA key must be readable by its owner only (mode 0600)")
        return key  # type: ignore[return-value]  # the CA made it: EC or RSA


class _Records(Mapping[int, IssuanceRecord]):
    """Issuance records by serial, read from the database on demand."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        self._cache: dict[int, IssuanceRecord] = {}

    def remember(self, record: IssuanceRecord) -> None:
        if len(self._cache) >= _CACHED:
            self._cache.clear()
        self._cache[record.serial] = record

    def __getitem__(self, serial: int) -> IssuanceRecord:
        cached = self._cache.get(serial)
        if cached is not None:
            return cached
        row = self._db.execute(
            f"SELECT {RECORD_COLUMNS} FROM certificates WHERE serial = ?", (hex_serial(serial),)
        ).fetchone()
        if row is None:
            raise KeyError(serial)
        record = record_from_row(row)
        self.remember(record)
        return record

    def __contains__(self, serial: object) -> bool:
        if not isinstance(serial, int):
            return False
        return serial in self._cache or self.get(serial) is not None

    def __iter__(self) -> Iterator[int]:
        for (serial,) in self._db.execute("SELECT serial FROM certificates ORDER BY seq"):
            yield int(serial, 16)

    def __len__(self) -> int:
        # the store never deletes a certificate, so the rows are numbered 1..n: the
        # last number is the count, read from the table's b-tree without a scan
        count: int | None = self._db.execute("SELECT max(seq) FROM certificates").fetchone()[0]
        return count or 0


class SqliteRecords:
    """:class:`~testbed.pki.records.CertificateRecords` in one SQLite database."""

    def __init__(self, db: sqlite3.Connection, keys: KeyFiles) -> None:
        db.executescript(SCHEMA)
        self._db = db
        self._keys = keys
        self._records = _Records(db)
        self._revoked = {
            r.serial: r
            for r in map(revocation_from_row, db.execute("SELECT * FROM revocations"))
        }
        self._crls: dict[str, tuple[int, tuple[datetime, frozenset[int]] | None, set[int]]] = {}
        for issuer, number, this_update, listed, off in db.execute("SELECT * FROM crls"):
            last = None
            if this_update is not None:
                last = (datetime.fromisoformat(this_update), _serials(listed))
            self._crls[issuer] = (number, last, set(_serials(off)))

    @property
    def records(self) -> Mapping[int, IssuanceRecord]:
        """Every issuance record by serial (read from the database)."""
        return self._records

    @property
    def revocations(self) -> Mapping[int, Revocation]:
        """Every revocation by serial (read-only view)."""
        return MappingProxyType(self._revoked)

    def material(self) -> CaMaterial | None:
        """The kept root and issuing generations, or None for a new store."""
        rows = self._db.execute(
            "SELECT name, site, generation, active_from, der, key_file FROM ca ORDER BY seq"
        ).fetchall()
        if not rows:
            return None
        root_row, *issuing_rows = rows
        root = x509.load_der_x509_certificate(root_row[4])
        issuing = tuple(
            IssuingCA(name, site, x509.load_der_x509_certificate(der), self._keys.read(key),
                      generation, datetime.fromisoformat(active_from))
            for name, site, generation, active_from, der, key in issuing_rows
        )  # fmt: skip
        return CaMaterial(root, self._keys.read(root_row[5]), issuing)

    def save_root(self, root: x509.Certificate, key: PrivateKey) -> None:
        """Keep the root certificate, and its key as a file."""
        file_name = self._keys.write("root", key)
        self._db.execute(
            "INSERT INTO ca (name, der, key_file) VALUES (?, ?, ?)",
            ("root", root.public_bytes(Encoding.DER), file_name),
        )

    def save_issuing(self, issuing: IssuingCA) -> None:
        """Keep an issuing generation, and its key as a file."""
        file_name = self._keys.write(issuing.name.replace(" ", "_"), issuing.key)
        self._db.execute(
            "INSERT INTO ca (name, site, generation, active_from, der, key_file) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (issuing.name, issuing.site, issuing.generation, issuing.active_from.isoformat(),
             issuing.certificate.public_bytes(Encoding.DER), file_name),
        )  # fmt: skip

    def add(self, record: IssuanceRecord, certificate: LeafCertificate) -> None:
        """Keep a leaf (DER) and its record."""
        if not isinstance(certificate, x509.Certificate):
            raise LiveError("the durable store keeps real certificates (full fidelity) only")
        self.add_der(record, certificate.public_bytes(Encoding.DER))

    def add_der(self, record: IssuanceRecord, der: bytes) -> None:
        """Keep a leaf given as DER and its record (the benchmark fills a store so)."""
        self._db.execute(
            f"INSERT INTO certificates ({RECORD_COLUMNS}, der) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (*record_row(record), der),
        )
        self._records.remember(record)

    def certificate(self, serial: int) -> LeafCertificate | None:
        """The leaf issued with ``serial``, parsed from its DER."""
        row = self._db.execute(
            "SELECT der FROM certificates WHERE serial = ?", (hex_serial(serial),)
        ).fetchone()
        return None if row is None else x509.load_der_x509_certificate(row[0])

    def for_device(self, device_id: str) -> list[IssuanceRecord]:
        """One device's records, oldest first."""
        rows = self._db.execute(
            f"SELECT {RECORD_COLUMNS} FROM certificates WHERE device_id = ? ORDER BY seq",
            (device_id,),
        )
        return [record_from_row(row) for row in rows]

    def device_ids(self) -> set[str]:
        """Every device a leaf was issued to."""
        return {d for (d,) in self._db.execute("SELECT DISTINCT device_id FROM certificates")}

    def revoke(self, revocation: Revocation) -> None:
        """Keep a revocation (the first of a serial)."""
        if revocation.serial in self._revoked:
            return
        self._db.execute("INSERT INTO revocations VALUES (?, ?, ?)", revocation_row(revocation))
        self._revoked[revocation.serial] = revocation

    def _crl(self, issuer: str) -> tuple[int, tuple[datetime, frozenset[int]] | None, set[int]]:
        return self._crls.get(issuer, (0, None, set()))

    def _save_crl(
        self, issuer: str, number: int, last: tuple[datetime, frozenset[int]] | None, off: set[int]
    ) -> None:
        this_update = None if last is None else last[0].isoformat()
        listed = None if last is None else _text(last[1])
        self._db.execute(
            "INSERT OR REPLACE INTO crls VALUES (?, ?, ?, ?, ?)",
            (issuer, number, this_update, listed, _text(off)),
        )
        self._crls[issuer] = (number, last, off)

    def next_crl_number(self, issuer: str) -> int:
        """The next CRL number of ``issuer``, kept before it is used."""
        number, last, off = self._crl(issuer)
        self._save_crl(issuer, number + 1, last, off)
        return number + 1

    def last_crl(self, issuer: str) -> tuple[datetime, frozenset[int]] | None:
        """The last CRL of ``issuer``: when, and what it listed."""
        return self._crl(issuer)[1]

    def crl_signed(
        self, issuer: str, this_update: datetime, serials: frozenset[int], dropped: Iterable[int]
    ) -> None:
        """Note a signed CRL."""
        number, _, off = self._crl(issuer)
        self._save_crl(issuer, number, (this_update, serials), off | set(dropped))

    def off_crl(self, issuer: str) -> Set[int]:
        """Serials gone from ``issuer``'s CRLs for good."""
        return frozenset(self._crl(issuer)[2])

    def mark_used(self, serial: int) -> None:
        """Note a presented leaf."""
        self._db.execute(
            "UPDATE certificates SET used = 1 WHERE serial = ? AND used = 0", (hex_serial(serial),)
        )

    def used(self, serial: int) -> bool:
        """Whether the leaf was presented."""
        row = self._db.execute(
            "SELECT used FROM certificates WHERE serial = ?", (hex_serial(serial),)
        ).fetchone()
        return row is not None and bool(row[0])


def _text(serials: Iterable[int]) -> str:
    return json.dumps(sorted(hex_serial(s) for s in serials))


def _serials(text: str | None) -> frozenset[int]:
    return frozenset(int(s, 16) for s in json.loads(text or "[]"))
