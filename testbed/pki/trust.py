"""Per-site trust bundles and their distribution delay.

A trust bundle is what a site's relying parties hold: the root and the issuing CA
certificates.  When the CA changes (a key rotation), :meth:`TrustDistribution.publish`
sends its current set; it reaches each site ``delay`` later.  Faults:
:meth:`~TrustDistribution.withhold` (the site's bundle is missing: it holds no
certificates and takes nothing new) and :meth:`~TrustDistribution.stale` (the site
keeps the version it holds at that moment and takes nothing new), ended by
:meth:`~TrustDistribution.release` and :meth:`~TrustDistribution.thaw`; arrivals
that came due in between then apply.  Faults of one kind may overlap: the site
recovers when the last one ends.

What a site holds is a function of the time and of the faults alone, never of
when someone last looked: an arrival applies at its time even if no one read the
bundle in between (a stale fault freezes what had arrived by its start).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from testbed.errors import PkiError
from testbed.pki.ca import CertificateAuthority
from testbed.revision import Revision

__all__ = ["MISSING_VERSION", "TrustBundle", "TrustDistribution", "split_anchors"]

MISSING_VERSION = 0
"""The version of a missing (withheld) bundle; real bundles count from 1."""


def split_anchors(
    certificates: Iterable[x509.Certificate],
) -> tuple[list[x509.Certificate], list[x509.Certificate]]:
    """Self-signed certificates (trust anchors) and the others (issuing CAs), in order."""
    roots: list[x509.Certificate] = []
    others: list[x509.Certificate] = []
    for certificate in certificates:
        (roots if certificate.subject == certificate.issuer else others).append(certificate)
    return roots, others


@dataclass(frozen=True, slots=True)
class TrustBundle:
    """The CA certificates one site's relying parties trust, at one version.

    ``fingerprint`` (SHA-256 over the certificates' DER, computed once) identifies the
    content, so that caches keyed by it never confuse bundles of different CAs that
    happen to share a site name and version.
    """

    site: str
    version: int
    certificates: tuple[x509.Certificate, ...]
    updated_at: datetime
    missing: bool = False
    fingerprint: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        digest = hashlib.sha256()
        for certificate in self.certificates:
            digest.update(certificate.public_bytes(serialization.Encoding.DER))
        object.__setattr__(self, "fingerprint", digest.digest())

    @property
    def roots(self) -> list[x509.Certificate]:
        """The self-signed certificates (trust anchors)."""
        return split_anchors(self.certificates)[0]

    @property
    def intermediates(self) -> list[x509.Certificate]:
        """The certificates that are not self-signed (issuing CAs)."""
        return split_anchors(self.certificates)[1]

    def pem(self) -> bytes:
        """Every certificate of the bundle, PEM-encoded and concatenated."""
        return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in self.certificates)


@dataclass(slots=True)
class _SiteState:
    bundle: TrustBundle
    arrivals: list[tuple[datetime, tuple[x509.Certificate, ...]]] = field(default_factory=list)
    withheld: int = 0  # active withhold faults
    frozen: int = 0  # active stale faults


class TrustDistribution:
    """Delivers the CA's certificate set to each site, ``delay`` after publication."""

    def __init__(
        self,
        *,
        ca: CertificateAuthority,
        sites: Sequence[str],
        delay: timedelta,
        now: datetime,
        revision: Revision | None = None,
    ) -> None:
        self.revision = revision or Revision()
        if delay < timedelta(0):
            raise PkiError(f"trust distribution delay must not be negative, got {delay}")
        self._ca = ca
        self._delay = delay
        current = self._current_set(now)
        self._sites = {s: _SiteState(TrustBundle(s, 1, current, now)) for s in sites}

    def _current_set(self, now: datetime) -> tuple[x509.Certificate, ...]:
        issuing = self._ca.issuing_cas(now=now)
        return (self._ca.root, *(i.certificate for i in issuing))

    def _state(self, site: str) -> _SiteState:
        try:
            return self._sites[site]
        except KeyError:
            raise PkiError(f"unknown site {site!r}; trust goes to {sorted(self._sites)}") from None

    def publish(self, *, now: datetime) -> datetime:
        """Send the CA's current set to every site; returns when it arrives."""
        arrival = now + self._delay
        current = self._current_set(now)
        for state in self._sites.values():
            state.arrivals.append((arrival, current))
        self.revision.bump()
        return arrival

    def bundle(self, site: str, *, now: datetime) -> TrustBundle:
        """The bundle ``site`` holds at ``now`` (version 0 and empty while withheld)."""
        state = self._state(site)
        if state.withheld:
            return TrustBundle(site, MISSING_VERSION, (), state.bundle.updated_at, missing=True)
        if not state.frozen:
            self._apply_arrivals(state, now)
        return state.bundle

    def deliver_now(self, *, now: datetime) -> dict[str, TrustBundle]:
        """An operator pushes every bundle on its way to the sites now, instead of
        waiting for the distribution delay; the bundles of the sites that took one (a
        site whose bundle is withheld or stale takes it when that fault ends)."""
        delivered = {}
        for site, state in self._sites.items():
            if not state.arrivals:
                continue
            state.arrivals = [(min(arrival, now), certs) for arrival, certs in state.arrivals]
            if not (state.withheld or state.frozen):
                self._apply_arrivals(state, now)
                delivered[site] = state.bundle
        self.revision.bump()
        return delivered

    def next_arrival(self, site: str) -> datetime | None:
        """When the next bundle on its way to ``site`` arrives (None: none is)."""
        arrivals = self._state(site).arrivals
        return arrivals[0][0] if arrivals else None

    @staticmethod
    def _apply_arrivals(state: _SiteState, now: datetime) -> None:
        while state.arrivals and state.arrivals[0][0] <= now:
            arrival, certificates = state.arrivals.pop(0)
            old = state.bundle
            state.bundle = TrustBundle(old.site, old.version + 1, certificates, arrival)

    def withhold(self, site: str) -> None:
        """Fault: the site's bundle goes missing; it holds nothing and takes nothing new."""
        self._state(site).withheld += 1
        self.revision.bump()

    def release(self, site: str, *, now: datetime) -> TrustBundle:
        """End one withhold fault; once none is left, arrivals due by ``now`` apply."""
        state = self._state(site)
        if state.withheld == 0:
            raise PkiError(f"the trust bundle of site {site!r} is not withheld")
        state.withheld -= 1
        self.revision.bump()
        return self.bundle(site, now=now)

    def stale(self, site: str, *, now: datetime) -> None:
        """Fault: the site keeps the version it holds at ``now`` and takes nothing new."""
        state = self._state(site)
        if not state.frozen:
            self._apply_arrivals(state, now)  # what had arrived by now is held
        state.frozen += 1
        self.revision.bump()

    def thaw(self, site: str, *, now: datetime) -> TrustBundle:
        """End one stale fault; once none is left, arrivals due by ``now`` apply."""
        state = self._state(site)
        if state.frozen == 0:
            raise PkiError(f"the trust bundle of site {site!r} is not stale")
        state.frozen -= 1
        self.revision.bump()
        return self.bundle(site, now=now)
