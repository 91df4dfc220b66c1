"""Path facts of a real X.509 leaf under a trust bundle (full fidelity).

The chain is checked by ``cryptography``'s path validation against the bundle's
self-signed certificates (trust anchors) and its issuing CAs; the windows are those
of the leaf and of every bundle CA that can sit on a path from it (same subject as
the child's issuer and, when the child has an Authority Key Identifier, the
matching Subject Key Identifier).

**Anchored at an established issuing CA.**  A full path validation from a leaf
through an issuing CA up to a trust anchor checks two kinds of thing: the leaf (its
signature by the issuing CA, its window, its profile as an end entity) and the
issuing CA's own chain (its signature by the root, the CAs' profiles, their
windows).  Everything in the second part except the windows is the same for every
leaf the issuing CA signs.  So once a full validation under a bundle has succeeded
through an issuing CA (the chain ``cryptography`` returns), that CA is *established*
in the bundle's index, and the next leaf whose issuer name is that CA's subject is
first validated with that CA certificate as the only trust anchor (the leaf's
signature, window and profile: one signature check instead of two), at a time
strictly inside the window of every CA on the established chain.  Only success is
taken from it: it proves a full path exists (the leaf's part just now, the CAs' part
at the establishing validation, their windows just now).  Any failure, or a time
outside a CA's window, runs the full validation, so every refusal and its message
come from the full path.  A chain whose CAs carry any extension other than basic
constraints, key usage and the key identifiers (name constraints, policies, ...,
which could depend on the leaf) is never established.  The establishment lives in
the bundle's index, so it is keyed by the bundle's exact contents (its fingerprint)
and by the issuing CA certificate itself: a different key under the same name is
another certificate, a new bundle starts again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from cryptography import x509
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from testbed.pki.fidelity import PathFacts, PathWindow
from testbed.pki.keys import common_name

__all__ = [
    "Anchor",
    "BundleIndex",
    "bundle_index",
    "ca_label",
    "chain_error",
    "derive_facts",
    "key_identifier",
]

_MAX_DEPTH = 8

# the extensions of a CA on an established chain: none of them depends on the leaf
_PLAIN_CA_EXTENSIONS = frozenset(
    {
        x509.BasicConstraints.oid,
        x509.KeyUsage.oid,
        x509.SubjectKeyIdentifier.oid,
        x509.AuthorityKeyIdentifier.oid,
    }
)


class Anchor(NamedTuple):
    """An issuing CA whose chain a full validation under the bundle has established."""

    store: Store  # the issuing CA certificate as the only trust anchor
    windows: tuple[tuple[datetime, datetime], ...]  # every CA on its established chain


@dataclass(frozen=True, slots=True)
class BundleIndex:
    """A bundle split for path building: store, intermediates, certificates by subject.

    ``paths`` keeps, per (leaf issuer name, leaf Authority Key Identifier), the
    windows of the bundle CAs that can sit on a path from such a leaf, and ``names``
    the display name of each issuer: both depend on the bundle, not on the leaf.
    """

    store: Store | None
    intermediates: list[x509.Certificate]
    by_subject: dict[x509.Name, list[x509.Certificate]]
    ski: dict[x509.Certificate, bytes | None]
    paths: dict[tuple[x509.Name, bytes | None], tuple[PathWindow, ...]] = field(
        default_factory=dict
    )
    names: dict[x509.Name, str] = field(default_factory=dict)
    #: established issuing CAs by subject (see the module docstring), with the
    #: certificate itself
    anchors: dict[x509.Name, list[tuple[x509.Certificate, Anchor]]] = field(
        default_factory=dict
    )


def ca_label(certificate: x509.Certificate) -> str:
    """How a window names a CA: ``root CA '...'`` or ``issuing CA '...'``."""
    kind = "root CA" if certificate.subject == certificate.issuer else "issuing CA"
    name = common_name(certificate.subject) or certificate.subject.rfc4514_string()
    return f"{kind} {name!r}"


def key_identifier(
    certificate: x509.Certificate, kind: type[x509.ExtensionType]
) -> bytes | None:
    """The certificate's Subject or Authority Key Identifier (``kind``), if it has one."""
    try:
        value = certificate.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None
    if isinstance(value, x509.SubjectKeyIdentifier):
        return value.digest
    if isinstance(value, x509.AuthorityKeyIdentifier):
        return value.key_identifier
    return None


def bundle_index(certificates: tuple[x509.Certificate, ...]) -> BundleIndex:
    """A bundle's certificates split for path building (store, intermediates, by name)."""
    by_subject: dict[x509.Name, list[x509.Certificate]] = {}
    for certificate in certificates:
        by_subject.setdefault(certificate.subject, []).append(certificate)
    roots = [c for c in certificates if c.subject == c.issuer]  # self-signed: anchors
    intermediates = [c for c in certificates if c.subject != c.issuer]
    ski = {c: key_identifier(c, x509.SubjectKeyIdentifier) for c in certificates}
    return BundleIndex(Store(roots) if roots else None, intermediates, by_subject, ski)


