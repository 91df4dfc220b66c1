"""Certificate verification at a site, at clock time: validity, chain, revocation.

The chain is checked by ``cryptography``'s path validation against the site's
:class:`~testbed.pki.trust.TrustBundle`; revocation by the testbed itself against
:attr:`PublishedCrl.serials <testbed.pki.revocation.PublishedCrl.serials>`, because
``cryptography``'s verifier does not check revocation.  A missing or stale CRL fails
closed (:attr:`Reason.REVOCATION_UNKNOWN`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from cryptography import x509
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from testbed.clock import isoformat
from testbed.decisions import Decision, Hop, Reason
from testbed.pki.keys import common_name
from testbed.pki.revocation import PublishedCrl
from testbed.pki.trust import TrustBundle, split_anchors

__all__ = ["Verifier", "bundle_index", "derive_facts"]

_MAX_DEPTH = 8
_ALLOW_TLS = Decision.allow(Hop.TLS)
_Key = tuple[int, x509.Name, bytes]  # (leaf serial, leaf issuer name, bundle fingerprint)


class _Window(NamedTuple):
    """The validity window of one certificate on the leaf's path."""

    label: str
    not_before: datetime
    not_after: datetime


class _Facts(NamedTuple):
    """What one (leaf, bundle) pair fixes: the issuer, the windows, the chain error."""

    issuer: str
    serial: int
    windows: tuple[_Window, ...]
    reference_time: datetime  # the latest notBefore on the path
    chain_error: str | None
    valid_until: datetime  # the earliest notAfter on the path
    chain_checked: bool = True  # False: path validation not run yet (``chain_error`` unset)


@dataclass(frozen=True, slots=True)
class _Index:
    """A bundle split for path building: store, intermediates, certificates by subject.

    ``paths`` keeps, per (leaf issuer name, leaf Authority Key Identifier), the
    windows of the bundle CAs that can sit on a path from such a leaf, and ``names``
    the display name of each issuer: both depend on the bundle, not on the leaf.
    """

    store: Store | None
    intermediates: list[x509.Certificate]
    by_subject: dict[x509.Name, list[x509.Certificate]]
    ski: dict[x509.Certificate, bytes | None]
    paths: dict[tuple[x509.Name, bytes | None], tuple[_Window, ...]] = field(
        default_factory=dict
    )
    names: dict[x509.Name, str] = field(default_factory=dict)


def _label(certificate: x509.Certificate) -> str:
    kind = "root CA" if certificate.subject == certificate.issuer else "issuing CA"
    name = common_name(certificate.subject) or certificate.subject.rfc4514_string()
    return f"{kind} {name!r}"


def _key_id(certificate: x509.Certificate, kind: type[x509.ExtensionType]) -> bytes | None:
    try:
        value = certificate.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None
    if isinstance(value, x509.SubjectKeyIdentifier):
        return value.digest
    if isinstance(value, x509.AuthorityKeyIdentifier):
        return value.key_identifier
    return None


def bundle_index(certificates: tuple[x509.Certificate, ...]) -> _Index:
    """A bundle's certificates split for path building (store, intermediates, by name)."""
    by_subject: dict[x509.Name, list[x509.Certificate]] = {}
    for certificate in certificates:
        by_subject.setdefault(certificate.subject, []).append(certificate)
    roots, intermediates = split_anchors(certificates)
    ski = {c: _key_id(c, x509.SubjectKeyIdentifier) for c in certificates}
    return _Index(Store(roots) if roots else None, intermediates, by_subject, ski)


def _index(bundle: TrustBundle) -> _Index:
    return bundle_index(bundle.certificates)


def _issuers(child: x509.Certificate, index: _Index) -> list[x509.Certificate]:
    """Bundle certificates that may have signed ``child``: same name, matching key id."""
    wanted = _key_id(child, x509.AuthorityKeyIdentifier)
    candidates = index.by_subject.get(child.issuer, [])
    if wanted is None:
        return [c for c in candidates if c != child]
    return [c for c in candidates if c != child and index.ski[c] == wanted]


def _path_cas(leaf: x509.Certificate, index: _Index) -> list[x509.Certificate]:
    """Every bundle CA that can sit on a path from ``leaf`` (breadth-first, bounded)."""
    found: list[x509.Certificate] = []
    frontier = [leaf]
    for _ in range(_MAX_DEPTH):
        frontier = [i for c in frontier for i in _issuers(c, index) if i not in found]
        if not frontier:
            break
        found.extend(frontier)
    return found


def _window(certificate: x509.Certificate, label: str) -> _Window:
    return _Window(label, certificate.not_valid_before_utc, certificate.not_valid_after_utc)


def _window_denial(windows: tuple[_Window, ...], now: datetime) -> Decision | None:
    for window in windows:
        if now < window.not_before:
            detail = f"{window.label} is not valid before {isoformat(window.not_before)}"
            return Decision.deny(Reason.CERT_NOT_YET_VALID, Hop.TLS, detail)
        if now > window.not_after:
            detail = f"{window.label} expired at {isoformat(window.not_after)}"
            return Decision.deny(Reason.CERT_EXPIRED, Hop.TLS, detail)
    return None


