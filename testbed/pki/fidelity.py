"""Declared fidelity levels, and the one seam where they differ (DESIGN principle 3).

``full``: every leaf certificate, CSR and CRL is real DER built and signed with
``cryptography``, and every chain is checked by its path validation.
``modeled``: leaves, CSRs and CRLs are small frozen values (:mod:`testbed.pki.modeled`)
carrying exactly the facts the decisions read, and the chain check compares names,
key identifiers and validity windows.  At both levels the CA's own certificates
(root and issuing CAs, a handful per run) are real, and the same keys and serial
numbers are drawn from the run's generator in the same order.

Everything else (the CA's records, revocation and CRL contents, EST, the verifier's
order of checks and its cache, the access point) is shared: only the operations of
:class:`Artefacts` differ.  ``tests/scenarios/test_fidelity.py`` proves that both
levels reach the same decisions on the same scenario.
"""

from __future__ import annotations

import random
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, NamedTuple, Protocol, TypeAlias

from cryptography import x509

from testbed.pki.keys import CsrCheck, KeyType, PrivateKey, PublicKey

if TYPE_CHECKING:
    from testbed.pki.issuance import IssuingCA, Revocation
    from testbed.pki.modeled import ModeledCsr, ModeledKey
    from testbed.pki.trust import TrustBundle

__all__ = [
    "Artefacts",
    "CrlTemplate",
    "DeviceKey",
    "Fidelity",
    "LeafCertificate",
    "LeafTemplate",
    "PathFacts",
    "PathWindow",
    "Request",
    "SubjectKey",
]


class Fidelity(StrEnum):
    """How real a run's certificates, CSRs and CRLs are."""

    FULL = "full"
    MODELED = "modeled"


DeviceKey: TypeAlias = "PrivateKey | ModeledKey"
"""A device's private key (or, modeled, the identity of one)."""

SubjectKey: TypeAlias = "PublicKey | ModeledKey"
"""The public key a leaf certifies (or, modeled, its identity)."""

Request: TypeAlias = "x509.CertificateSigningRequest | ModeledCsr"
"""A certificate signing request as the EST service reads it."""


class LeafCertificate(Protocol):
    """What the shared code reads from a leaf: ``x509.Certificate`` and
    :class:`~testbed.pki.modeled.ModeledCertificate` both answer it."""

    @property
    def serial_number(self) -> int:
        """The serial number (RFC 5280 §4.1.2.2)."""
        ...

    @property
    def not_valid_before_utc(self) -> datetime:
        """notBefore, whole seconds, UTC."""
        ...

    @property
    def not_valid_after_utc(self) -> datetime:
        """notAfter, whole seconds, UTC."""
        ...

    @property
    def issuer(self) -> Hashable:
        """The issuer's name (a cache key: compared, never read)."""
        ...

    def __hash__(self) -> int:
        """By value (a real certificate: its DER), as equality compares."""
        ...


class PathWindow(NamedTuple):
    """The validity window of one certificate on the leaf's path."""

    label: str
    not_before: datetime
    not_after: datetime


class PathFacts(NamedTuple):
    """What one (leaf, bundle) pair fixes: the issuer, the windows, the chain error."""

    issuer: str  # the issuing CA's name (a CRL's issuer is compared with it)
    serial: int
    windows: tuple[PathWindow, ...]  # the leaf's first, then every bundle CA on its path
    reference_time: datetime  # the latest notBefore on the path
    chain_error: str | None
    valid_until: datetime  # the earliest notAfter on the path
    chain_checked: bool = True  # False: the chain not checked yet (``chain_error`` unset)


@dataclass(frozen=True, slots=True)
class LeafTemplate:
    """Everything a device leaf's content depends on (RFC 5280 §4.1)."""

    issuing: IssuingCA
    trust_domain: str
    site: str
    device_id: str
    public: SubjectKey
    serial: int
    not_before: datetime
    not_after: datetime
    #: cRLDistributionPoints and authorityInfoAccess, once the CA publishes them (live)
    locations: tuple[x509.Extension[x509.ExtensionType], ...] = ()


@dataclass(frozen=True, slots=True)
class CrlTemplate:
    """Everything a CRL's content depends on (RFC 5280 §5.1)."""

    issuing: IssuingCA
    this_update: datetime
    next_update: datetime
    revoked: Sequence[Revocation]
    number: int  # cRLNumber


class Artefacts(Protocol):
    """The operations that differ between fidelity levels (one instance per run)."""

    fidelity: Fidelity

    def new_key(self, key_type: KeyType, rng: random.Random | None) -> DeviceKey:
        """A device key, drawn from ``rng`` as :func:`~testbed.pki.keys.new_private_key` draws."""
        ...

    def key_from_scalar(self, key_type: KeyType, scalar: int) -> DeviceKey:
        """The EC key whose private value is ``scalar``."""
        ...

    def request(self, key: DeviceKey, cn: str) -> bytes:
        """The body a device sends to enroll: its CSR for ``key``, subject ``CN=cn``."""
        ...

    def read_request(self, body: bytes) -> tuple[Request, CsrCheck]:
        """The CSR in an EST body and its checks; :class:`CsrError` if unreadable or
        its proof of possession fails (RFC 7030 §3.4)."""
        ...

    def request_key(self, request: Request, device_id: str) -> SubjectKey:
        """The CSR's public key once its CN is ``device_id``; :class:`CsrError` if not."""
        ...

    def subject_key(self, certificate: LeafCertificate) -> SubjectKey:
        """The public key a leaf certifies."""
        ...

    def sign_leaf(self, template: LeafTemplate) -> LeafCertificate:
        """The leaf the issuing CA signs from ``template``."""
        ...

    def sign_crl(self, template: CrlTemplate) -> bytes | None:
        """The CRL's DER (None when modeled: the entries alone are the CRL)."""
        ...

    def path_facts(self, leaf: LeafCertificate, bundle: TrustBundle, *, chain: bool) -> PathFacts:
        """The path's windows under ``bundle`` and, if ``chain``, its chain error
        (checked at the path's reference time)."""
        ...

    def chain_error(
        self, leaf: LeafCertificate, bundle: TrustBundle, *, at: datetime
    ) -> str | None:
        """Why no path leads from ``leaf`` to a trust anchor of ``bundle`` valid at
        ``at``, or None when one does."""
        ...
