"""Certificate verification at a site, at clock time: validity, chain, revocation.

The chain is checked by the run's :class:`~testbed.pki.fidelity.Artefacts` against the
site's :class:`~testbed.pki.trust.TrustBundle` (``cryptography``'s path validation at
full fidelity, names and key identifiers when modeled); revocation by the testbed
itself against :attr:`PublishedCrl.serials <testbed.pki.revocation.PublishedCrl.serials>`,
because ``cryptography``'s verifier does not check revocation.  A missing or stale
CRL fails closed (:attr:`Reason.REVOCATION_UNKNOWN`).
"""

from __future__ import annotations

from collections.abc import Hashable
from datetime import datetime

from testbed.clock import isoformat
from testbed.decisions import Decision, Hop, Reason
from testbed.pki.fidelity import Artefacts, LeafCertificate, PathFacts, PathWindow
from testbed.pki.full import FullArtefacts
from testbed.pki.revocation import PublishedCrl
from testbed.pki.trust import TrustBundle

__all__ = ["Verifier"]

_ALLOW_TLS = Decision.allow(Hop.TLS)
_Key = tuple[Hashable, bytes]  # (the leaf, by value: its exact DER; bundle fingerprint)


def _window_denial(windows: tuple[PathWindow, ...], now: datetime) -> Decision | None:
    for window in windows:
        if now < window.not_before:
            detail = f"{window.label} is not valid before {isoformat(window.not_before)}"
            return Decision.deny(Reason.CERT_NOT_YET_VALID, Hop.TLS, detail)
        if now > window.not_after:
            detail = f"{window.label} expired at {isoformat(window.not_after)}"
            return Decision.deny(Reason.CERT_EXPIRED, Hop.TLS, detail)
    return None


def _revocation_denial(
    serial: int, issuer: str, crl: PublishedCrl | None, now: datetime
) -> Decision | None:
    if crl is None:
        return Decision.deny(Reason.REVOCATION_UNKNOWN, Hop.TLS, f"no CRL for {issuer!r}")
    if crl.issuer != issuer:
        detail = f"the CRL is from {crl.issuer!r}, not from the leaf's issuer {issuer!r}"
        return Decision.deny(Reason.REVOCATION_UNKNOWN, Hop.TLS, detail)
    if crl.is_stale(now):
        detail = f"the CRL of {issuer!r} is past its nextUpdate {isoformat(crl.next_update)}"
        return Decision.deny(Reason.REVOCATION_UNKNOWN, Hop.TLS, detail)
    if now < crl.this_update:  # as openssl's "CRL is not yet valid" (error 11)
        detail = f"the CRL of {issuer!r} is not valid before {isoformat(crl.this_update)}"
        return Decision.deny(Reason.REVOCATION_UNKNOWN, Hop.TLS, detail)
    if serial in crl.serials:
        detail = f"serial {serial:#x} is on the CRL of {issuer!r}"
        return Decision.deny(Reason.CERT_REVOKED, Hop.TLS, detail)
    return None


