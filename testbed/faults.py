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
    "BlockedRoute",
    "CaOutage",
    "ClientCredentialLeaked",
    "ClockSkew",
    "DeviceFault",
    "EhrOutage",
    "FaultKind",
    "FaultSpec",
    "IdpKeyRotation",
    "IdpOutage",
    "PatientMoved",
    "RenewalAgentBroken",
    "RevokedCertificate",
    "ScopeDrift",
    "ServiceOutage",
    "TokenExpired",
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
    # the identity provider and the EHR (issue 11; a scenario with an ``ehr`` block)
    TOKEN_EXPIRED = "token-expired"
    IDP_OUTAGE = "idp-outage"
    IDP_KEY_ROTATION = "idp-key-rotation"
    EHR_OUTAGE = "ehr-outage"
    PATIENT_MOVED = "patient-moved"
    SCOPE_DRIFT = "scope-drift"
    CLIENT_CREDENTIAL_LEAKED = "client-credential-leaked"


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


# -- the identity provider and the EHR (issue 11) ------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenExpired(_Window):
    """The target devices' token caches read a clock ``offset`` behind: they present
    cached access tokens past their expiry (the EHR answers 401 ``token-expired``;
    the device then drops the token and gets a new one at its next try)."""

    __pydantic_config__: ClassVar[ConfigDict] = _STRICT
    targets: ClassVar[frozenset[TargetForm]] = DEVICES
    kind: Literal[FaultKind.TOKEN_EXPIRED] = FaultKind.TOKEN_EXPIRED
    target: Annotated[str, Field(min_length=1)]
    count: Annotated[int | None, Field(ge=1, strict=True)] = None
    offset: Duration = field(default_factory=lambda: parse_duration("2h"))


@dataclass(frozen=True, slots=True, kw_only=True)
class IdpOutage(_Window):
    """The identity provider answers nothing: no token is granted (devices keep their
    data, and a token they hold still works until it expires)."""

    __pydantic_config__: ClassVar[ConfigDict] = _STRICT
    targets: ClassVar[frozenset[TargetForm]] = frozenset({TargetForm.IDP})
    kind: Literal[FaultKind.IDP_OUTAGE] = FaultKind.IDP_OUTAGE
    target: Literal["idp"] = "idp"


@dataclass(frozen=True, slots=True, kw_only=True)
class IdpKeyRotation(_Window):
    """The IdP rotates its signing key at ``start`` (the old key stays published for
    ``overlap``) while the EHR's copy of the IdP's JWKS is held stale until ``end``:
    tokens signed with the new key are refused (``token-key-unknown``) until then."""

    __pydantic_config__: ClassVar[ConfigDict] = _STRICT
    targets: ClassVar[frozenset[TargetForm]] = frozenset({TargetForm.IDP})
    kind: Literal[FaultKind.IDP_KEY_ROTATION] = FaultKind.IDP_KEY_ROTATION
    target: Literal["idp"] = "idp"
    overlap: Duration = field(default_factory=lambda: parse_duration("0s"))


@dataclass(frozen=True, slots=True, kw_only=True)
class EhrOutage(_Window):
    """An EHR (``service:NAME``) fails: for ``answers_lost`` from ``start`` it stores
    writes but its answers are lost (devices keep the items and retry; their
    ``If-None-Exist`` makes no duplicate), then it is down until ``end``."""

    __pydantic_config__: ClassVar[ConfigDict] = _STRICT
    targets: ClassVar[frozenset[TargetForm]] = frozenset({TargetForm.SERVICE})
    kind: Literal[FaultKind.EHR_OUTAGE] = FaultKind.EHR_OUTAGE
    target: Annotated[str, Field(pattern=r"^service:.+$")]
    answers_lost: Duration = field(default_factory=lambda: parse_duration("10m"))

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
    kind: Literal[FaultKind.PATIENT_MOVED] = FaultKind.PATIENT_MOVED
    target: Annotated[str, Field(min_length=1)]
    count: Annotated[int | None, Field(ge=1, strict=True)] = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ScopeDrift(_Window):
    """A firmware update makes the target devices ask for ``scopes`` instead of their
    own until ``end`` (the rollback): the IdP grants only what is pre-authorized, and
    refuses (``scope-not-authorized``) when nothing asked for is."""

    __pydantic_config__: ClassVar[ConfigDict] = _STRICT
    targets: ClassVar[frozenset[TargetForm]] = DEVICES
    kind: Literal[FaultKind.SCOPE_DRIFT] = FaultKind.SCOPE_DRIFT
    target: Annotated[str, Field(min_length=1)]
    count: Annotated[int | None, Field(ge=1, strict=True)] = None
    scopes: Annotated[str, Field(min_length=1)] = "system/Patient.cruds system/Encounter.u"


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientCredentialLeaked(_Window):
    """Someone else holds the target devices' client credential until ``end``: each time
    a device asks for a token, the other party sends the same credential (its
    assertion, replayed; or the shared secret).  Refused as a replay
    (``token-replayed``) under ``private_key_jwt``; granted under
    ``client_secret_basic``, where the oracle counts it as unauthorized access."""

    __pydantic_config__: ClassVar[ConfigDict] = _STRICT
    targets: ClassVar[frozenset[TargetForm]] = DEVICES
    kind: Literal[FaultKind.CLIENT_CREDENTIAL_LEAKED] = FaultKind.CLIENT_CREDENTIAL_LEAKED
    target: Annotated[str, Field(min_length=1)]
    count: Annotated[int | None, Field(ge=1, strict=True)] = None


FaultSpec = (
    RenewalAgentBroken
    | RevokedCertificate
    | CaOutage
    | TrustBundleMissing
    | TrustBundleStale
    | ClockSkew
    | BlockedRoute
    | ServiceOutage
    | TokenExpired
    | IdpOutage
    | IdpKeyRotation
    | EhrOutage
    | PatientMoved
    | ScopeDrift
    | ClientCredentialLeaked
)
