"""A design compiled: the one function that decides a flow (DESIGN: one decision core).

:class:`Matrix` answers "may this source reach this destination on this service,
holding these identities, at this time?" with a :class:`Verdict`: a Batfish-style
:class:`Disposition`, the rule that decided and why.  The network hop
(:class:`~testbed.network.policy.DesignPolicy`, in simulation and live mode alike) and
the analysis (:mod:`testbed.network.flows`) both ask it; nothing else decides.

The order of a decision:

1. the source's group (the first group selecting it; none: ``DENIED_OUT``), then the
   destination's (none: ``DENIED_IN``);
2. different sites when the design does not route between sites: ``NO_ROUTE``;
3. the same segment (group segmentation, same group, same site): ``ACCEPTED``, no
   filter stands between them (a VLAN);
4. the rules, then the exceptions that have not expired, from the source's group to
   the destination's, at **layer 4**, as a port filter enforces them: a rule opens its
   service's (protocol, port), so it lets the flow reach every service listening on
   that (protocol, port) in the destination's group (``any``: every port).  None
   opens the flow's port: ``DENIED_IN``;
5. the identity conditions of the **service the flow reaches** (a filter sees ports;
   identities are checked by the service above it).  The flow is ``ACCEPTED`` by the
   first of these whose condition the source meets, else ``DENIED_IDENTITY``:

   a. the opening rules that name this service (or ``any``), in order;
   b. when rules written for other services on the same port open it too (FHIR
      reached through an EST rule on tcp/443), the conditions the design's rules and
      exceptions set on this service into the destination's group from any group,
      expired or not: what the service accepts from anyone the design lets use it
      (an exception expiring closes its port, not the service's check).

   A flow that only another service's rule lets through, to a service the design
   sets no condition on there, is ``DENIED_IDENTITY`` with no condition: the model
   does not know what that service asks, and does not let the flow through on the
   condition of a rule written for another one (EST's ``none`` does not open FHIR
   to devices without the certificate FHIR asks for).  Every step only adds ways
   through, so adding a rule never closes a flow and removing one never opens one.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from testbed.devices import DeviceClass
from testbed.network.catalog import Catalog, EndpointKind, Protocol, load_catalog
from testbed.network.design import (
    ANY,
    Design,
    DesignException,
    Group,
    IdentityCondition,
    Rule,
    Segmentation,
)
from testbed.smart.scopes import Scope, ScopeError, covers, parse_scope

__all__ = ["Disposition", "Held", "Matrix", "Place", "Verdict", "holds_scope"]

_Entry = tuple[str, Rule, DesignException | None]
"""A rule or exception of the design, with its label (``rules[2]``, ``exception ID``)."""


class Disposition(StrEnum):
    """What happens to a flow (Batfish's FlowDisposition, plus identity)."""

    ACCEPTED = "ACCEPTED"
    DENIED_IN = "DENIED_IN"
    DENIED_OUT = "DENIED_OUT"
    NO_ROUTE = "NO_ROUTE"
    DENIED_IDENTITY = "DENIED_IDENTITY"


@dataclass(frozen=True, slots=True)
class Place:
    """Where an endpoint is, and what it is: everything a group selects on."""

    kind: EndpointKind
    site: str
    zone: str
    device_class: DeviceClass | None = None


@dataclass(frozen=True, slots=True)
class Held:
    """The identities a flow's source holds."""

    certificate: bool = False
    shared: bool = False
    scopes: frozenset[str] = frozenset()
    ae_title: bool = False

    def meets(self, rule: Rule) -> bool:
        """Whether a flow carrying these identities meets ``rule``'s condition."""
        condition = rule.identity
        if condition is IdentityCondition.NONE:
            return True
        if condition is IdentityCondition.SHARED_CREDENTIAL:
            return self.shared
        if condition is IdentityCondition.VALID_DEVICE_CERTIFICATE:
            return self.certificate
        if condition is IdentityCondition.TOKEN_WITH_SCOPE:
            return rule.scope is not None and holds_scope(self.scopes, rule.scope)
        return self.ae_title  # AE_TITLE_ALLOWED


def holds_scope(scopes: frozenset[str], wanted: str) -> bool:
    """Whether one of ``scopes`` covers ``wanted`` (SMART semantics, v1 and v2 alike:
    ``system/Observation.cr`` and ``system/*.cruds`` hold ``system/Observation.c``); a
    text that does not parse as a scope counts only as itself."""
    if wanted in scopes:
        return True
    need = _scope(wanted)
    return need is not None and any(
        have is not None and covers(have, need) for have in map(_scope, scopes)
    )


@functools.lru_cache(maxsize=1024)
def _scope(text: str) -> Scope | None:
    try:
        return parse_scope(text)
    except ScopeError:
        return None


@dataclass(frozen=True, slots=True)
class Verdict:
    """A flow's disposition, the rule that decided it (``rules[2]``, ``exception
    ID``, ``segment``; empty when none did), the identity condition in play, why, and
    until when it holds by time alone (an exception's expiry; None: no limit)."""

    disposition: Disposition
    rule: str
    identity: IdentityCondition | None
    detail: str
    until: datetime | None = None

    @property
    def accepted(self) -> bool:
        """Whether the flow gets through."""
        return self.disposition is Disposition.ACCEPTED


class Matrix:
    """A design's groups and rules, ready to decide flows (services placed on the
    wire by ``catalog``, default the shipped one)."""

    def __init__(self, design: Design, *, catalog: Catalog | None = None) -> None:
        self.design = design
        services = (catalog or load_catalog()).services
        #: each service's (protocol, port): what a rule on it opens
        self._wire: dict[str, tuple[Protocol, int]] = {
            name: (s.protocol, s.port) for name, s in services.items()
        }
        self._groups: dict[Place, Group | None] = {}
        labelled: list[_Entry] = [
            (f"rules[{i}]", rule, None) for i, rule in enumerate(design.rules)
        ]
        labelled += [(f"exception {e.id}", e.as_rule(), e) for e in design.exceptions]
        self._cells: dict[tuple[str, str], list[_Entry]] = {}
        self._into: dict[str, list[_Entry]] = {}
        for entry in labelled:
            self._cells.setdefault((entry[1].source, entry[1].to), []).append(entry)
            self._into.setdefault(entry[1].to, []).append(entry)

    def group_of(self, place: Place) -> Group | None:
        """The first group of the design that selects ``place`` (None: no group)."""
        if place not in self._groups:
            self._groups[place] = next((g for g in self.design.groups if _selects(g, place)), None)
        return self._groups[place]

    def decide(
        self, source: Place, destination: Place, service: str, held: Held,
        *, at: datetime | None = None, expired: frozenset[str] = frozenset(),
    ) -> Verdict:
        """The verdict on one flow (``at``: the time exceptions are judged at; None:
        every exception is in force; ``expired``: ids of exceptions expired early)."""
        src, dst = self.group_of(source), self.group_of(destination)
        if src is None:
            return Verdict(Disposition.DENIED_OUT, "", None,
                           f"the source ({_where(source)}) is in no group of design "
                           f"{self.design.name!r}")  # fmt: skip
        if dst is None:
            return Verdict(Disposition.DENIED_IN, "", None,
                           f"the destination ({_where(destination)}) is in no group of "
                           f"design {self.design.name!r}")  # fmt: skip
        same_site = source.site == destination.site
        if not same_site and not self.design.routed_sites:
            return Verdict(Disposition.NO_ROUTE, "", None,
                           f"design {self.design.name!r} routes no traffic between sites "
                           f"({source.site} -> {destination.site})")  # fmt: skip
        if src is dst and same_site and self.design.segmentation is Segmentation.GROUP:
            return Verdict(Disposition.ACCEPTED, "segment", IdentityCondition.NONE,
                           f"same segment: group {src.name!r} at {source.site}")  # fmt: skip
        return self._rules(src, dst, service, held, same_site=same_site, at=at,
                           expired=expired)  # fmt: skip

    def opens(self, rule: Rule, service: str) -> bool:
        """Whether ``rule`` lets a flow reach ``service`` through a port filter: it is
        on ``any``, on ``service``, or on another service on the same (protocol, port)."""
        if rule.service in (ANY, service):
            return True
        wire = self._wire.get(service)
        return wire is not None and self._wire.get(rule.service) == wire

    def _rules(
        self, src: Group, dst: Group, service: str, held: Held, *, same_site: bool,
        at: datetime | None, expired: frozenset[str],
    ) -> Verdict:
        def in_force(exception: DesignException | None) -> bool:
            return exception is None or ((at is None or at < exception.expires)
                                         and exception.id not in expired)  # fmt: skip

        opening = [
            (label, rule, exception)
            for label, rule, exception in self._cells.get((src.name, dst.name), ())
            if self.opens(rule, service) and (same_site or not rule.same_site)
            and in_force(exception)
        ]  # fmt: skip
        if not opening:
            detail = f"no rule lets {src.name!r} reach {dst.name!r} on {service}{self._on(service)}"
            return Verdict(Disposition.DENIED_IN, "", None, detail)
        what = f"{src.name} -> {dst.name} on {service}"
        named = [entry for entry in opening if entry[1].service in (ANY, service)]
        others = [entry for entry in opening if entry[1].service not in (ANY, service)]
        if not others or any(held.meets(rule) for _, rule, _ in named):
            return _first_met(named, held, at, what)
        # the port is open by rules written for other services too: the service's own
        # conditions into this group, whoever they were written for (5b)
        via = f" through {others[0][0]} ({others[0][1].service}{self._on(service)})"
        demands = [entry for entry in self._into.get(dst.name, ())
                   if entry[1].service == service and entry not in named]  # fmt: skip
        until = _expiry(opening, at)
        for label, rule, _ in demands:
            if held.meets(rule):
                detail = f"{what}{via}, meeting {rule.identity} as {label} asks"
                return Verdict(Disposition.ACCEPTED, others[0][0], rule.identity, detail, until)
        if named:
            return _first_met(named, held, at, what)
        if demands:
            label, rule, _ = demands[0]
            detail = f"{what}{via} needs {rule.identity} ({label})"
            return Verdict(Disposition.DENIED_IDENTITY, others[0][0], rule.identity, detail,
                           until)  # fmt: skip
        detail = (f"{what}{via}: the design sets no identity condition on {service} "
                  f"into {dst.name!r}, so no flow to it is accepted")  # fmt: skip
        return Verdict(Disposition.DENIED_IDENTITY, others[0][0], None, detail, until)

    def _on(self, service: str) -> str:
        wire = self._wire.get(service)
        return "" if wire is None else f", {wire[0]}/{wire[1]}"


def _expiry(entries: list[_Entry], at: datetime | None) -> datetime | None:
    """Until when a verdict over ``entries`` holds by time alone (None: no limit)."""
    expiries = [e.expires for _, _, e in entries if e is not None]
    return min(expiries) if expiries and at is not None else None


def _first_met(entries: list[_Entry], held: Held, at: datetime | None, what: str) -> Verdict:
    """``ACCEPTED`` by the first of ``entries`` whose condition ``held`` meets, else
    ``DENIED_IDENTITY`` naming the first."""
    until = _expiry(entries, at)
    for label, rule, exception in entries:
        if held.meets(rule):
            detail = f"{what} by {label}"
            if exception is not None:
                detail += f" (owner {exception.owner}, expires {exception.expires:%Y-%m-%d})"
            return Verdict(Disposition.ACCEPTED, label, rule.identity, detail, until)
    label, rule, _ = entries[0]
    detail = f"{what} needs {rule.identity} ({label})"
    return Verdict(Disposition.DENIED_IDENTITY, label, rule.identity, detail, until)


def _selects(group: Group, place: Place) -> bool:
    return (
        (not group.kinds or place.kind in group.kinds)
        and (not group.sites or place.site in group.sites)
        and (not group.zones or place.zone in group.zones)
        and (not group.device_classes or place.device_class in group.device_classes)
    )


def _where(place: Place) -> str:
    what = place.device_class or place.kind
    return f"{what} in {place.zone} at {place.site}"
