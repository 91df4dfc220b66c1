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
    "BlockedRoute",
    "CaOutage",
    "ClockSkew",
    "DeviceFault",
    "ExceptionExpired",
    "FaultKind",
    "FaultSpec",
    "Partition",
    "PolicyDrift",
    "RenewalAgentBroken",
    "RevokedCertificate",
    "ServiceOutage",
    "SiteOutage",
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
    # network designs (issue 13)
    PARTITION = "partition"
    POLICY_DRIFT = "policy-drift"
    EXCEPTION_EXPIRED = "exception-expired"
    SITE_OUTAGE = "site-outage"


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
    kind: Literal[FaultKind.PARTITION] = FaultKind.PARTITION
    between: tuple[Annotated[str, Field(pattern=_SIDE)], Annotated[str, Field(pattern=_SIDE)]]
    site: str | None = None

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

    __pydantic_config__: ClassVar[ConfigDict] = ConfigDict(extra="forbid", populate_by_name=True)
    targets: ClassVar[frozenset[TargetForm]] = frozenset()
    kind: Literal[FaultKind.POLICY_DRIFT] = FaultKind.POLICY_DRIFT
    source: Annotated[str, Field(alias="from", min_length=1)]
    to: Annotated[str, Field(min_length=1)]
    site: str | None = None

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
    kind: Literal[FaultKind.EXCEPTION_EXPIRED] = FaultKind.EXCEPTION_EXPIRED
    target: Annotated[str, Field(pattern=r"^exception:.+$")]

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
    kind: Literal[FaultKind.SITE_OUTAGE] = FaultKind.SITE_OUTAGE
    target: Annotated[str, Field(pattern=r"^site:.+$")]

    @property
    def site(self) -> str:
        """The site that is down."""
        return self.target.partition(":")[2]


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
)
