"""Faults are values: scheduled, each with a start, an end and a target.

A fault spec (what the scenario says) is a frozen dataclass discriminated by
``kind``.  The simulation starts each fault at ``start`` and heals it at ``end``
(Jepsen: every fault is a start/stop pair); every run heals whatever is still
active at the end and then checks that the system recovers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import Annotated, ClassVar, Literal, Protocol, runtime_checkable

from pydantic import ConfigDict, Field

from testbed.targets import DEVICES, TargetForm
from testbed.units import Duration, parse_duration

__all__ = [
    "EHR_FAULTS",
    "RENAMED_KINDS",
    "AeTitleNotAllowed",
    "BlockedRoute",
    "CaOutage",
    "ClientCredentialLeaked",
    "ClockSkew",
    "DeviceFault",
    "DicomEndpointChanged",
    "DicomFault",
    "EhrOutage",
    "ExceptionExpired",
    "FaultKind",
    "FaultSpec",
    "FirmwareBreaksDicomTls",
    "IdpKeyRotation",
    "IdpOutage",
    "PacsOutage",
    "PacsTrustMissing",
    "Partition",
    "PatientMoved",
    "PolicyDrift",
    "RenewalAgentBroken",
    "RevokedCertificate",
    "ScopeDrift",
    "ServiceOutage",
    "SiteOutage",
    "TlsFallback",
    "TokenExpired",
    "TrustBundleMissing",
    "TrustBundleStale",
]

_STRICT: ConfigDict = ConfigDict(extra="forbid", use_attribute_docstrings=True)
_ALIASED: ConfigDict = ConfigDict(extra="forbid", populate_by_name=True,
                                  use_attribute_docstrings=True)

# The descriptions of the fields every fault, or every fault of a kind of target, has
# (the JSON Schema's; a field of one fault is described by the docstring under it).
_KIND = Field(description="Which fault this is (the fault vocabulary: docs/faults.md).")
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
class _Window:
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


@dataclass(frozen=True, slots=True, kw_only=True)
class RenewalAgentBroken(_Window):
    """The renewal agent of the target devices is broken: renewals are missed, and each
    certificate expires at its end unless the fault heals first."""

    __pydantic_config__: ClassVar[ConfigDict] = _STRICT
    targets: ClassVar[frozenset[TargetForm]] = DEVICES
    kind: Annotated[Literal[FaultKind.RENEWAL_AGENT_BROKEN], _KIND] = FaultKind.RENEWAL_AGENT_BROKEN
    target: DeviceTarget
    count: Count = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RevokedCertificate(_Window):
    """The target devices' certificates are revoked at ``start`` (CRLs show it later)."""

    __pydantic_config__: ClassVar[ConfigDict] = _STRICT
    targets: ClassVar[frozenset[TargetForm]] = DEVICES
    kind: Annotated[Literal[FaultKind.REVOKED_CERTIFICATE], _KIND] = FaultKind.REVOKED_CERTIFICATE
    target: DeviceTarget
    count: Count = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CaOutage(_Window):
    """The certificate authority answers nothing: no enrollment, no new CRLs.

    ``target`` is ``ca`` (the whole CA) or ``site:NAME``: that site's issuing CA
    (per-site issuing), which takes down only the enrollment of that site's devices
    and the CRLs of that issuing CA.
    """

    __pydantic_config__: ClassVar[ConfigDict] = _STRICT
    targets: ClassVar[frozenset[TargetForm]] = frozenset({TargetForm.CA, TargetForm.SITE_CA})
    kind: Annotated[Literal[FaultKind.CA_OUTAGE], _KIND] = FaultKind.CA_OUTAGE
    target: Annotated[str, Field(pattern=r"^(ca|site:.+)$")] = "ca"
    """ca (the whole CA) or site:NAME (that site's issuing CA, per-site issuing)."""

    @property
    def site(self) -> str | None:
        """The site whose issuing CA is down, or None: the whole CA."""
        return None if self.target == "ca" else self.target.partition(":")[2]


