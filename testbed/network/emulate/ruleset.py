"""A design's matrix compiled to one nftables table (concatenated sets, no rule per pair).

The table filters the services namespace's input, so every flow from a zone to an
asset meets it.  Addresses are tagged with their (group, site) and the rules of the
design become set elements over the tags::

    map src_tag   { type ipv4_addr : mark }          source address -> (group, site)
    map dst_tag   { type ipv4_addr : mark }          asset address  -> (group, site)
    set allow     { type mark . mark . inet_service } rule on one service
    set allow_any { type mark . mark }               rule on 'any', or one segment

    meta mark set ip saddr map @src_tag
    ct mark set ip daddr map @dst_tag
    meta mark . ct mark . tcp dport @allow accept
    meta mark . ct mark @allow_any accept
    reject with tcp reset

The compilation reads the design's rules, not the model's verdicts: its elements are
the design's rules and unexpired exceptions expanded over the sites they apply to
(``same_site``, ``routed_sites``), plus one segment per (group, site) when a group is
one segment.  An address in no group has no tag and meets no element.  Refusals are
TCP resets, so a refused probe ends in milliseconds (REFERENCES: Networks).  Every
element carries the label of the rule it came from as its comment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from ipaddress import IPv4Address

from testbed.network.catalog import Catalog, Protocol, load_catalog
from testbed.network.design import ANY, Design, Rule, Segmentation
from testbed.network.emulate.layout import Flow, Plan
from testbed.network.matrix import Matrix, Place
from testbed.network.reach import place_of

__all__ = ["TABLE", "Element", "Ruleset", "compile_ruleset"]

TABLE = "testbed"
"""The table's name (``inet`` family) in the services namespace."""


@dataclass(frozen=True, slots=True)
class Element:
    """One element of the ``allow`` set (``port`` set) or ``allow_any`` (``port`` None)."""

    source: int
    destination: int
    port: int | None
    label: str
    #: the rule's service ('any' for a rule on any service or a segment)
    service: str = ANY

    @property
    def key(self) -> str:
        """The element as nftables writes it."""
        tags = f"{self.source:#010x} . {self.destination:#010x}"
        return tags if self.port is None else f"{tags} . {self.port}"

    @property
    def set_name(self) -> str:
        """The set it belongs to."""
        return "allow_any" if self.port is None else "allow"


@dataclass(frozen=True, slots=True)
class Ruleset:
    """The compiled table: address tags and set elements, and its nftables text."""

    source_tags: dict[IPv4Address, int]
    destination_tags: dict[IPv4Address, int]
    elements: tuple[Element, ...]

    def text(self) -> str:
        """The table as an ``nft -f`` file."""
        def elements(pairs: list[str]) -> str:
            return f" elements = {{ {', '.join(pairs)} }};" if pairs else ""

        src = [f"{a} : {t:#010x}" for a, t in self.source_tags.items()]
        dst = [f"{a} : {t:#010x}" for a, t in self.destination_tags.items()]
        allow = [f'{e.key} comment "{e.label}"' for e in self.elements if e.port is not None]
        any_ = [f'{e.key} comment "{e.label}"' for e in self.elements if e.port is None]
        return "\n".join([
            f"table inet {TABLE} {{",
            f"  map src_tag {{ type ipv4_addr : mark;{elements(src)} }}",
            f"  map dst_tag {{ type ipv4_addr : mark;{elements(dst)} }}",
            f"  set allow {{ type mark . mark . inet_service;{elements(allow)} }}",
            f"  set allow_any {{ type mark . mark;{elements(any_)} }}",
            "  chain input {",
            "    type filter hook input priority filter; policy accept;",
            '    iif "lo" accept',
            "    ct state established,related accept",
            "    meta l4proto != tcp accept",
            "    meta mark set ip saddr map @src_tag",
            "    ct mark set ip daddr map @dst_tag",
            "    meta mark . ct mark . tcp dport @allow accept",
            "    meta mark . ct mark @allow_any accept",
            "    reject with tcp reset",
            "  }",
            "}",
            "",
        ])  # fmt: skip

    def element_for(self, flow: Flow) -> Element | None:
        """The first element that lets ``flow`` through (None: none does)."""
        src = self.source_tags.get(flow.source.address)
        dst = self.destination_tags.get(flow.target.address)
        for element in self.elements:
            if (element.source, element.destination) == (src, dst) and element.port in (
                None, flow.port,
            ):
                return element
        return None


def compile_ruleset(plan: Plan, *, catalog: Catalog | None = None) -> Ruleset:
    """The nftables table that enforces ``plan.design`` at ``plan.at``."""
    catalog = catalog or load_catalog()
    design = plan.design
    matrix = Matrix(design, catalog=catalog)
    groups = {g.name: i for i, g in enumerate(design.groups, start=1)}
    sites = {s: i for i, s in enumerate(plan.sites, start=1)}

    def tag(place: Place) -> int | None:
        group = matrix.group_of(place)
        return None if group is None else groups[group.name] << 16 | sites[place.site]

    source_tags = {s.address: t for s in plan.sources if (t := tag(s.place)) is not None}
    destination_tags = {
        t.address: tag_
        for t in plan.targets if (tag_ := tag(place_of(t.endpoint))) is not None
    }  # fmt: skip
    elements: dict[tuple[int, int, int | None], Element] = {}
    if design.segmentation is Segmentation.GROUP:  # the matrix asks segments first
        for index in groups.values():
            for site, s in sites.items():
                key = index << 16 | s
                elements[(key, key, None)] = Element(key, key, None, f"segment {site}")
    for label, rule in _rules_in_force(design, plan.at, catalog):
        port = None if rule.service == ANY else catalog.services[rule.service].port
        for src_site in plan.sites:
            for dst_site in plan.sites:
                if src_site != dst_site and (rule.same_site or not design.routed_sites):
                    continue
                src = groups[rule.source] << 16 | sites[src_site]
                dst = groups[rule.to] << 16 | sites[dst_site]
                elements.setdefault((src, dst, port),
                                    Element(src, dst, port, label, rule.service))  # fmt: skip
    return Ruleset(source_tags, destination_tags, tuple(elements.values()))


def _rules_in_force(
    design: Design, at: datetime | None, catalog: Catalog
) -> list[tuple[str, Rule]]:
    """The rules and the exceptions not expired at ``at``, labelled as the matrix
    labels them; rules on a service not on TCP are left out (the probes are TCP)."""
    rules = [(f"rules[{i}]", rule) for i, rule in enumerate(design.rules)]
    rules += [(f"exception {e.id}", e.as_rule()) for e in design.exceptions
              if at is None or at < e.expires]  # fmt: skip
    return [(label, rule) for label, rule in rules if rule.service == ANY
            or catalog.services[rule.service].protocol is Protocol.TCP]  # fmt: skip
