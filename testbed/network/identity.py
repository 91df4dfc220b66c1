"""Identity state at a scenario time: what each device holds when a question is asked.

A design's matrix decides a flow from places and the identities the source holds
(:class:`~testbed.network.matrix.Held`).  Asked without a time, the analysis assumes
every device holds what its design and profile give it.  Asked at a scenario time
(a :class:`Snapshot`, made by :func:`testbed.snapshot.snapshots` from a simulated run),
it reads the hospital's identity state at that moment instead:

- a device **not admitted** to the network (NAC: not yet registered, or offboarded)
  sends nothing: every flow from it is ``DENIED_OUT``;
- a device holds **its certificate** only while the certificate the inventory binds
  to it is inside its validity window and not revoked at the CA (the CA's own
  records, the ground truth the oracle judges by; a relying party's older CRL is the
  TLS hop's matter, not the network's);
- its **scopes** and **AE title** are honoured while its lifecycle state is active
  (registered through production: suspended and retired devices lose them);
- the **shared credential** cannot be taken back from one device: whoever holds a
  device holds it, at any time.  Under a ``credentials: shared`` design NAC admits by
  it too (:mod:`testbed.network.shared`), so a device once handed it (registered and
  past enrollment) stays on the network after offboarding.

So during a CA outage longer than the certificate lifetime, flows conditioned on a
valid device certificate close while flows under a shared credential stay open, and
after offboarding no flow from the device is accepted, unless the design's
credential is shared: then its flows stay as they were (stale access the oracle
counts in the run).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from testbed.lifecycle import ACTIVE_STATES, DeviceState
from testbed.network.design import CredentialIssuance, Design
from testbed.network.matrix import Disposition, Held, Verdict
from testbed.network.topology import Endpoint, Topology

if TYPE_CHECKING:
    from testbed.inventory import InventoryEntry
    from testbed.pki.ca import IssuanceRecord

#: the lifecycle states a device reaches by its enrollment (a credential handed to it)
_ENROLLED = frozenset({DeviceState.ENROLLED, DeviceState.VALIDATED, DeviceState.PRODUCTION})

__all__ = ["IdentitySource", "IdentityState", "Snapshot", "identity_state", "not_admitted"]


@dataclass(frozen=True, slots=True)
class IdentityState:
    """Which devices are on the network, hold a valid certificate, are active, and
    were handed a credential at some time (past the lifecycle's enrollment: under a
    shared design, they hold the department's shared credential for good)."""

    at: datetime
    admitted: frozenset[str]
    certified: frozenset[str]
    active: frozenset[str]
    enrolled: frozenset[str] = frozenset()

    def held(self, endpoint: Endpoint, design: Design) -> Held | None:
        """What ``endpoint`` holds under ``design`` at this time (None: a device the
        network does not admit); assets hold their service certificate (and, under a
        shared design, the departments' credentials they check)."""
        shared = design.credentials is CredentialIssuance.SHARED
        if not endpoint.is_device:
            return Held(certificate=True, shared=shared)
        device = endpoint.id
        if device not in self.admitted and not (shared and device in self.enrolled):
            return None
        own = not shared and device in self.certified
        active = device in self.active
        scopes = frozenset(endpoint.scopes) if active else frozenset()
        return Held(own, True, scopes, endpoint.ae_title and active)



@dataclass(frozen=True, slots=True)
class Snapshot:
    """A hospital's endpoints and their identity state at one scenario time; the
    analysis functions take it wherever they take a hospital."""

    topology: Topology
    identity: IdentityState

    @property
    def at(self) -> datetime:
        """The scenario time of the snapshot."""
        return self.identity.at


def not_admitted(endpoint: Endpoint, at: datetime | None) -> Verdict:
    """The verdict on every flow from a device the network does not admit."""
    when = "" if at is None else f" at {at:%Y-%m-%d %H:%M}"
    detail = (f"{endpoint.id} is not admitted to the network{when} "
              "(not registered yet, or offboarded)")  # fmt: skip
    return Verdict(Disposition.DENIED_OUT, "nac", None, detail)


class IdentitySource(Protocol):
    """What :func:`identity_state` reads of a hospital (:class:`~testbed.hospital.Hospital`)."""

    @property
    def inventory(self) -> Iterable[InventoryEntry]:
        """The device records with their lifecycle and bound serial."""
        ...

    @property
    def nac(self) -> _Admits:
        """The devices admitted to the network."""
        ...

    @property
    def ca(self) -> _Records:
        """The CA's issuance records and revocations."""
        ...


class _Admits(Protocol):
    def __contains__(self, device_id: object) -> bool: ...


class _Records(Protocol):
    def record(self, serial: int) -> IssuanceRecord | None: ...

    def revoked_at(self, serial: int) -> datetime | None: ...


def identity_state(hospital: IdentitySource, *, now: datetime) -> IdentityState:
    """The identity state of ``hospital``'s devices at ``now`` (its clock's time)."""
    entries = list(hospital.inventory)
    ids = [e.record.device_id for e in entries]
    return IdentityState(
        at=now,
        admitted=frozenset(i for i in ids if i in hospital.nac),
        certified=frozenset(_certified(entries, hospital.ca, now)),
        active=frozenset(i for i, e in zip(ids, entries, strict=True)
                         if e.state in ACTIVE_STATES),
        enrolled=frozenset(i for i, e in zip(ids, entries, strict=True)
                           if any(state in _ENROLLED for _, state in e.history)),
    )  # fmt: skip


def _certified(entries: list[InventoryEntry], ca: _Records, now: datetime) -> Iterator[str]:
    for entry in entries:
        record = None if entry.serial is None else ca.record(entry.serial)
        if record is None or not record.not_before <= now <= record.not_after:
            continue
        revoked = ca.revoked_at(record.serial)
        if revoked is None or revoked > now:
            yield entry.record.device_id
