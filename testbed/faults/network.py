"""Faults on the network and on reaching services (issue 13's network designs): a
blocked route, a service or a whole site down, a partition, a rule added outside
change control, a design exception expiring early."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar, Literal

from pydantic import ConfigDict, Field

from testbed.faults.window import ALIASED, KIND, STRICT, FaultKind, ServiceTarget, Window
from testbed.targets import TargetForm

__all__ = [
    "BlockedRoute",
    "ExceptionExpired",
    "Partition",
    "PolicyDrift",
    "ServiceOutage",
    "SiteOutage",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class BlockedRoute(Window):
    """Zone ``from`` cannot reach service ``to`` (at ``site``, or everywhere)."""

    __pydantic_config__: ClassVar[ConfigDict] = ALIASED
    #: no target: its fields name a zone, a service and a site
    targets: ClassVar[frozenset[TargetForm]] = frozenset()
    kind: Annotated[Literal[FaultKind.BLOCKED_ROUTE], KIND] = FaultKind.BLOCKED_ROUTE
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

    def event_data(self) -> dict[str, str | None]:
        """The site the route is blocked at (None: everywhere), as live mode writes it."""
        return {"site": self.site}


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceOutage(Window):
    """A clinical service (``service:NAME``) is down: every device action towards it is
    refused at the service hop (``service-unavailable``), and devices keep what they
    cannot deliver."""

    __pydantic_config__: ClassVar[ConfigDict] = STRICT
    targets: ClassVar[frozenset[TargetForm]] = frozenset({TargetForm.SERVICE})
    kind: Annotated[Literal[FaultKind.SERVICE_OUTAGE], KIND] = FaultKind.SERVICE_OUTAGE
    target: ServiceTarget

    @property
    def service(self) -> str:
        """The service that is down."""
        return self.target.partition(":")[2]


_SIDE = r"^(site|zone):.+$"


@dataclass(frozen=True, slots=True, kw_only=True)
class Partition(Window):
    """Two sites (``between: [site:A, site:B]``), or two zones (``[zone:A, zone:B]``,
    at ``site`` or at every site), cannot reach each other: traffic from one side to
    a service on the other is refused both ways (``partitioned``)."""

    __pydantic_config__: ClassVar[ConfigDict] = STRICT
    #: no target: ``between`` names the sides
    targets: ClassVar[frozenset[TargetForm]] = frozenset()
    kind: Annotated[Literal[FaultKind.PARTITION], KIND] = FaultKind.PARTITION
    between: tuple[Annotated[str, Field(pattern=_SIDE)], Annotated[str, Field(pattern=_SIDE)]]
    """The two sides: [site:A, site:B] or [zone:A, zone:B]."""
    site: str | None = None
    """Zones only: the partition is at this site (absent: at every site)."""

    def __post_init__(self) -> None:
        Window.__post_init__(self)
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
class PolicyDrift(Window):
    """A rule added outside change control: zone ``from`` may reach service ``to`` (at
    ``site``, or everywhere) whatever the allow list or the design says.  The daily
    drift scan finds it (a drift alert); its heal removes it and records the exposure."""

    __pydantic_config__: ClassVar[ConfigDict] = ALIASED
    targets: ClassVar[frozenset[TargetForm]] = frozenset()
    kind: Annotated[Literal[FaultKind.POLICY_DRIFT], KIND] = FaultKind.POLICY_DRIFT
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
class ExceptionExpired(Window):
    """The design's exception ``exception:ID`` expires at ``start``, before its date
    (nobody renewed it); the heal is its owner renewing it.  Needs a scenario with a
    ``design``."""

    __pydantic_config__: ClassVar[ConfigDict] = STRICT
    targets: ClassVar[frozenset[TargetForm]] = frozenset()
    kind: Annotated[Literal[FaultKind.EXCEPTION_EXPIRED], KIND] = FaultKind.EXCEPTION_EXPIRED
    target: Annotated[str, Field(pattern=r"^exception:.+$")]
    """The design's exception that expires early: exception:ID."""

    @property
    def exception(self) -> str:
        """The exception's id."""
        return self.target.partition(":")[2]


@dataclass(frozen=True, slots=True, kw_only=True)
class SiteOutage(Window):
    """A whole site (``site:NAME``) is down: nothing reaches a service there and its
    devices reach nothing (``site-down``); they keep what they cannot deliver."""

    __pydantic_config__: ClassVar[ConfigDict] = STRICT
    targets: ClassVar[frozenset[TargetForm]] = frozenset({TargetForm.SITE})
    kind: Annotated[Literal[FaultKind.SITE_OUTAGE], KIND] = FaultKind.SITE_OUTAGE
    target: Annotated[str, Field(pattern=r"^site:.+$")]
    """The site that is down: site:NAME."""

    @property
    def site(self) -> str:
        """The site that is down."""
        return self.target.partition(":")[2]