class Verifier:
    """Verifies a leaf for a site at ``now``: validity, chain, revocation (hop TLS).

    Reasons, in order: no leaf (CERT_MISSING); ``now`` outside the leaf's window
    (CERT_NOT_YET_VALID / CERT_EXPIRED); ``now`` outside the window of a bundle CA on
    the leaf's path (the same reasons, the detail names the CA); the chain check fails
    (CERT_UNTRUSTED_AT_SITE, the detail is its message); CRL missing, from
    another issuer, stale or not yet valid (REVOCATION_UNKNOWN, fail closed); serial on the CRL
    (CERT_REVOKED); otherwise allowed.

    The windows and the chain check come from ``artefacts`` (full fidelity unless
    told otherwise); everything else here is the same at every level.

    **What is cached.**  With ``cache=True`` the outcome of the chain check (at full
    fidelity ``cryptography``'s path validation) is cached per
    ``(leaf, bundle fingerprint)``, the leaf compared by value (a real certificate by
    its exact DER, signature included)
    (the fingerprint covers the bundle's contents, so identical bundles held by
    several sites share one validation), together with the validity windows of the leaf
    and of every bundle CA that can sit on its path (same subject as the child's
    issuer and, when the child has an Authority Key Identifier, the matching Subject
    Key Identifier).  Path validation runs once, at the reference time ``max`` of
    those certificates' notBefore, and only when a call first gets past the window
    checks (a leaf refused for its window never needs it).  Every call still checks
    ``now`` against all those windows in Python, and the CRL is never cached.

    **Why it is equivalent.**  Path validation has no time input other than the
    validity windows (it does not check revocation).  A call reaches the chain result
    only when ``now`` lies inside every window on the path; the reference time then
    lies inside them too (it is at most ``now``, and at least every notBefore), so
    validation at the reference time and at ``now`` see every certificate valid and
    agree.  Candidates whose key identifiers do not match cannot complete a path at
    any time.  ``Verifier(cache=False)`` runs the same window checks and validates
    the path at ``now``; ``tests/unit/pki/test_verify.py`` checks they agree.  The
    bundle fingerprint (a digest of its content) is in the key because site and
    version alone do not identify the content across trust distributions of different
    CAs; a leaf is identified by its whole content, so a copy with another signature
    (tampered) or from another key under the same serial and issuer name is another
    entry, validated on its own.  ``max_entries`` bounds the cache, which is cleared
    when full.  In front of it sits a look-up by certificate object (``id``, checked
    with ``is``; the entry holds the object so its id cannot be reused), because
    hashing the certificate's content costs more than the rest of a decision.
    Every call first compares ``now`` with the path's latest notBefore and earliest
    notAfter and walks the windows only when it lies outside, for the reason.
    """

    def __init__(
        self,
        *,
        cache: bool = True,
        max_entries: int = 1_000_000,
        artefacts: Artefacts | None = None,
    ) -> None:
        self.cache = cache
        self.max_entries = max_entries
        self.artefacts: Artefacts = artefacts if artefacts is not None else FullArtefacts()
        self._facts: dict[_Key, PathFacts] = {}
        self._seen: dict[tuple[int, bytes], tuple[LeafCertificate, PathFacts]] = {}

    def verify(
        self,
        leaf: LeafCertificate | None,
        *,
        bundle: TrustBundle,
        crl: PublishedCrl | None,
        now: datetime,
    ) -> Decision:
        """The TLS-hop decision on ``leaf`` at ``now`` for the site holding ``bundle``."""
        if leaf is None:
            return Decision.deny(Reason.CERT_MISSING, Hop.TLS, "no client certificate")
        facts = self._lookup(leaf, bundle)
        if not facts.reference_time <= now <= facts.valid_until:
            denial = _window_denial(facts.windows, now)
            if denial is not None:
                return denial
        if not self.cache:
            error = self.artefacts.chain_error(leaf, bundle, at=now)
        elif facts.chain_checked:
            error = facts.chain_error
        else:
            error = self._check_chain(leaf, bundle, facts).chain_error
        if error is not None:
            detail = f"not trusted at site {bundle.site!r}: {error}"
            return Decision.deny(Reason.CERT_UNTRUSTED_AT_SITE, Hop.TLS, detail)
        if (
            crl is not None
            and crl.issuer == facts.issuer
            and crl.this_update <= now <= crl.next_update
            and facts.serial not in crl.serials
        ):
            return _ALLOW_TLS  # the common case, decided as _revocation_denial would
        revoked = _revocation_denial(facts.serial, facts.issuer, crl, now)
        return revoked if revoked is not None else _ALLOW_TLS

    def forget_expired(self, now: datetime) -> int:
        """Drop what is cached of paths that expired before ``now`` (how many entries).

        Nothing a later call decides changes: an expired path is refused on its window
        before the chain result is read, and its windows are derived again if it is
        ever presented.  Frees the certificates only the cache still held.
        """
        # deleted in place: rebuilding the dicts would hash every key again (a key
        # holds the issuer's x509.Name, whose hash is computed in Python each time)
        seen = [k for k, v in self._seen.items() if v[1].valid_until < now]
        for k in seen:
            del self._seen[k]
        paths = [k for k, v in self._facts.items() if v.valid_until < now]
        for path in paths:
            del self._facts[path]
        return len(seen) + len(paths)

    def valid_until(self, leaf: LeafCertificate, bundle: TrustBundle) -> datetime:
        """The earliest notAfter on ``leaf``'s path under ``bundle`` (its last valid moment
        at this site, nothing else changing)."""
        return self._lookup(leaf, bundle).valid_until

    def _lookup(self, leaf: LeafCertificate, bundle: TrustBundle) -> PathFacts:
        if not self.cache:
            return self._derive(leaf, bundle)
        # first by object: reading the serial and issuer name back from the
        # certificate costs more than the rest of the decision
        fingerprint = bundle.fingerprint
        seen = self._seen.get((id(leaf), fingerprint))
        if seen is not None and seen[0] is leaf:
            return seen[1]
        if len(self._seen) >= self.max_entries or len(self._facts) >= self.max_entries:
            self._seen.clear()
            self._facts.clear()
        # the chain facts depend on the leaf and the bundle's contents, not on which site
        # holds that bundle: identical bundles at ten sites share one path validation
        key = (leaf, fingerprint)
        facts = self._facts.get(key)
        if facts is None:
            # path validation waits until a call needs it: a leaf refused for its
            # validity window (an expired test certificate) never does
            facts = self._facts[key] = self._derive(leaf, bundle)
        # the entry holds the leaf, so its id cannot be reused while the entry exists
        self._seen[(id(leaf), fingerprint)] = (leaf, facts)
        return facts

    def _check_chain(
        self, leaf: LeafCertificate, bundle: TrustBundle, facts: PathFacts
    ) -> PathFacts:
        """Run the chain check a miss left for later (first needed now); keep it."""
        error = self.artefacts.chain_error(leaf, bundle, at=facts.reference_time)
        checked = facts._replace(chain_error=error, chain_checked=True)
        self._facts[(leaf, bundle.fingerprint)] = checked
        self._seen[(id(leaf), bundle.fingerprint)] = (leaf, checked)
        return checked

    def _derive(self, leaf: LeafCertificate, bundle: TrustBundle) -> PathFacts:
        """The path's windows; the chain check waits until a call needs it."""
        return self.artefacts.path_facts(leaf, bundle, chain=False)