@dataclass(frozen=True, slots=True, kw_only=True)
class TrustBundleMissing(_Window):
    """The relying parties at one site hold no trust bundle."""

    __pydantic_config__: ClassVar[ConfigDict] = _STRICT
    targets: ClassVar[frozenset[TargetForm]] = frozenset({TargetForm.SITE})
    kind: Annotated[Literal[FaultKind.TRUST_BUNDLE_MISSING], _KIND] = FaultKind.TRUST_BUNDLE_MISSING
    target: SiteTarget


@dataclass(frozen=True, slots=True, kw_only=True)
class TrustBundleStale(_Window):
    """One site stops receiving trust-bundle updates."""

    __pydantic_config__: ClassVar[ConfigDict] = _STRICT
    targets: ClassVar[frozenset[TargetForm]] = frozenset({TargetForm.SITE})
    kind: Annotated[Literal[FaultKind.TRUST_BUNDLE_STALE], _KIND] = FaultKind.TRUST_BUNDLE_STALE
    target: SiteTarget


@dataclass(frozen=True, slots=True, kw_only=True)
class ClockSkew(_Window):
    """The target devices' clocks run ``offset`` behind (or ahead, if ``ahead``)."""

    __pydantic_config__: ClassVar[ConfigDict] = _STRICT
    targets: ClassVar[frozenset[TargetForm]] = DEVICES
    kind: Annotated[Literal[FaultKind.CLOCK_SKEW], _KIND] = FaultKind.CLOCK_SKEW
    target: DeviceTarget
    count: Count = None
    offset: Duration
    """How far the devices' clocks are off (a duration such as 2h)."""
    ahead: Annotated[bool, Field(strict=True)] = False
    """true: the clocks run ahead; false: behind."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BlockedRoute(_Window):
    """Zone ``from`` cannot reach service ``to`` (at ``site``, or everywhere)."""

    __pydantic_config__: ClassVar[ConfigDict] = _ALIASED
    #: no target: its fields name a zone, a service and a site
    targets: ClassVar[frozenset[TargetForm]] = frozenset()
    kind: Annotated[Literal[FaultKind.BLOCKED_ROUTE], _KIND] = FaultKind.BLOCKED_ROUTE
    source: Annotated[str, Field(alias="from", min_length=1)]
    """The zone whose traffic the rule is about."""
    to: Annotated[str, Field(min_length=1)]
    """The service (its name) the zone's traffic goes to."""
    site: str | None = None
    """Only at this site (absent: at every site)."""

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
    kind: Annotated[Literal[FaultKind.SERVICE_OUTAGE], _KIND] = FaultKind.SERVICE_OUTAGE
    target: ServiceTarget

    @property
    def service(self) -> str:
        """The service that is down."""
        return self.target.partition(":")[2]


# -- network designs (issue 13): partitions, policy drift, exceptions, site outages ------

_SIDE = r"^(site|zone):.+$"


