"""What every fault spec shares: its window (``start``, ``end``), the pydantic settings
of the validated dataclasses, the fault vocabulary (:class:`FaultKind`) and the
descriptions of the fields every fault, or every fault of a kind of target, has."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import Annotated, Literal, Protocol, runtime_checkable

from pydantic import ConfigDict, Field

from testbed.units import Duration

__all__ = [
    "ALIASED",
    "EHR_FAULTS",
    "KIND",
    "RENAMED_KINDS",
    "STRICT",
    "Count",
    "DeviceFault",
    "DeviceTarget",
    "FaultKind",
    "IdpTarget",
    "ServiceTarget",
    "SiteTarget",
    "Window",
]

STRICT: ConfigDict = ConfigDict(extra="forbid", use_attribute_docstrings=True)
ALIASED: ConfigDict = ConfigDict(extra="forbid", populate_by_name=True,
                                 use_attribute_docstrings=True)

# The descriptions of the fields every fault, or every fault of a kind of target, has
# (the JSON Schema's; a field of one fault is described by the docstring under it).
KIND = Field(description="Which fault this is (the fault vocabulary: docs/faults.md).")
DeviceTarget = Annotated[str, Field(min_length=1, description=(
    "The devices the fault hits: device:ID, group:NAME or site:NAME."))]
Count = Annotated[int | None, Field(ge=1, strict=True, description=(
    "Only the first this many of the target's devices (absent: all of them)."))]
ServiceTarget = Annotated[str, Field(pattern=r"^service:.+$", description=(
    "The service the fault acts on: service:NAME."))]
SiteTarget = Annotated[str, Field(pattern=r"^site:", description=(
    "The site the fault acts on: site:NAME."))]
IdpTarget = Annotated[Literal["idp"], Field(description="The identity provider: idp.")]


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
    # network designs (issue 13)
    PARTITION = "partition"
    POLICY_DRIFT = "policy-drift"
    EXCEPTION_EXPIRED = "exception-expired"
    SITE_OUTAGE = "site-outage"
    # the identity provider and the EHR (issue 11; a scenario with an ``ehr`` block)
    TOKEN_EXPIRED = "token-expired"
    IDP_OUTAGE = "idp-outage"
    IDP_KEY_ROTATION = "idp-key-rotation"
    EHR_OUTAGE = "ehr-outage"
    PATIENT_MOVED = "patient-moved"
    SCOPE_DRIFT = "scope-drift"
    CLIENT_CREDENTIAL_LEAKED = "client-credential-leaked"
    # DICOM (issue 12; a scenario with a ``dicom:`` block): the PACS and what reaches it
    PACS_OUTAGE = "pacs-outage"
    AE_TITLE_NOT_ALLOWED = "ae-title-not-allowed"
    PACS_TRUST_MISSING = "pacs-trust-missing"
    DICOM_ENDPOINT_CHANGED = "dicom-endpoint-changed"
    FIRMWARE_BREAKS_DICOM_TLS = "firmware-breaks-dicom-tls"


EHR_FAULTS = frozenset({
    FaultKind.TOKEN_EXPIRED, FaultKind.IDP_OUTAGE, FaultKind.IDP_KEY_ROTATION,
    FaultKind.EHR_OUTAGE, FaultKind.PATIENT_MOVED, FaultKind.SCOPE_DRIFT,
    FaultKind.CLIENT_CREDENTIAL_LEAKED,
})  # fmt: skip
"""The faults that act on the IdP or the EHR (they need the scenario's ``ehr`` block)."""


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
class Window:
    """When a fault acts: from ``start`` to ``end``, both after the scenario's start."""

    start: Annotated[Duration, Field(description=(
        "When the fault starts, after the scenario's start (a duration such as 2d)."))]
    end: Annotated[Duration, Field(description=(
        "When the fault heals, after the scenario's start; after start."))]

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError("a fault's end after its start")

    @property
    def length(self) -> timedelta:
        """How long the fault lasts."""
        return self.end - self.start

    def event_data(self) -> dict[str, str | None]:
        """What its ``fault-started`` and ``fault-healed`` events say besides the kind
        and the target: the same fields live fault injection writes
        (:mod:`testbed.fault_operations`)."""
        return {}
