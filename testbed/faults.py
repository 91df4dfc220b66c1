"""Faults are values: scheduled, each with a start, an end and a target.

A fault spec (what the scenario says) is a frozen dataclass discriminated by
``kind``.  The simulation starts each fault at ``start`` and heals it at ``end``
(Jepsen: every fault is a start/stop pair); every run heals whatever is still
active at the end and then checks that the system recovers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import Annotated, ClassVar, Literal, Protocol, runtime_checkable

from pydantic import ConfigDict, Field

from testbed.targets import DEVICES, TargetForm
from testbed.units import Duration

__all__ = [
    "RENAMED_KINDS",
    "AeTitleNotAllowed",
    "BlockedRoute",
    "CaOutage",
    "ClockSkew",
    "DeviceFault",
    "DicomEndpointChanged",
    "DicomFault",
    "FaultKind",
    "FaultSpec",
    "FirmwareBreaksDicomTls",
    "PacsOutage",
    "PacsTrustMissing",
    "RenewalAgentBroken",
    "RevokedCertificate",
    "ServiceOutage",
    "TlsFallback",
    "TrustBundleMissing",
    "TrustBundleStale",
]

_STRICT: ConfigDict = ConfigDict(extra="forbid")


class FaultKind(StrEnum):
    """The fault vocabulary of this release."""

    RENEWAL_AGENT_BROKEN = "renewal-agent-broken"
    REVOKED_CERTIFICATE = "revoked-certificate"
    CA_OUTAGE = "ca-outage"
    TRUST_BUNDLE_MISSING = "trust-bundle-missing"
    TRUST_BUNDLE_STALE = "trust-bundle-stale"
    CLOCK_SKEW = "clock-skew"
    BLOCKED_ROUTE = "blocked-route"
    SERVICE_OUTAGE = "service-outage"
    # DICOM (issue 12; a scenario with a ``dicom:`` block): the PACS and what reaches it
    PACS_OUTAGE = "pacs-outage"
    AE_TITLE_NOT_ALLOWED = "ae-title-not-allowed"
    PACS_TRUST_MISSING = "pacs-trust-missing"
    DICOM_ENDPOINT_CHANGED = "dicom-endpoint-changed"
    FIRMWARE_BREAKS_DICOM_TLS = "firmware-breaks-dicom-tls"


RENAMED_KINDS: Mapping[str, FaultKind] = MappingProxyType({
    "expired-certificate": FaultKind.RENEWAL_AGENT_BROKEN,  # it named the outcome, not the fault
})
"""Former names of fault kinds, still read from scenario files (with a warning)."""


@runtime_checkable
class DeviceFault(Protocol):
    """A fault on devices: ``target`` names them (``device:``, ``group:``, ``site:``),
    ``count`` takes the first few."""

    @property
    def target(self) -> str:
        """Which devices: ``device:ID``, ``group:NAME`` or ``site:NAME``."""
        ...

    @property
    def count(self) -> int | None:
        """Only the first ``count`` of them, if given."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class _Window:
    start: Duration
    end: Duration

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError("a fault's end after its start")

    @property
    def length(self) -> timedelta:
        """How long the fault lasts."""
        return self.end - self.start


@dataclass(frozen=True, slots=True, kw_only=True)
class RenewalAgentBroken(_Window):
    """The renewal agent of the target devices is broken: renewals are missed, and each
    certificate expires at its end unless the fault heals first."""

    __pydantic_config__: ClassVar[ConfigDict] = _STRICT
    targets: ClassVar[frozenset[TargetForm]] = DEVICES
    kind: Literal[FaultKind.RENEWAL_AGENT_BROKEN] = FaultKind.RENEWAL_AGENT_BROKEN
    target: Annotated[str, Field(min_length=1)]
    count: Annotated[int | None, Field(ge=1, strict=True)] = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RevokedCertificate(_Window):
    """The target devices' certificates are revoked at ``start`` (CRLs show it later)."""

    __pydantic_config__: ClassVar[ConfigDict] = _STRICT
    targets: ClassVar[frozenset[TargetForm]] = DEVICES
    kind: Literal[FaultKind.REVOKED_CERTIFICATE] = FaultKind.REVOKED_CERTIFICATE
    target: Annotated[str, Field(min_length=1)]
    count: Annotated[int | None, Field(ge=1, strict=True)] = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CaOutage(_Window):
    """The certificate authority answers nothing: no enrollment, no new CRLs.

    ``target`` is ``ca`` (the whole CA) or ``site:NAME``: that site's issuing CA
    (per-site issuing), which takes down only the enrollment of that site's devices
    and the CRLs of that issuing CA.
    """

    __pydantic_config__: ClassVar[ConfigDict] = _STRICT
    targets: ClassVar[frozenset[TargetForm]] = frozenset({TargetForm.CA, TargetForm.SITE_CA})
    kind: Literal[FaultKind.CA_OUTAGE] = FaultKind.CA_OUTAGE
    target: Annotated[str, Field(pattern=r"^(ca|site:.+)$")] = "ca"

    @property
    def site(self) -> str | None:
        """The site whose issuing CA is down, or None: the whole CA."""
        return None if self.target == "ca" else self.target.partition(":")[2]


