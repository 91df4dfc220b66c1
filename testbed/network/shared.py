"""Shared credentials: the department accounts of a ``credentials: shared`` design (seed §9,
row 1: a flat network with shared credentials).

One credential per department (the devices' ``owner``), handed to each of its devices
when it is onboarded instead of a certificate: no enrollment, no renewal, nothing a CA
outage can stop.  Whoever presents it is the department to the network (NAC admits
by it) and to the services; nothing in it says which device presents it, so a
department's devices cannot be told apart, and offboarding one device cannot take
its credential back without taking it from every device of the department: that is
:meth:`SharedCredentials.rotate`, a new credential for the department, which its
other devices must each be given by hand (an operator's ``rotate-shared-credential``;
until a device has it, it is refused).  Revoking a device (an operator's ``revoke``)
is recorded here, and changes nothing any service checks.  The ground-truth oracle still knows the
device, and counts what a retired, suspended or revoked one gets through with it
(:mod:`testbed.oracle`).

A credential is derived from the trust domain and the department (SHA-256), so runs
stay deterministic and the run's random draws are not touched.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Protocol

from testbed.revision import Revision

__all__ = ["SharedCredentials", "Vouched"]


class Vouched(Protocol):
    """What presents a credential (an :class:`~testbed.access.Attempt`)."""

    @property
    def shared_credential(self) -> str | None:
        """The shared credential presented (None: none)."""
        ...


class SharedCredentials:
    """The departments' shared credentials of one hospital."""

    def __init__(self, trust_domain: str, revision: Revision | None = None) -> None:
        self.trust_domain = trust_domain
        self._issued: dict[str, str] = {}
        self._generation: dict[str, int] = {}
        self._valid: set[str] = set()
        self._revoked: dict[str, datetime] = {}
        self._holders: set[str] = set()
        self._revision = revision if revision is not None else Revision()
        #: moves with every rotation and revocation (what the ground truth reads of a
        #: device's shared credential may change: :class:`~testbed.oracle.Oracle`)
        self.changes = 0

    def issue(self, department: str) -> str:
        """The credential of ``department`` (the same one for each of its devices)."""
        credential = self._issued.get(department)
        if credential is None:
            credential = self._derive(department, 0)
            self._issued[department] = credential
            self._generation[department] = 0
            self._valid.add(credential)
        return credential

    def give(self, device_id: str, department: str) -> str:
        """``department``'s current credential, handed to ``device_id`` (recorded)."""
        self._holders.add(device_id)
        return self.issue(department)

    def holds(self, device_id: str) -> bool:
        """Whether ``device_id`` was ever handed a shared credential."""
        return device_id in self._holders

    def rotate(self, department: str) -> str:
        """A new credential for ``department``; the one it replaces is no department's
        from now on, for every device that still presents it (the access decisions'
        revision moves).  The new credential."""
        self._valid.discard(self.issue(department))
        generation = self._generation[department] + 1
        credential = self._derive(department, generation)
        self._issued[department] = credential
        self._generation[department] = generation
        self._valid.add(credential)
        self._revision.bump()
        self.changes += 1
        return credential

    def generation(self, department: str) -> int:
        """How many times ``department``'s credential was rotated."""
        return self._generation.get(department, 0)

    def _derive(self, department: str, generation: int) -> str:
        suffix = f":{generation}" if generation else ""
        text = f"{self.trust_domain}:shared-credential:{department}{suffix}".encode()
        return hashlib.sha256(text).hexdigest()[:32]

    def valid(self, credential: str | None) -> bool:
        """Whether ``credential`` is one of the departments' credentials."""
        return credential is not None and credential in self._valid

    def vouches(self, attempt: Vouched) -> bool:
        """Whether ``attempt`` presents a valid shared credential."""
        return self.valid(attempt.shared_credential)

    def revoke(self, device_id: str, *, now: datetime) -> None:
        """An operator revoked ``device_id``'s access at ``now`` (the first time counts):
        its department's credential stays valid, for it too."""
        self._revoked.setdefault(device_id, now)
        self.changes += 1

    def revoked_at(self, device_id: str) -> datetime | None:
        """When an operator revoked ``device_id``'s access (None: never)."""
        return self._revoked.get(device_id)
