"""Faults on DICOM traffic (issue 12; a scenario with a ``dicom:`` block): the PACS,
its allow-list and trust, its endpoint, and the devices' DICOM TLS."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, ClassVar, Literal

from pydantic import ConfigDict, Field

from testbed.faults.window import (
    KIND,
    STRICT,
    Count,
    DeviceTarget,
    FaultKind,
    ServiceTarget,
    SiteTarget,
    Window,
)
from testbed.targets import DEVICES, TargetForm

__all__ = [
    "AeTitleNotAllowed",
    "DicomEndpointChanged",
    "DicomFault",
    "FirmwareBreaksDicomTls",
    "PacsOutage",
    "PacsTrustMissing",
    "TlsFallback",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class PacsOutage(Window):
    """A PACS (``service:NAME``) is down: associations are refused
    ``service-unavailable`` (A-ASSOCIATE-RJ transient); devices with store and forward
    keep their studies, the others lose them."""

    __pydantic_config__: ClassVar[ConfigDict] = STRICT
    targets: ClassVar[frozenset[TargetForm]] = frozenset({TargetForm.SERVICE})
    kind: Annotated[Literal[FaultKind.PACS_OUTAGE], KIND] = FaultKind.PACS_OUTAGE
    target: ServiceTarget

    @property
    def service(self) -> str:
        """The PACS that is down."""
        return self.target.partition(":")[2]


@dataclass(frozen=True, slots=True, kw_only=True)
class AeTitleNotAllowed(Window):
    """The target devices' calling AE titles are missing from one PACS's allow-list
    (``service``): whitelisted at one site, not at the other (seed §4)."""

    __pydantic_config__: ClassVar[ConfigDict] = STRICT
    targets: ClassVar[frozenset[TargetForm]] = DEVICES
    kind: Annotated[Literal[FaultKind.AE_TITLE_NOT_ALLOWED], KIND] = FaultKind.AE_TITLE_NOT_ALLOWED
    target: DeviceTarget
    count: Count = None
    service: Annotated[str, Field(min_length=1)]
    """The PACS (its service name) whose allow-list lacks the devices' AE titles."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PacsTrustMissing(Window):
    """The PACS of one site (``site:NAME``) does not trust the hospital's CA: the
    certificate is trusted for FHIR and EST at that site, not by its PACS (seed §4)."""

    __pydantic_config__: ClassVar[ConfigDict] = STRICT
    targets: ClassVar[frozenset[TargetForm]] = frozenset({TargetForm.SITE})
    kind: Annotated[Literal[FaultKind.PACS_TRUST_MISSING], KIND] = FaultKind.PACS_TRUST_MISSING
    target: SiteTarget


@dataclass(frozen=True, slots=True, kw_only=True)
class DicomEndpointChanged(Window):
    """A PACS (``service:NAME``) moves to another ``port`` and/or called ``ae_title``
    at ``start``; devices keep sending to the old endpoint until the change is
    distributed to them at ``end`` (the playbook's "DICOM endpoint changed")."""

    __pydantic_config__: ClassVar[ConfigDict] = STRICT
    targets: ClassVar[frozenset[TargetForm]] = frozenset({TargetForm.SERVICE})
    kind: Annotated[Literal[FaultKind.DICOM_ENDPOINT_CHANGED], KIND] = (
        FaultKind.DICOM_ENDPOINT_CHANGED
    )
    target: ServiceTarget
    port: Annotated[int | None, Field(ge=1, le=65535, strict=True)] = None
    """The PACS's new DICOM TLS port (absent: unchanged)."""
    ae_title: Annotated[str | None, Field(min_length=1, max_length=16)] = None
    """The PACS's new called AE title (absent: unchanged)."""

    def __post_init__(self) -> None:
        Window.__post_init__(self)
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
class FirmwareBreaksDicomTls(Window):
    """A firmware update makes the target devices' DICOM TLS fall back (``to``):
    refused by a PACS whose profile is BCP 195 non-downgrading, taken by a legacy one."""

    __pydantic_config__: ClassVar[ConfigDict] = STRICT
    targets: ClassVar[frozenset[TargetForm]] = DEVICES
    kind: Annotated[Literal[FaultKind.FIRMWARE_BREAKS_DICOM_TLS], KIND] = (
        FaultKind.FIRMWARE_BREAKS_DICOM_TLS
    )
    target: DeviceTarget
    count: Count = None
    to: TlsFallback = TlsFallback.TLS1_0
    """What the devices' DICOM TLS falls back to: tls1.0, tls1.1 or rsa-only."""


DicomFault = (
    PacsOutage | AeTitleNotAllowed | PacsTrustMissing | DicomEndpointChanged
    | FirmwareBreaksDicomTls
)  # fmt: skip
"""The faults that act on DICOM traffic (a scenario with a ``dicom:`` block)."""