@dataclass(frozen=True, slots=True, kw_only=True)
class TrustBundleMissing(_Window):
    """The relying parties at one site hold no trust bundle."""

    __pydantic_config__: ClassVar[ConfigDict] = _STRICT
    targets: ClassVar[frozenset[TargetForm]] = frozenset({TargetForm.SITE})
    kind: Literal[FaultKind.TRUST_BUNDLE_MISSING] = FaultKind.TRUST_BUNDLE_MISSING
    target: Annotated[str, Field(pattern=r"^site:")]


@dataclass(frozen=True, slots=True, kw_only=True)
class TrustBundleStale(_Window):
    """One site stops receiving trust-bundle updates."""

    __pydantic_config__: ClassVar[ConfigDict] = _STRICT
    targets: ClassVar[frozenset[TargetForm]] = frozenset({TargetForm.SITE})
    kind: Literal[FaultKind.TRUST_BUNDLE_STALE] = FaultKind.TRUST_BUNDLE_STALE
    target: Annotated[str, Field(pattern=r"^site:")]


@dataclass(frozen=True, slots=True, kw_only=True)
class ClockSkew(_Window):
    """The target devices' clocks run ``offset`` behind (or ahead, if ``ahead``)."""

    __pydantic_config__: ClassVar[ConfigDict] = _STRICT
    targets: ClassVar[frozenset[TargetForm]] = DEVICES
    kind: Literal[FaultKind.CLOCK_SKEW] = FaultKind.CLOCK_SKEW
    target: Annotated[str, Field(min_length=1)]
    count: Annotated[int | None, Field(ge=1, strict=True)] = None
    offset: Duration
    ahead: Annotated[bool, Field(strict=True)] = False


@dataclass(frozen=True, slots=True, kw_only=True)
class BlockedRoute(_Window):
    """Zone ``from`` cannot reach service ``to`` (at ``site``, or everywhere)."""

    __pydantic_config__: ClassVar[ConfigDict] = ConfigDict(extra="forbid", populate_by_name=True)
    #: no target: its fields name a zone, a service and a site
    targets: ClassVar[frozenset[TargetForm]] = frozenset()
    kind: Literal[FaultKind.BLOCKED_ROUTE] = FaultKind.BLOCKED_ROUTE
    source: Annotated[str, Field(alias="from", min_length=1)]
    to: Annotated[str, Field(min_length=1)]
    site: str | None = None

    @property
    def target(self) -> str:
        """``zone->service``."""
        return f"{self.source}->{self.to}"


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceOutage(_Window):
    """A clinical service (``service:NAME``) is down: every device action towards it is
    refused at the service hop (``service-unavailable``), and devices keep what they
    cannot deliver."""

    __pydantic_config__: ClassVar[ConfigDict] = _STRICT
    targets: ClassVar[frozenset[TargetForm]] = frozenset({TargetForm.SERVICE})
    kind: Literal[FaultKind.SERVICE_OUTAGE] = FaultKind.SERVICE_OUTAGE
    target: Annotated[str, Field(pattern=r"^service:.+$")]

    @property
    def service(self) -> str:
        """The service that is down."""
        return self.target.partition(":")[2]


# -- DICOM (issue 12) ---------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class PacsOutage(_Window):
    """A PACS (``service:NAME``) is down: associations are refused
    ``service-unavailable`` (A-ASSOCIATE-RJ transient); devices with store and forward
    keep their studies, the others lose them."""

    __pydantic_config__: ClassVar[ConfigDict] = _STRICT
    targets: ClassVar[frozenset[TargetForm]] = frozenset({TargetForm.SERVICE})
    kind: Literal[FaultKind.PACS_OUTAGE] = FaultKind.PACS_OUTAGE
    target: Annotated[str, Field(pattern=r"^service:.+$")]

    @property
    def service(self) -> str:
        """The PACS that is down."""
        return self.target.partition(":")[2]


