"""Modeled fidelity: leaves, CSRs and keys as small frozen values, no signing, no DER.

A :class:`ModeledCertificate` carries exactly what the decisions read from a leaf:
serial, subject (the device id, its CN), SANs (SPIFFE URI and DNS name, as the CA
would put them), issuer name and generation, authority key identifier (which
issuing-CA key signed it), the subject key's identity, and its validity truncated
to whole seconds as X.509 encodes it.  A key is its identity: a key id derived from
the EC private value drawn from the run's generator (the same draw a real key
takes), so both levels consume the generator identically.  A CRL is its entries
(:class:`~testbed.pki.revocation.PublishedCrl` without DER).

The chain check (:meth:`ModeledArtefacts.chain_error`): the leaf's issuer (name and
key identifier) is an issuing CA in the site's trust bundle, that CA chains (name
and key identifier again) to a self-signed CA of the bundle, and every window on
the path contains the time.  The bundle's CA certificates are real at both levels
(a handful per run); only their names, key identifiers and windows are read here.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from cryptography import x509

from testbed.errors import CsrError, PkiError
from testbed.pki.chain import ca_label, key_identifier
from testbed.pki.fidelity import (
    CrlTemplate,
    DeviceKey,
    Fidelity,
    LeafCertificate,
    LeafTemplate,
    PathFacts,
    PathWindow,
    Request,
    SubjectKey,
)
from testbed.pki.keys import EC_KEY_TYPES, CsrCheck, KeyType, common_name, new_key_scalar
from testbed.pki.leaf_profile import dns_name, spiffe_id

if TYPE_CHECKING:
    from testbed.pki.issuance import IssuingCA
    from testbed.pki.trust import TrustBundle

__all__ = ["ModeledArtefacts", "ModeledCertificate", "ModeledCsr", "ModeledKey"]

_MAGIC = "modeled-csr"  # the first word of a modeled CSR's body
_MAX_DEPTH = 8
_MAX_INDEXES = 4096
_NO_ANCHORS = "the site holds no trust anchors (trust bundle missing or empty)"


@dataclass(frozen=True, slots=True)
class ModeledKey:
    """A key pair, by identity: its type and a key id (20 octets, as an SKI)."""

    key_type: KeyType
    key_id: bytes

    @classmethod
    def of_scalar(cls, key_type: KeyType, scalar: int) -> ModeledKey:
        """The identity of the EC key whose private value is ``scalar``."""
        digest = hashlib.sha256(f"{key_type.value}:{scalar:x}".encode()).digest()
        return cls(key_type, digest[:20])


@dataclass(frozen=True, slots=True)
class ModeledCsr:
    """A PKCS#10 request as the CA reads it: subject ``CN=cn`` only, and the key.

    A simulated device always signs its request with the key in it, so proof of
    possession (RFC 7030 §3.4) holds by construction.
    """

    cn: str
    key: ModeledKey

    def body(self) -> bytes:
        """What the device sends (one line: magic word, key type, key id, CN)."""
        return f"{_MAGIC} {self.key.key_type.value} {self.key.key_id.hex()} {self.cn}".encode()


@dataclass(frozen=True, slots=True)
class ModeledCertificate:
    """A device leaf by its facts (see the module docstring); answers the attributes
    the shared code reads from ``x509.Certificate``."""

    serial_number: int
    subject: str  # CN: the device id
    spiffe_id: str
    dns_name: str
    issuer: str  # the issuing CA's name (its CN)
    issuer_generation: int
    authority_key_id: bytes  # the issuing CA key's identifier
    public_key: ModeledKey
    not_valid_before_utc: datetime
    not_valid_after_utc: datetime


def _whole_seconds(when: datetime) -> datetime:
    """``when`` as X.509 encodes it: UTC, fractions of a second dropped (``when`` itself
    when it is that already: a leaf shares its times with its issuance record)."""
    if when.tzinfo is UTC and when.microsecond == 0:
        return when
    return when.astimezone(UTC).replace(microsecond=0)


def _modeled_key(key: DeviceKey | SubjectKey) -> ModeledKey:
    if not isinstance(key, ModeledKey):
        raise PkiError(f"modeled fidelity works with key identities, got {type(key).__name__}")
    return key


def _modeled(leaf: LeafCertificate) -> ModeledCertificate:
    if not isinstance(leaf, ModeledCertificate):
        raise PkiError(f"modeled fidelity reads modeled certificates, got {type(leaf).__name__}")
    return leaf


def _parse(body: bytes) -> ModeledCsr:
    try:
        magic, key_type, key_id, cn = body.decode().split(" ", 3)
        if magic != _MAGIC:
            raise ValueError(f"it starts with {magic[:20]!r}")
        return ModeledCsr(cn, ModeledKey(KeyType(key_type), bytes.fromhex(key_id)))
    except ValueError as error:  # UnicodeDecodeError is one
        raise CsrError(f"the body is not a modeled CSR: {error}") from None


@dataclass(frozen=True, slots=True)
class _Authority:
    """A CA certificate of a trust bundle, by the facts a path reads."""

    name: str
    key_id: bytes | None
    issuer: str
    authority_key_id: bytes | None
    window: PathWindow
    anchor: bool  # self-signed: a trust anchor


def _name(name: x509.Name) -> str:
    return common_name(name) or name.rfc4514_string()


def _authority(certificate: x509.Certificate) -> _Authority:
    window = PathWindow(
        ca_label(certificate), certificate.not_valid_before_utc, certificate.not_valid_after_utc
    )
    return _Authority(
        _name(certificate.subject),
        key_identifier(certificate, x509.SubjectKeyIdentifier),
        _name(certificate.issuer),
        key_identifier(certificate, x509.AuthorityKeyIdentifier),
        window,
        certificate.subject == certificate.issuer,
    )


@dataclass(frozen=True, slots=True)
class _Path:
    """The bundle CAs that can sit on a path from a leaf, and whether one is an anchor."""

    windows: tuple[PathWindow, ...]
    anchored: bool


@dataclass(frozen=True, slots=True)
class _BundleIndex:
    """A bundle's CAs by name; paths by (leaf issuer, leaf authority key id)."""

    by_name: dict[str, list[_Authority]]
    has_anchor: bool
    paths: dict[tuple[str, bytes], _Path] = field(default_factory=dict)

    @classmethod
    def of(cls, certificates: Sequence[x509.Certificate]) -> _BundleIndex:
        """Index the bundle's certificates."""
        by_name: dict[str, list[_Authority]] = {}
        for certificate in certificates:
            authority = _authority(certificate)
            by_name.setdefault(authority.name, []).append(authority)
        anchors = any(a.anchor for group in by_name.values() for a in group)
        return cls(by_name, anchors)

    def issuers(self, name: str, key_id: bytes | None, child: object) -> list[_Authority]:
        """Bundle CAs called ``name`` whose key is ``key_id`` (any, when None)."""
        candidates = self.by_name.get(name, [])
        return [c for c in candidates if c != child and (key_id is None or c.key_id == key_id)]

    def path(self, issuer: str, key_id: bytes) -> _Path:
        """Every bundle CA that can sit on a path from such a leaf (breadth-first)."""
        known = self.paths.get((issuer, key_id))
        if known is not None:
            return known
        found: list[_Authority] = []
        frontier = self.issuers(issuer, key_id, None)
        for _ in range(_MAX_DEPTH):
            frontier = [c for c in frontier if c not in found]
            if not frontier:
                break
            found.extend(frontier)
            frontier = [i for c in frontier for i in self.issuers(c.issuer, c.authority_key_id, c)]
        path = _Path(tuple(c.window for c in found), any(c.anchor for c in found))
        self.paths[(issuer, key_id)] = path
        return path


