"""The TLS profile a site's PACS accepts (DICOM PS3.15 Annex B, BCP 195).

A peer's TLS is described by what it offers (:class:`TlsOffer`: protocol versions and
cipher-suite families; in live mode, what the handshake negotiated).  A site's
:class:`TlsProfile` says what its PACS accepts:

- ``bcp195-non-downgrading`` (the default): the BCP 195 profiles of PS3.15 Annex B
  as dcmtk's ``TSP_Profile_BCP195_ND`` and ``BCP_195_RFC_8996`` apply them: TLS 1.2 or
  1.3 only (RFC 8996: no 1.0 or 1.1) and forward-secret AEAD suites (ECDHE with
  AES-GCM or ChaCha20-Poly1305; every TLS 1.3 suite is one); no fallback;
- ``legacy``: an old PACS that still takes TLS 1.0 and 1.1 and static-RSA or CBC
  suites (Orthanc 1.10 accepts TLS 1.0, REFERENCES.md).

:func:`negotiate` picks what both sides accept, the highest version first, or says
why there is nothing: the association is then refused with
:attr:`~testbed.decisions.Reason.TLS_PROFILE_REFUSED`.  A live acceptor configures
its ``ssl.SSLContext`` from the same profile (:attr:`TlsProfile.minimum_version`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Negotiated", "SuiteFamily", "TlsOffer", "TlsProfile", "TlsVersion", "negotiate"]


class TlsVersion(StrEnum):
    """TLS protocol versions, as device profiles name them (``dicom_tls: [tls1.2]``)."""

    TLS1_0 = "tls1.0"
    TLS1_1 = "tls1.1"
    TLS1_2 = "tls1.2"
    TLS1_3 = "tls1.3"

    @property
    def rank(self) -> int:
        """Order of the versions, oldest first."""
        return list(TlsVersion).index(self)


class SuiteFamily(StrEnum):
    """Cipher suites grouped by what a profile decides on."""

    ECDHE_AEAD = "ecdhe-aead"  # ECDHE key exchange, AES-GCM or ChaCha20 (all TLS 1.3 suites)
    ECDHE_CBC = "ecdhe-cbc"  # forward secret, but CBC mode
    RSA = "rsa"  # static RSA key exchange: no forward secrecy


class TlsProfile(StrEnum):
    """What a site's PACS accepts."""

    BCP195_NON_DOWNGRADING = "bcp195-non-downgrading"
    LEGACY = "legacy"

    @property
    def versions(self) -> frozenset[TlsVersion]:
        """The protocol versions the profile accepts."""
        if self is TlsProfile.LEGACY:
            return frozenset(TlsVersion)
        return frozenset({TlsVersion.TLS1_2, TlsVersion.TLS1_3})

    @property
    def suites(self) -> frozenset[SuiteFamily]:
        """The cipher-suite families the profile accepts."""
        if self is TlsProfile.LEGACY:
            return frozenset(SuiteFamily)
        return frozenset({SuiteFamily.ECDHE_AEAD})

    @property
    def minimum_version(self) -> TlsVersion:
        """The oldest version accepted (a live acceptor's ``minimum_version``)."""
        return min(self.versions, key=lambda v: v.rank)


@dataclass(frozen=True, slots=True)
class TlsOffer:
    """What a peer offers: versions and suite families (non-empty)."""

    versions: frozenset[TlsVersion]
    suites: frozenset[SuiteFamily] = frozenset({SuiteFamily.ECDHE_AEAD})

    def __post_init__(self) -> None:
        if not self.versions or not self.suites:
            raise ValueError("a TLS offer names at least one version and one suite family")

    @classmethod
    def of(cls, versions: Iterable[str], suites: Iterable[str] = ("ecdhe-aead",)) -> TlsOffer:
        """An offer from names (``TlsOffer.of(["tls1.2", "tls1.3"])``, a profile's
        ``dicom_tls``); ValueError names an unknown one."""
        return cls(frozenset(map(TlsVersion, versions)), frozenset(map(SuiteFamily, suites)))


@dataclass(frozen=True, slots=True)
class Negotiated:
    """What the handshake agrees on."""

    version: TlsVersion
    suite: SuiteFamily


def negotiate(profile: TlsProfile, offer: TlsOffer) -> Negotiated | str:
    """The highest version and a suite both accept, or why there is none."""
    versions = profile.versions & offer.versions
    if not versions:
        offered = ", ".join(sorted(offer.versions))
        return f"the peer offers {offered}; the {profile.value} profile needs " + ", ".join(
            sorted(profile.versions)
        )
    suites = profile.suites & offer.suites
    if not suites:
        offered = ", ".join(sorted(offer.suites))
        return f"the peer offers {offered} suites; the {profile.value} profile needs " + ", ".join(
            sorted(profile.suites)
        )
    version = max(versions, key=lambda v: v.rank)
    return Negotiated(version, min(suites, key=lambda s: list(SuiteFamily).index(s)))