@dataclass(frozen=True, slots=True, kw_only=True)
class Partition(_Window):
    """Two sites (``between: [site:A, site:B]``), or two zones (``[zone:A, zone:B]``,
    at ``site`` or at every site), cannot reach each other: traffic from one side to
    a service on the other is refused both ways (``partitioned``)."""

    __pydantic_config__: ClassVar[ConfigDict] = _STRICT
    #: no target: ``between`` names the sides
    targets: ClassVar[frozenset[TargetForm]] = frozenset()
    kind: Annotated[Literal[FaultKind.PARTITION], _KIND] = FaultKind.PARTITION
    between: tuple[Annotated[str, Field(pattern=_SIDE)], Annotated[str, Field(pattern=_SIDE)]]
    """The two sides: [site:A, site:B] or [zone:A, zone:B]."""
    site: str | None = None
    """Zones only: the partition is at this site (absent: at every site)."""

    def __post_init__(self) -> None:
        _Window.__post_init__(self)
        forms = {side.partition(":")[0] for side in self.between}
        if len(forms) != 1:
            raise ValueError("a partition between two sites or between two zones, not a mix")
        if self.between[0] == self.between[1]:
            raise ValueError("a partition between two different sites or zones")
        if self.site is not None and forms != {"zone"}:
            raise ValueError("'site' only for a partition between zones")

    @property
    def target(self) -> str:
        """``side<->side`` (``@site`` for zones at one site)."""
        where = "" if self.site is None else f"@{self.site}"
        return f"{self.between[0]}<->{self.between[1]}{where}"


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicyDrift(_Window):
    """A rule added outside change control: zone ``from`` may reach service ``to`` (at
    ``site``, or everywhere) whatever the allow list or the design says.  The daily
    drift scan finds it (a drift alert); its heal removes it and records the exposure."""

    __pydantic_config__: ClassVar[ConfigDict] = _ALIASED
    targets: ClassVar[frozenset[TargetForm]] = frozenset()
    kind: Annotated[Literal[FaultKind.POLICY_DRIFT], _KIND] = FaultKind.POLICY_DRIFT
    source: Annotated[str, Field(alias="from", min_length=1)]
    """The zone whose traffic the rule is about."""
    to: Annotated[str, Field(min_length=1)]
    """The service (its name) the zone's traffic goes to."""
    site: str | None = None
    """Only at this site (absent: at every site)."""

    @property
    def target(self) -> str:
        """``zone->service`` (``@site`` if at one site)."""
        where = "" if self.site is None else f"@{self.site}"
        return f"{self.source}->{self.to}{where}"


@dataclass(frozen=True, slots=True, kw_only=True)
class ExceptionExpired(_Window):
    """The design's exception ``exception:ID`` expires at ``start``, before its date
    (nobody renewed it); the heal is its owner renewing it.  Needs a scenario with a
    ``design``."""

    __pydantic_config__: ClassVar[ConfigDict] = _STRICT
    targets: ClassVar[frozenset[TargetForm]] = frozenset()
    kind: Annotated[Literal[FaultKind.EXCEPTION_EXPIRED], _KIND] = FaultKind.EXCEPTION_EXPIRED
    target: Annotated[str, Field(pattern=r"^exception:.+$")]
    """The design's exception that expires early: exception:ID."""

    @property
    def exception(self) -> str:
        """The exception's id."""
        return self.target.partition(":")[2]


@dataclass(frozen=True, slots=True, kw_only=True)
class SiteOutage(_Window):
    """A whole site (``site:NAME``) is down: nothing reaches a service there and its
    devices reach nothing (``site-down``); they keep what they cannot deliver."""

    __pydantic_config__: ClassVar[ConfigDict] = _STRICT
    targets: ClassVar[frozenset[TargetForm]] = frozenset({TargetForm.SITE})
    kind: Annotated[Literal[FaultKind.SITE_OUTAGE], _KIND] = FaultKind.SITE_OUTAGE
    target: Annotated[str, Field(pattern=r"^site:.+$")]
    """The site that is down: site:NAME."""

    @property
    def site(self) -> str:
        """The site that is down."""
        return self.target.partition(":")[2]


# -- the identity provider and the EHR (issue 11) ------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenExpired(_Window):
    """The target devices' token caches read a clock ``offset`` behind: they present
    cached access tokens past their expiry (the EHR answers 401 ``token-expired``;
    the device then drops the token and gets a new one at its next try)."""

    __pydantic_config__: ClassVar[ConfigDict] = _STRICT
    targets: ClassVar[frozenset[TargetForm]] = DEVICES
    kind: Annotated[Literal[FaultKind.TOKEN_EXPIRED], _KIND] = FaultKind.TOKEN_EXPIRED
    target: DeviceTarget
    count: Count = None
    offset: Duration = field(default_factory=lambda: parse_duration("2h"))
    """How far behind the devices' token caches read the clock."""