class ModeledArtefacts:
    """Modeled artefacts (see the module docstring); one instance per run."""

    fidelity = Fidelity.MODELED

    def __init__(self) -> None:
        self._other_keys = 0  # keys not derived from the generator (RSA), numbered
        self._aki: dict[str, bytes] = {}
        self._indexes: dict[bytes, _BundleIndex] = {}

    # -- keys and requests ---------------------------------------------------

    def new_key(self, key_type: KeyType, rng: random.Random | None) -> DeviceKey:
        """As :func:`~testbed.pki.keys.new_private_key` draws: an EC private value from
        ``rng``; an RSA key draws nothing (it is never seed-derived) and is numbered."""
        if key_type in EC_KEY_TYPES and rng is not None:
            return ModeledKey.of_scalar(key_type, new_key_scalar(key_type, rng))
        self._other_keys += 1
        digest = hashlib.sha256(f"{key_type.value}#{self._other_keys}".encode()).digest()
        return ModeledKey(key_type, digest[:20])

    def key_from_scalar(self, key_type: KeyType, scalar: int) -> DeviceKey:
        """:meth:`ModeledKey.of_scalar`."""
        return ModeledKey.of_scalar(key_type, scalar)

    def request(self, key: DeviceKey, cn: str) -> bytes:
        """:meth:`ModeledCsr.body`."""
        return ModeledCsr(cn, _modeled_key(key)).body()

    def read_request(self, body: bytes) -> tuple[Request, CsrCheck]:
        """The modeled CSR; its checks as :func:`~testbed.pki.keys.check_csr` gives them."""
        csr = _parse(body)
        return csr, CsrCheck(True, csr.cn, csr.key.key_type.value, True)

    def request_key(self, request: Request, device_id: str) -> SubjectKey:
        """The request's key once its CN is ``device_id``."""
        if not isinstance(request, ModeledCsr):
            raise PkiError(f"modeled fidelity reads modeled CSRs, got {type(request).__name__}")
        if request.cn != device_id:
            detail = f"the CSR's subject CN {request.cn!r} does not match the device {device_id!r}"
            raise CsrError(detail)
        return request.key

    def subject_key(self, certificate: LeafCertificate) -> SubjectKey:
        """The key the certificate names."""
        return _modeled(certificate).public_key

    # -- "signing" -------------------------------------------------------------

    def sign_leaf(self, template: LeafTemplate) -> LeafCertificate:
        """The leaf's facts, as :func:`~testbed.pki.leaf_profile.build_leaf` would encode them."""
        issuing = template.issuing
        trust_domain, site, device_id = template.trust_domain, template.site, template.device_id
        return ModeledCertificate(
            serial_number=template.serial,
            subject=device_id,
            spiffe_id=spiffe_id(trust_domain, site, device_id),
            dns_name=dns_name(trust_domain, site, device_id),
            issuer=issuing.name,
            issuer_generation=issuing.generation,
            authority_key_id=self._authority_key_id(issuing),
            public_key=_modeled_key(template.public),
            not_valid_before_utc=_whole_seconds(template.not_before),
            not_valid_after_utc=_whole_seconds(template.not_after),
        )

    def sign_crl(self, template: CrlTemplate) -> bytes | None:
        """No DER: the published CRL's issuer, times and serials are the CRL."""
        return None

    def _authority_key_id(self, issuing: IssuingCA) -> bytes:
        key_id = self._aki.get(issuing.name)
        if key_id is None:
            public = issuing.key.public_key()
            key_id = x509.SubjectKeyIdentifier.from_public_key(public).digest
            self._aki[issuing.name] = key_id
        return key_id

    # -- paths ---------------------------------------------------------------

    def path_facts(self, leaf: LeafCertificate, bundle: TrustBundle, *, chain: bool) -> PathFacts:
        """The leaf's window, then those of the bundle CAs on its path."""
        modeled = _modeled(leaf)
        path = self._index(bundle).path(modeled.issuer, modeled.authority_key_id)
        own = PathWindow("the leaf", modeled.not_valid_before_utc, modeled.not_valid_after_utc)
        windows = (own, *path.windows)
        reference = max(w.not_before for w in windows)
        until = min(w.not_after for w in windows)
        error = self.chain_error(leaf, bundle, at=reference) if chain else None
        return PathFacts(modeled.issuer, modeled.serial_number, windows, reference, error,
                         until, chain)  # fmt: skip

    def chain_error(
        self, leaf: LeafCertificate, bundle: TrustBundle, *, at: datetime
    ) -> str | None:
        """Issuer in the bundle, chained to an anchor, every window containing ``at``."""
        modeled = _modeled(leaf)
        index = self._index(bundle)
        if not index.has_anchor:
            return _NO_ANCHORS
        path = index.path(modeled.issuer, modeled.authority_key_id)
        if not path.anchored:
            key = modeled.authority_key_id.hex()
            return f"no CA {modeled.issuer!r} with key {key} chaining to a trust anchor"
        own = PathWindow("the leaf", modeled.not_valid_before_utc, modeled.not_valid_after_utc)
        for window in (own, *path.windows):
            if not window.not_before <= at <= window.not_after:
                return f"{window.label} is not valid at {at.isoformat()}"
        return None

    def _index(self, bundle: TrustBundle) -> _BundleIndex:
        index = self._indexes.get(bundle.fingerprint)
        if index is None:
            if len(self._indexes) >= _MAX_INDEXES:
                self._indexes.clear()
            index = self._indexes[bundle.fingerprint] = _BundleIndex.of(bundle.certificates)
        return index
