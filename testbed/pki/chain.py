"""Path facts of a real X.509 leaf under a trust bundle (full fidelity).

The chain is checked by ``cryptography``'s path validation against the bundle's
self-signed certificates (trust anchors) and its issuing CAs; the windows are those
of the leaf and of every bundle CA that can sit on a path from it (same subject as
the child's issuer and, when the child has an Authority Key Identifier, the
matching Subject Key Identifier).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from cryptography import x509
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from testbed.pki.fidelity import PathFacts, PathWindow
from testbed.pki.keys import common_name

__all__ = [
    "BundleIndex",
    "bundle_index",
    "ca_label",
    "chain_error",
    "derive_facts",
    "key_identifier",
]

_MAX_DEPTH = 8


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


def chain_error(leaf: x509.Certificate, index: BundleIndex, at: datetime) -> str | None:
    """``cryptography``'s reason why no path leads from ``leaf`` to an anchor at ``at``."""
    if index.store is None:
        return "the site holds no trust anchors (trust bundle missing or empty)"
    verifier = PolicyBuilder().store(index.store).time(at).build_client_verifier()
    try:
        verifier.verify(leaf, index.intermediates)
    except VerificationError as error:
        return str(error)
    return None


def derive_facts(leaf: x509.Certificate, index: BundleIndex, *, chain: bool = True) -> PathFacts:
    """What a (leaf, bundle) pair fixes: the path's windows and, if ``chain``, its error."""
    issuer_name = leaf.issuer
    windows = (_window(leaf, "the leaf"), *_ca_windows(leaf, issuer_name, index))
    reference = max(w.not_before for w in windows)
    until = min(w.not_after for w in windows)
    error = chain_error(leaf, index, reference) if chain else None
    issuer = index.names.get(issuer_name)
    if issuer is None:
        issuer = common_name(issuer_name) or issuer_name.rfc4514_string()
        index.names[issuer_name] = issuer
    return PathFacts(issuer, leaf.serial_number, windows, reference, error, until, chain)


def _ca_windows(
    leaf: x509.Certificate, issuer_name: x509.Name, index: BundleIndex
) -> tuple[PathWindow, ...]:
    """The windows of the bundle CAs that can sit on a path from ``leaf``.

    The first step from a leaf reads only its issuer name and Authority Key
    Identifier, and every later step only bundle CAs, so leaves that share those two
    share the answer (kept in ``index.paths``); a leaf that is itself one of the
    bundle's certificates is worked out on its own.
    """
    if leaf in index.ski:
        return tuple(_window(c, ca_label(c)) for c in _path_cas(leaf, index))
    key = (issuer_name, key_identifier(leaf, x509.AuthorityKeyIdentifier))
    windows = index.paths.get(key)
    if windows is None:
        windows = tuple(_window(c, ca_label(c)) for c in _path_cas(leaf, index))
        index.paths[key] = windows
    return windows
