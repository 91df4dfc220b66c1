"""What a certificate authority issues and revokes, as values.

An :class:`IssuingCA` is one generation of an issuing CA; an :class:`IssuanceRecord`
the ownership metadata of one leaf it signed (who asked, for which device and
services, what happens at expiry); a :class:`Revocation` when and why a serial was
revoked.  The CA (:mod:`testbed.pki.ca`) makes them, its records
(:mod:`testbed.pki.records`, live mode's store) keep them, and the artefacts of either
fidelity (:mod:`testbed.pki.fidelity`) read them.  They live apart from the CA so that
its records import them at run time without an import cycle (a dataclass's field
types must resolve when it is built, compiled with mypyc: :mod:`benchmarks.compiled`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cryptography import x509

from testbed.pki.keys import PrivateKey

__all__ = ["IssuanceRecord", "IssuingCA", "Revocation"]


@dataclass(frozen=True, slots=True)
class IssuanceRecord:
    """Ownership metadata of one issued leaf certificate."""

    serial: int
    device_id: str
    site: str
    issuer: str
    spiffe_id: str
    requester: str
    services: tuple[str, ...]
    on_expiry: str
    not_before: datetime
    not_after: datetime
    renewal_of: int | None


@dataclass(frozen=True, slots=True)
class IssuingCA:
    """One generation of an issuing CA; ``site`` is None for the central one."""

    name: str
    site: str | None
    certificate: x509.Certificate
    key: PrivateKey
    generation: int
    active_from: datetime


@dataclass(frozen=True, slots=True)
class Revocation:
    """When and why a serial was revoked."""

    serial: int
    time: datetime
    reason: x509.ReasonFlags