def _issuers(child: x509.Certificate, index: BundleIndex) -> list[x509.Certificate]:
    """Bundle certificates that may have signed ``child``: same name, matching key id."""
    wanted = key_identifier(child, x509.AuthorityKeyIdentifier)
    candidates = index.by_subject.get(child.issuer, [])
    if wanted is None:
        return [c for c in candidates if c != child]
    return [c for c in candidates if c != child and index.ski[c] == wanted]


def _path_cas(leaf: x509.Certificate, index: BundleIndex) -> list[x509.Certificate]:
    """Every bundle CA that can sit on a path from ``leaf`` (breadth-first, bounded)."""
    found: list[x509.Certificate] = []
    frontier = [leaf]
    for _ in range(_MAX_DEPTH):
        frontier = [i for c in frontier for i in _issuers(c, index) if i not in found]
        if not frontier:
            break
        found.extend(frontier)
    return found


def _window(certificate: x509.Certificate, label: str) -> PathWindow:
    return PathWindow(label, certificate.not_valid_before_utc, certificate.not_valid_after_utc)


def chain_error(
    leaf: x509.Certificate, index: BundleIndex, at: datetime, *, anchored: bool = True
) -> str | None:
    """``cryptography``'s reason why no path leads from ``leaf`` to an anchor at ``at``.

    With ``anchored`` (the default) a leaf of an established issuing CA is first
    validated against that CA alone; only its success is taken (module docstring).
    """
    if index.store is None:
        return "the site holds no trust anchors (trust bundle missing or empty)"
    if anchored and _anchored_ok(leaf, index, at):
        return None
    verifier = PolicyBuilder().store(index.store).time(at).build_client_verifier()
    try:
        verified = verifier.verify(leaf, index.intermediates)
    except VerificationError as error:
        return str(error)
    _establish(index, verified.chain)
    return None


def _anchored_ok(leaf: x509.Certificate, index: BundleIndex, at: datetime) -> bool:
    """Whether ``leaf`` validates at ``at`` with an established issuing CA as its anchor."""
    established = index.anchors.get(leaf.issuer)
    if not established:
        return False
    for _, anchor in established:
        if not all(start < at < end for start, end in anchor.windows):
            continue  # at or past a CA's window edge: the full validation decides
        verifier = PolicyBuilder().store(anchor.store).time(at).build_client_verifier()
        try:
            verifier.verify(leaf, [])
        except Exception:  # any refusal or error: the full validation answers, as before
            continue
        return True
    return False


def _establish(index: BundleIndex, chain: list[x509.Certificate]) -> None:
    """Note the issuing CA of a chain that a full validation just returned."""
    if len(chain) < 3:  # the leaf and its anchor only: nothing to save
        return
    issuing = chain[1]
    established = index.anchors.setdefault(issuing.subject, [])
    if any(certificate == issuing for certificate, _ in established):
        return
    if not all(_plain_ca(c) for c in chain[1:]):
        return
    windows = tuple((c.not_valid_before_utc, c.not_valid_after_utc) for c in chain[1:])
    established.append((issuing, Anchor(Store([issuing]), windows)))


def _plain_ca(certificate: x509.Certificate) -> bool:
    try:
        extensions = certificate.extensions
    except ValueError:  # a malformed or duplicated extension
        return False
    return all(e.oid in _PLAIN_CA_EXTENSIONS for e in extensions)


def derive_facts(
    leaf: x509.Certificate,
    index: BundleIndex,
    *,
    chain: bool = True,
    authority_key: tuple[bytes | None] | None = None,
) -> PathFacts:
    """What a (leaf, bundle) pair fixes: the path's windows and, if ``chain``, its error.

    ``authority_key``: the leaf's Authority Key Identifier (in a 1-tuple, None inside
    when it has none) when the caller knows it for this very certificate object (it
    built it); otherwise it is read from the leaf.
    """
    issuer_name = leaf.issuer
    windows = (_window(leaf, "the leaf"), *_ca_windows(leaf, issuer_name, index, authority_key))
    reference = max(w.not_before for w in windows)
    until = min(w.not_after for w in windows)
    error = chain_error(leaf, index, reference) if chain else None
    issuer = index.names.get(issuer_name)
    if issuer is None:
        issuer = common_name(issuer_name) or issuer_name.rfc4514_string()
        index.names[issuer_name] = issuer
    return PathFacts(issuer, leaf.serial_number, windows, reference, error, until, chain)


def _ca_windows(
    leaf: x509.Certificate,
    issuer_name: x509.Name,
    index: BundleIndex,
    authority_key: tuple[bytes | None] | None = None,
) -> tuple[PathWindow, ...]:
    """The windows of the bundle CAs that can sit on a path from ``leaf``.

    The first step from a leaf reads only its issuer name and Authority Key
    Identifier, and every later step only bundle CAs, so leaves that share those two
    share the answer (kept in ``index.paths``); a leaf that is itself one of the
    bundle's certificates is worked out on its own.
    """
    if leaf in index.ski:
        return tuple(_window(c, ca_label(c)) for c in _path_cas(leaf, index))
    if authority_key is None:
        authority_key = (key_identifier(leaf, x509.AuthorityKeyIdentifier),)
    key = (issuer_name, authority_key[0])
    windows = index.paths.get(key)
    if windows is None:
        windows = tuple(_window(c, ca_label(c)) for c in _path_cas(leaf, index))
        index.paths[key] = windows
    return windows
