"""Live mode's durable store: one hospital in SQLite, surviving restarts and ``kill -9``.

:class:`SqliteStore` is the :class:`~testbed.store.HospitalStore` of ``testbed serve``:

::

    DIR/hospital.db       SQLite (WAL, synchronous=FULL), mode 0600: the hospital's
                          identity (scenario, creation), the CA's certificates, every
                          leaf (DER) with its issuance record, revocations (reason,
                          time), CRL numbers, every inventory entry (state, approval,
                          bindings, history)
    DIR/ca-keys/*.pem     the root and issuing CA private keys, mode 0600
    DIR/idp-keys/*.pem    the identity provider's signing keys, mode 0600 (with an
                          ``ehr:`` block; its clients, tokens and the EHRs' resources
                          are tables of hospital.db: :mod:`testbed.live.store_clinical`)

A transport wraps every operation it answers in :meth:`SqliteStore.transaction`:
``BEGIN IMMEDIATE`` ... ``COMMIT``, and with ``synchronous=FULL`` the commit returns
only once the write-ahead log is on disk, so an answer that promises success leaves
after what it did is durable, and a crash before the commit leaves none of it (SQLite
rolls the unfinished transaction back when the database is next opened).  Writes made
outside a transaction (a certificate first seen in use) are committed on their own.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from testbed.ehr.store import Capacity
from testbed.errors import LiveError
from testbed.inventory import DeviceJournal, InventoryEntry
from testbed.live.store_clinical import CLINICAL_SCHEMA, IDP_KEYS, keep_clinical
from testbed.live.store_codec import entry_from_json, entry_json
from testbed.live.store_records import KeyFiles, SqliteRecords
from testbed.pki.records import CertificateRecords

if TYPE_CHECKING:
    from testbed.clinical import Clinical

__all__ = ["DATABASE", "KEYS", "SqliteStore", "set_aside"]

DATABASE = "hospital.db"
"""The store's database file in the state directory."""
KEYS = "ca-keys"
"""The directory of the CA's private keys in the state directory."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS hospital (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS devices (device_id TEXT PRIMARY KEY, entry TEXT NOT NULL);
"""


def set_aside(root: Path) -> Path | None:
    """Move an earlier hospital's database and keys into ``root/earlier-<time>/`` (for
    ``testbed serve --new``); where they went, or None when there was none."""
    database = root / DATABASE
    if not database.exists():
        return None
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    kept = root / f"earlier-{stamp}"
    kept.mkdir(mode=0o700)
    for name in (DATABASE, f"{DATABASE}-wal", f"{DATABASE}-shm", KEYS, IDP_KEYS):
        if (root / name).exists():
            (root / name).rename(kept / name)
    return kept


class SqliteStore:
    """A :class:`~testbed.store.HospitalStore` in ``root``'s ``hospital.db``.

    Open it with :meth:`open`; it is new (:attr:`created`) when the database did not
    exist.  One process at a time (``testbed serve`` holds the state directory's lock).
    """

    def __init__(
        self, db: sqlite3.Connection, root: Path, *, created: bool,
        fhir_capacity: Capacity | None = None,
    ) -> None:  # fmt: skip
        self._db = db
        self.root = root
        #: what each EHR service may hold (None: unbounded)
        self.fhir_capacity = fhir_capacity
        #: True when this store was made now (a new hospital), False when reopened
        self.created = created
        self._records = SqliteRecords(db, KeyFiles(root / KEYS))
        self._depth = 0
        self._crashed = False

    @classmethod
    def open(
        cls, root: Path, *, scenario: str, fhir_capacity: Capacity | None = None
    ) -> SqliteStore:
        """Open (or create) the store in ``root`` for the scenario named ``scenario``
        (``fhir_capacity``: what each EHR service may hold, None: unbounded).

        :class:`LiveError` when the database cannot be opened or belongs to a
        hospital of another scenario.
        """
        path = root / DATABASE
        created = not path.exists()
        try:
            if created:  # the database holds what the keys protect: owner only
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o600))
            db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.executescript(_SCHEMA + CLINICAL_SCHEMA)
        except (OSError, sqlite3.Error) as error:
            raise LiveError(f"{path}: cannot open the hospital's store ({error})") from None
        store = cls(db, root, created=created, fhir_capacity=fhir_capacity)
        store._claim(scenario)
        return store

    def _claim(self, scenario: str) -> None:
        kept = dict(self._db.execute("SELECT key, value FROM hospital").fetchall())
        if not kept:
            with self.transaction():
                now = datetime.now(UTC).isoformat()
                self._db.executemany(
                    "INSERT INTO hospital VALUES (?, ?)",
                    [("scenario", scenario), ("created", now),
                     ("id", secrets.token_hex(8))],
                )  # fmt: skip
            self.created = True
            return
        if kept.get("scenario") != scenario:
            raise LiveError(
                f"{self.root / DATABASE} holds a hospital of scenario {kept.get('scenario')!r},"
                f" not {scenario!r}; start a new one with `testbed serve --new`"
            )

    @property
    def identity(self) -> dict[str, str]:
        """The hospital's id, scenario and creation time."""
        return dict(self._db.execute("SELECT key, value FROM hospital").fetchall())

    # -- HospitalStore ------------------------------------------------------------

    @property
    def records(self) -> CertificateRecords:
        """The CA's records in this database."""
        return self._records

    @property
    def sqlite_records(self) -> SqliteRecords:
        """The same records, with the SQLite-only ways in (``add_der``)."""
        return self._records

    @property
    def journal(self) -> DeviceJournal:
        """This store: the inventory writes each changed entry here."""
        return self

    def save(self, entry: InventoryEntry) -> None:
        """Keep an inventory entry as it is now (joins the current transaction)."""
        self._db.execute(
            "INSERT INTO devices VALUES (?, ?) "
            "ON CONFLICT (device_id) DO UPDATE SET entry = excluded.entry",
            (entry.record.device_id, entry_json(entry)),
        )

    def keep_clinical(self, clinical: Clinical, *, now: datetime) -> None:
        """Give the IdP and the EHRs back what this database kept and journal them
        from now on (:mod:`testbed.live.store_clinical`), in one transaction."""
        with self.transaction():
            keep_clinical(clinical, self._db, KeyFiles(self.root / IDP_KEYS), now=now,
                          capacity=self.fhir_capacity)  # fmt: skip

    def kept_devices(self) -> Iterator[InventoryEntry]:
        """The kept inventory entries, in registration order."""
        for (text,) in self._db.execute("SELECT entry FROM devices ORDER BY rowid"):
            yield entry_from_json(text)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """A unit of work, committed (durably) when the outermost one ends.

        Committed however the block ends: the hospital's objects in memory changed
        as the block went, and the database must say the same.  A crash before the
        commit loses the whole unit, never part of it.
        """
        if self._depth == 0:
            self._db.execute("BEGIN IMMEDIATE")
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
            if self._depth == 0 and not self._crashed:
                self._db.execute("COMMIT")

    def close(self) -> None:
        """Close the database (everything answered is committed already)."""
        self._db.close()

    def crash(self) -> None:
        """Close the database without committing the transaction under way: what
        ``kill -9`` does to it (SQLite rolls it back).  For tests."""
        self._crashed = True
        self._db.close()

    def interrupt_after(self, steps: int) -> None:
        """Make a statement fail after about ``steps`` SQLite virtual-machine steps
        (a crash at a random point inside an operation; 0: never).  For tests."""
        if steps <= 0:
            self._db.set_progress_handler(None, 0)
        else:
            self._db.set_progress_handler(lambda: 1, steps)