@dataclass(frozen=True, slots=True, kw_only=True)
class IdpOutage(_Window):
    """The identity provider answers nothing: no token is granted (devices keep their
    data, and a token they hold still works until it expires)."""

    __pydantic_config__: ClassVar[ConfigDict] = _STRICT
    targets: ClassVar[frozenset[TargetForm]] = frozenset({TargetForm.IDP})
    kind: Annotated[Literal[FaultKind.IDP_OUTAGE], _KIND] = FaultKind.IDP_OUTAGE
    target: IdpTarget = "idp"


@dataclass(frozen=True, slots=True, kw_only=True)
class IdpKeyRotation(_Window):
    """The IdP rotates its signing key at ``start`` (the old key stays published for
    ``overlap``) while the EHR's copy of the IdP's JWKS is held stale until ``end``:
    tokens signed with the new key are refused (``token-key-unknown``) until then."""

    __pydantic_config__: ClassVar[ConfigDict] = _STRICT
    targets: ClassVar[frozenset[TargetForm]] = frozenset({TargetForm.IDP})
    kind: Annotated[Literal[FaultKind.IDP_KEY_ROTATION], _KIND] = FaultKind.IDP_KEY_ROTATION
    target: IdpTarget = "idp"
    overlap: Duration = field(default_factory=lambda: parse_duration("0s"))
    """How long the old signing key stays published after the rotation."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EhrOutage(_Window):
    """An EHR (``service:NAME``) fails: for ``answers_lost`` from ``start`` it stores
    writes but its answers are lost (devices keep the items and retry; their
    ``If-None-Exist`` makes no duplicate), then it is down until ``end``."""

    __pydantic_config__: ClassVar[ConfigDict] = _STRICT
    targets: ClassVar[frozenset[TargetForm]] = frozenset({TargetForm.SERVICE})
    kind: Annotated[Literal[FaultKind.EHR_OUTAGE], _KIND] = FaultKind.EHR_OUTAGE
    target: ServiceTarget
    answers_lost: Duration = field(default_factory=lambda: parse_duration("10m"))
    """How long from start the EHR stores writes but its answers are lost (shorter than
    the fault)."""

    def __post_init__(self) -> None:
        _Window.__post_init__(self)
        if self.answers_lost >= self.length:
            raise ValueError("answers_lost shorter than the fault (end - start)")

    @property
    def service(self) -> str:
        """The EHR service that fails."""
        return self.target.partition(":")[2]


@dataclass(frozen=True, slots=True, kw_only=True)
class PatientMoved(_Window):
    """The patient each target device writes for is moved to another ward at
    ``start`` (the device is not told) and back at ``end``: its writes meanwhile are
    refused (``patient-context-mismatch``) and kept by store-and-forward devices."""

    __pydantic_config__: ClassVar[ConfigDict] = _STRICT
    targets: ClassVar[frozenset[TargetForm]] = DEVICES
    kind: Annotated[Literal[FaultKind.PATIENT_MOVED], _KIND] = FaultKind.PATIENT_MOVED
    target: DeviceTarget
    count: Count = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ScopeDrift(_Window):
    """A firmware update makes the target devices ask for ``scopes`` instead of their
    own until ``end`` (the rollback): the IdP grants only what is pre-authorized, and
    refuses (``scope-not-authorized``) when nothing asked for is."""

    __pydantic_config__: ClassVar[ConfigDict] = _STRICT
    targets: ClassVar[frozenset[TargetForm]] = DEVICES
    kind: Annotated[Literal[FaultKind.SCOPE_DRIFT], _KIND] = FaultKind.SCOPE_DRIFT
    target: DeviceTarget
    count: Count = None
    scopes: Annotated[str, Field(min_length=1)] = "system/Patient.cruds system/Encounter.u"
    """The SMART scopes (space-separated) the devices ask for instead of their own."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientCredentialLeaked(_Window):
    """Someone else holds the target devices' client credential until ``end``: each time
    a device asks for a token, the other party sends the same credential (its
    assertion, replayed; or the shared secret).  Refused as a replay
    (``token-replayed``) under ``private_key_jwt``; granted under
    ``client_secret_basic``, where the oracle counts it as unauthorized access."""

    __pydantic_config__: ClassVar[ConfigDict] = _STRICT
    targets: ClassVar[frozenset[TargetForm]] = DEVICES
    kind: Annotated[Literal[FaultKind.CLIENT_CREDENTIAL_LEAKED], _KIND] = (
        FaultKind.CLIENT_CREDENTIAL_LEAKED
    )
    target: DeviceTarget
    count: Count = None