def _chain_error(leaf: x509.Certificate, index: _Index, at: datetime) -> str | None:
    if index.store is None:
        return "the site holds no trust anchors (trust bundle missing or empty)"
    verifier = PolicyBuilder().store(index.store).time(at).build_client_verifier()
    try:
        verifier.verify(leaf, index.intermediates)
    except VerificationError as error:
        return str(error)
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
    the leaf's path (the same reasons, the detail names the CA); path validation fails
    (CERT_UNTRUSTED_AT_SITE, the detail is the verifier's message); CRL missing, from
    another issuer, stale or not yet valid (REVOCATION_UNKNOWN, fail closed); serial on the CRL
    (CERT_REVOKED); otherwise allowed.

    **What is cached.**  With ``cache=True`` the outcome of ``cryptography``'s path
    validation is cached per ``(leaf serial, leaf issuer name, bundle fingerprint)``
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
    CAs; a leaf is identified by serial and issuer name (serials are random 159-bit
    numbers).  ``max_entries`` bounds the cache, which is cleared when full.  In front
    of it sits a look-up by certificate object (``id``, checked with ``is``; the entry
    holds the object so its id cannot be reused), because decoding the serial and the
    issuer name from the certificate again costs more than the rest of a decision.
    Every call first compares ``now`` with the path's latest notBefore and earliest
    notAfter and walks the windows only when it lies outside, for the reason.
    """

    def __init__(self, *, cache: bool = True, max_entries: int = 1_000_000) -> None:
        self.cache = cache
        self.max_entries = max_entries
        self._facts: dict[_Key, _Facts] = {}
        self._seen: dict[tuple[int, bytes], tuple[x509.Certificate, _Facts]] = {}
        self._indexes: dict[bytes, _Index] = {}

    def verify(
        self,
        leaf: x509.Certificate | None,
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
            error = _chain_error(leaf, _index(bundle), now)
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

    def _lookup(self, leaf: x509.Certificate, bundle: TrustBundle) -> _Facts:
        if not self.cache:
            return self._derive(leaf, _index(bundle), chain=False)
        # first by object: reading the serial and issuer name back from the
        # certificate costs more than the rest of the decision
        fingerprint = bundle.fingerprint
        seen = self._seen.get((id(leaf), fingerprint))
        if seen is not None and seen[0] is leaf:
            return seen[1]
        if len(self._seen) >= self.max_entries or len(self._facts) >= self.max_entries:
            self._seen.clear()
            self._facts.clear()
            self._indexes.clear()
        # the chain facts depend on the leaf and the bundle's contents, not on which site
        # holds that bundle: identical bundles at ten sites share one path validation
        key = (leaf.serial_number, leaf.issuer, fingerprint)
        facts = self._facts.get(key)
        if facts is None:
            # path validation waits until a call needs it: a leaf refused for its
            # validity window (an expired test certificate) never does
            facts = self._facts[key] = self._derive(leaf, self._bundle_index(bundle), chain=False)
        # the entry holds the leaf, so its id cannot be reused while the entry exists
        self._seen[(id(leaf), fingerprint)] = (leaf, facts)
        return facts

    def _check_chain(self, leaf: x509.Certificate, bundle: TrustBundle, facts: _Facts) -> _Facts:
        """Run the path validation a miss left for later (first needed now); keep it."""
        error = _chain_error(leaf, self._bundle_index(bundle), facts.reference_time)
        checked = facts._replace(chain_error=error, chain_checked=True)
        self._facts[(facts.serial, leaf.issuer, bundle.fingerprint)] = checked
        self._seen[(id(leaf), bundle.fingerprint)] = (leaf, checked)
        return checked

    def _bundle_index(self, bundle: TrustBundle) -> _Index:
        index = self._indexes.get(bundle.fingerprint)
        if index is None:
            index = self._indexes[bundle.fingerprint] = _index(bundle)
        return index

    @staticmethod
    def _derive(leaf: x509.Certificate, index: _Index, *, chain: bool) -> _Facts:
        return derive_facts(leaf, index, chain=chain)


def derive_facts(leaf: x509.Certificate, index: _Index, *, chain: bool = True) -> _Facts:
    """What a (leaf, bundle) pair fixes: the path's windows and, if ``chain``, its error."""
    issuer_name = leaf.issuer
    windows = (_window(leaf, "the leaf"), *_ca_windows(leaf, issuer_name, index))
    reference = max(w.not_before for w in windows)
    until = min(w.not_after for w in windows)
    error = _chain_error(leaf, index, reference) if chain else None
    issuer = index.names.get(issuer_name)
    if issuer is None:
        issuer = common_name(issuer_name) or issuer_name.rfc4514_string()
        index.names[issuer_name] = issuer
    return _Facts(issuer, leaf.serial_number, windows, reference, error, until, chain)


def _ca_windows(
    leaf: x509.Certificate, issuer_name: x509.Name, index: _Index
) -> tuple[_Window, ...]:
    """The windows of the bundle CAs that can sit on a path from ``leaf``.

    The first step from a leaf reads only its issuer name and Authority Key
    Identifier, and every later step only bundle CAs, so leaves that share those two
    share the answer (kept in ``index.paths``); a leaf that is itself one of the
    bundle's certificates is worked out on its own.
    """
    if leaf in index.ski:
        return tuple(_window(c, _label(c)) for c in _path_cas(leaf, index))
    key = (issuer_name, _key_id(leaf, x509.AuthorityKeyIdentifier))
    windows = index.paths.get(key)
    if windows is None:
        windows = tuple(_window(c, _label(c)) for c in _path_cas(leaf, index))
        index.paths[key] = windows
    return windows
