"""What the decision path reads from a leaf certificate, read from it once.

Every attribute of a ``cryptography`` certificate is decoded from DER on each access
(``serial_number`` builds a new integer, the validity dates new datetimes, the
issuer a new :class:`~cryptography.x509.Name`), and one access decision reads them
several times: the CRL look-up, the identity binding, the audit event and the
ground-truth oracle.  :class:`LeafCache` decodes them once per certificate *object*
and hands out the same :class:`LeafFacts` for as long as that object is in use.

The cache is keyed by ``id(certificate)`` and every entry holds its certificate, so
an id cannot be reused by another object while its entry exists; a hit also checks
identity (``is``).  It is bounded (cleared when full), so a long live run that
parses a new certificate object per TLS connection does not grow without limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from testbed.pki.fidelity import LeafCertificate

__all__ = ["LeafCache", "LeafFacts"]


@dataclass(frozen=True, slots=True)
class LeafFacts:
    """The fields of one certificate that access decisions read."""

    certificate: LeafCertificate
    serial: int
    serial_hex: str
    not_before: datetime
    not_after: datetime

    @classmethod
    def of(cls, certificate: LeafCertificate) -> LeafFacts:
        """Decode the fields from ``certificate``."""
        serial = certificate.serial_number
        return cls(
            certificate,
            serial,
            f"{serial:x}",
            certificate.not_valid_before_utc,
            certificate.not_valid_after_utc,
        )


class LeafCache:
    """:class:`LeafFacts` per certificate object, bounded by ``max_entries``."""

    def __init__(self, *, max_entries: int = 1_000_000) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, got {max_entries}")
        self.max_entries = max_entries
        self._by_id: dict[int, LeafFacts] = {}

    def facts(self, certificate: LeafCertificate) -> LeafFacts:
        """The facts of ``certificate`` (decoded on first sight of this object)."""
        hit = self._by_id.get(id(certificate))
        if hit is not None and hit.certificate is certificate:
            return hit
        if len(self._by_id) >= self.max_entries:
            self._by_id.clear()
        facts = self._by_id[id(certificate)] = LeafFacts.of(certificate)
        return facts

    def forget_expired(self, now: datetime) -> int:
        """Drop the facts of certificates that expired before ``now`` (how many); one
        presented again is decoded again."""
        gone = [k for k, f in self._by_id.items() if f.not_after < now]
        for k in gone:  # in place: most entries stay
            del self._by_id[k]
        return len(gone)

    def __len__(self) -> int:
        return len(self._by_id)