# -- DICOM (issue 12) ---------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class PacsOutage(_Window):
    """A PACS (``service:NAME``) is down: associations are refused
    ``service-unavailable`` (A-ASSOCIATE-RJ transient); devices with store and forward
    keep their studies, the others lose them."""

    __pydantic_config__: ClassVar[ConfigDict] = _STRICT
    targets: ClassVar[frozenset[TargetForm]] = frozenset({TargetForm.SERVICE})
    kind: Annotated[Literal[FaultKind.PACS_OUTAGE], _KIND] = FaultKind.PACS_OUTAGE
    target: ServiceTarget

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
    kind: Annotated[Literal[FaultKind.AE_TITLE_NOT_ALLOWED], _KIND] = FaultKind.AE_TITLE_NOT_ALLOWED
    target: DeviceTarget
    count: Count = None
    service: Annotated[str, Field(min_length=1)]
    """The PACS (its service name) whose allow-list lacks the devices' AE titles."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PacsTrustMissing(_Window):
    """The PACS of one site (``site:NAME``) does not trust the hospital's CA: the
    certificate is trusted for FHIR and EST at that site, not by its PACS (seed §4)."""

    __pydantic_config__: ClassVar[ConfigDict] = _STRICT
    targets: ClassVar[frozenset[TargetForm]] = frozenset({TargetForm.SITE})
    kind: Annotated[Literal[FaultKind.PACS_TRUST_MISSING], _KIND] = FaultKind.PACS_TRUST_MISSING
    target: SiteTarget


@dataclass(frozen=True, slots=True, kw_only=True)
class DicomEndpointChanged(_Window):
    """A PACS (``service:NAME``) moves to another ``port`` and/or called ``ae_title``
    at ``start``; devices keep sending to the old endpoint until the change is
    distributed to them at ``end`` (the playbook's "DICOM endpoint changed")."""

    __pydantic_config__: ClassVar[ConfigDict] = _STRICT
    targets: ClassVar[frozenset[TargetForm]] = frozenset({TargetForm.SERVICE})
    kind: Annotated[Literal[FaultKind.DICOM_ENDPOINT_CHANGED], _KIND] = (
        FaultKind.DICOM_ENDPOINT_CHANGED
    )
    target: ServiceTarget
    port: Annotated[int | None, Field(ge=1, le=65535, strict=True)] = None
    """The PACS's new DICOM TLS port (absent: unchanged)."""
    ae_title: Annotated[str | None, Field(min_length=1, max_length=16)] = None
    """The PACS's new called AE title (absent: unchanged)."""

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
    kind: Annotated[Literal[FaultKind.FIRMWARE_BREAKS_DICOM_TLS], _KIND] = (
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


FaultSpec = (
    RenewalAgentBroken
    | RevokedCertificate
    | CaOutage
    | TrustBundleMissing
    | TrustBundleStale
    | ClockSkew
    | BlockedRoute
    | ServiceOutage
    | Partition
    | PolicyDrift
    | ExceptionExpired
    | SiteOutage
    | TokenExpired
    | IdpOutage
    | IdpKeyRotation
    | EhrOutage
    | PatientMoved
    | ScopeDrift
    | ClientCredentialLeaked
    | PacsOutage
    | AeTitleNotAllowed
    | PacsTrustMissing
    | DicomEndpointChanged
    | FirmwareBreaksDicomTls
)