@dataclass(frozen=True, slots=True, kw_only=True)
class AeTitleNotAllowed(_Window):
    """The target devices' calling AE titles are missing from one PACS's allow-list
    (``service``): whitelisted at one site, not at the other (seed §4)."""

    __pydantic_config__: ClassVar[ConfigDict] = _STRICT
    targets: ClassVar[frozenset[TargetForm]] = DEVICES
    kind: Literal[FaultKind.AE_TITLE_NOT_ALLOWED] = FaultKind.AE_TITLE_NOT_ALLOWED
    target: Annotated[str, Field(min_length=1)]
    count: Annotated[int | None, Field(ge=1, strict=True)] = None
    service: Annotated[str, Field(min_length=1)]


@dataclass(frozen=True, slots=True, kw_only=True)
class PacsTrustMissing(_Window):
    """The PACS of one site (``site:NAME``) does not trust the hospital's CA: the
    certificate is trusted for FHIR and EST at that site, not by its PACS (seed §4)."""

    __pydantic_config__: ClassVar[ConfigDict] = _STRICT
    targets: ClassVar[frozenset[TargetForm]] = frozenset({TargetForm.SITE})
    kind: Literal[FaultKind.PACS_TRUST_MISSING] = FaultKind.PACS_TRUST_MISSING
    target: Annotated[str, Field(pattern=r"^site:")]


@dataclass(frozen=True, slots=True, kw_only=True)
class DicomEndpointChanged(_Window):
    """A PACS (``service:NAME``) moves to another ``port`` and/or called ``ae_title``
    at ``start``; devices keep sending to the old endpoint until the change is
    distributed to them at ``end`` (the playbook's "DICOM endpoint changed")."""

    __pydantic_config__: ClassVar[ConfigDict] = _STRICT
    targets: ClassVar[frozenset[TargetForm]] = frozenset({TargetForm.SERVICE})
    kind: Literal[FaultKind.DICOM_ENDPOINT_CHANGED] = FaultKind.DICOM_ENDPOINT_CHANGED
    target: Annotated[str, Field(pattern=r"^service:.+$")]
    port: Annotated[int | None, Field(ge=1, le=65535, strict=True)] = None
    ae_title: Annotated[str | None, Field(min_length=1, max_length=16)] = None

    def __post_init__(self) -> None:
        _Window.__post_init__(self)
        if self.port is None and self.ae_title is None:
            raise ValueError("a new 'port', a new 'ae_title', or both")

    @property
    def service(self) -> str:
        """The PACS that moves."""
        return self.target.partition(":")[2]


class TlsFallback(StrEnum):
    """What a broken firmware update leaves a device's DICOM TLS offering."""

    TLS1_0 = "tls1.0"  # TLS 1.0 only (CBC and static-RSA suites)
    TLS1_1 = "tls1.1"  # TLS 1.1 only (CBC and static-RSA suites)
    RSA_ONLY = "rsa-only"  # TLS 1.2, static-RSA key exchange only (no forward secrecy)


@dataclass(frozen=True, slots=True, kw_only=True)
class FirmwareBreaksDicomTls(_Window):
    """A firmware update makes the target devices' DICOM TLS fall back (``to``):
    refused by a PACS whose profile is BCP 195 non-downgrading, taken by a legacy one."""

    __pydantic_config__: ClassVar[ConfigDict] = _STRICT
    targets: ClassVar[frozenset[TargetForm]] = DEVICES
    kind: Literal[FaultKind.FIRMWARE_BREAKS_DICOM_TLS] = FaultKind.FIRMWARE_BREAKS_DICOM_TLS
    target: Annotated[str, Field(min_length=1)]
    count: Annotated[int | None, Field(ge=1, strict=True)] = None
    to: TlsFallback = TlsFallback.TLS1_0


DicomFault = (
    PacsOutage | AeTitleNotAllowed | PacsTrustMissing | DicomEndpointChanged
    | FirmwareBreaksDicomTls
)  # fmt: skip
"""The faults that act on DICOM traffic (a scenario with a ``dicom:`` block)."""


FaultSpec = (
    RenewalAgentBroken
    | RevokedCertificate
    | CaOutage
    | TrustBundleMissing
    | TrustBundleStale
    | ClockSkew
    | BlockedRoute
    | ServiceOutage
    | PacsOutage
    | AeTitleNotAllowed
    | PacsTrustMissing
    | DicomEndpointChanged
    | FirmwareBreaksDicomTls
)
