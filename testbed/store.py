"""The hospital's memory: what a :class:`~testbed.hospital.Hospital` keeps, and where.

A :class:`HospitalStore` gives the hospital's services somewhere to keep what they
did: the CA's :class:`~testbed.pki.records.CertificateRecords` (its keys, leaves,
revocations, CRL numbers), the inventory's :class:`~testbed.inventory.DeviceJournal`
(every device entry as it changes), the entries kept by an earlier run, the identity
provider's and the EHRs' journals (:meth:`~HospitalStore.keep_clinical`), and a
:meth:`~HospitalStore.transaction`: a unit of work that a transport wraps around
every operation it answers, so that an answer promising success leaves only once
what it did is kept.

:class:`MemoryStore` (here) keeps nothing beyond the process: the simulation and the
tests use it, and it changes no decision and no event.  Live mode uses the SQLite
store of :mod:`testbed.live.store`, so ``testbed serve`` survives a restart or
``kill -9``.  The services are written once, against the protocol.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Protocol

from testbed.pki.records import CertificateRecords, MemoryRecords

if TYPE_CHECKING:
    from datetime import datetime

    from testbed.clinical import Clinical
    from testbed.inventory import DeviceJournal, InventoryEntry

__all__ = ["HospitalStore", "MemoryStore"]


class HospitalStore(Protocol):
    """Where one hospital keeps its CA and its inventory."""

    @property
    def records(self) -> CertificateRecords:
        """The CA's records."""
        ...

    @property
    def journal(self) -> DeviceJournal | None:
        """Where the inventory writes changed entries (None: nowhere)."""
        ...

    def kept_devices(self) -> Iterable[InventoryEntry]:
        """The inventory entries an earlier run kept, in registration order."""
        ...

    def transaction(self) -> AbstractContextManager[None]:
        """A unit of work: what happens inside is kept when it ends (all or nothing)."""
        ...

    def keep_clinical(self, clinical: Clinical, *, now: datetime) -> None:
        """Keep the identity provider and the EHRs from now on (their journals), after
        giving them back what an earlier run kept, if it kept them."""
        ...


class MemoryStore:
    """A :class:`HospitalStore` in memory (the simulation's)."""

    def __init__(self) -> None:
        self._records = MemoryRecords()

    @property
    def records(self) -> CertificateRecords:
        """The CA's records, in dictionaries."""
        return self._records

    @property
    def journal(self) -> DeviceJournal | None:
        """None: the inventory's own dictionary is all there is."""
        return None

    def kept_devices(self) -> Iterable[InventoryEntry]:
        """Nothing: every simulation starts a new hospital."""
        return ()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Nothing to make durable."""
        yield

    def keep_clinical(self, clinical: Clinical, *, now: datetime) -> None:
        """Nothing: the IdP and the EHRs live in memory only."""
