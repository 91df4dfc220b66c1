"""Flows and reachability: a design asked about every flow of a hospital (Batfish-style).

:func:`flows` is one row per (source endpoint, destination endpoint, service the
destination listens on) with Batfish's columns (``Flow``, ``Src``/``Dst``,
``IP_Protocol``, ``Dst_Port``) and ``Disposition`` (``ACCEPTED``, ``DENIED_IN``,
``DENIED_OUT``, ``NO_ROUTE``, ``DENIED_IDENTITY``), the rule that decided and why.
:func:`reachability` keeps the accepted flows, one row per (source, destination).
Every verdict comes from :class:`~testbed.network.matrix.Matrix`, the function the
network hop asks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd

from testbed.network.catalog import Catalog, load_catalog
from testbed.network.design import CredentialIssuance, Design, load_design
from testbed.network.identity import IdentityState, Snapshot, not_admitted
from testbed.network.matrix import Held, Matrix, Place, Verdict
from testbed.network.topology import Endpoint, HasScenario, Topology, as_topology

__all__ = [
    "FLOW_COLUMNS",
    "DesignLike",
    "HospitalLike",
    "Question",
    "as_design",
    "flows",
    "held_by",
    "place_of",
    "reachability",
    "topology_of",
]

DesignLike = Design | str | Path
"""A design, its name in ``fixtures/designs/``, or its file."""

HospitalLike = Topology | Snapshot | HasScenario | Sequence[Endpoint]
"""A :class:`~testbed.network.topology.Topology`, a hospital, a list of endpoints, or a
:class:`~testbed.network.identity.Snapshot` (endpoints with their identity state at a
scenario time)."""

FLOW_COLUMNS = (
    "Flow", "Src", "Src_Kind", "Src_Site", "Src_Zone", "Src_Group",
    "Dst", "Dst_Kind", "Dst_Site", "Dst_Zone", "Dst_Group",
    "Service", "IP_Protocol", "Dst_Port", "Disposition", "Rule", "Identity", "Detail",
)  # fmt: skip


def as_design(design: DesignLike) -> Design:
    """A design from a design, a name or a path."""
    return design if isinstance(design, Design) else load_design(design)


def topology_of(hospital: HospitalLike) -> Topology:
    """The endpoints of a hospital, topology, list of endpoints or snapshot."""
    return hospital.topology if isinstance(hospital, Snapshot) else as_topology(hospital)


def place_of(endpoint: Endpoint) -> Place:
    """What a group selects on, of an endpoint."""
    return Place(endpoint.kind, endpoint.site, endpoint.zone, endpoint.device_class)


def held_by(endpoint: Endpoint, design: Design) -> Held:
    """The identities an endpoint holds under a design: an asset its service
    certificate (and, under a shared design, the departments' credentials it checks);
    a device its own certificate unless the design issues only a shared credential,
    the shared credential (it is shared), its scopes and AE title."""
    if not endpoint.is_device:
        return Held(certificate=True, shared=design.credentials is CredentialIssuance.SHARED)
    own = design.credentials is not CredentialIssuance.SHARED
    return Held(own, True, frozenset(endpoint.scopes), endpoint.ae_title)


@dataclass
class Question:
    """One design asked about one hospital at one time, with verdicts memoised by
    what they depend on (places, service, identities), not by endpoint.  With an
    ``identity`` state, each device holds what it held at that time
    (:mod:`testbed.network.identity`)."""

    design: Design
    topology: Topology
    catalog: Catalog
    at: datetime | None = None
    identity: IdentityState | None = None

    def __post_init__(self) -> None:
        self.matrix = Matrix(self.design, catalog=self.catalog)
        self._memo: dict[tuple[Place, Place, str, Held], Verdict] = {}

    @classmethod
    def of(
        cls, design: DesignLike, hospital: HospitalLike, *, at: datetime | None = None,
        catalog: Catalog | None = None,
    ) -> Question:
        """Ask ``design`` about ``hospital`` (a snapshot: at its time, unless ``at``
        says otherwise, with its identity state)."""
        catalog = catalog or load_catalog()
        if isinstance(hospital, Snapshot):
            when = hospital.at if at is None else at
            return cls(as_design(design), hospital.topology, catalog, when, hospital.identity)
        return cls(as_design(design), as_topology(hospital), catalog, at)

    def held(self, endpoint: Endpoint) -> Held | None:
        """What ``endpoint`` holds (None: the network does not admit it)."""
        if self.identity is None:
            return held_by(endpoint, self.design)
        return self.identity.held(endpoint, self.design)

    def verdict(self, src: Endpoint, dst: Endpoint, service: str) -> Verdict:
        """The verdict on one flow."""
        held = self.held(src)
        if held is None:
            return not_admitted(src, self.at)
        key = (place_of(src), place_of(dst), service, held)
        verdict = self._memo.get(key)
        if verdict is None:
            verdict = self._memo[key] = self.matrix.decide(key[0], key[1], service, held,
                                                           at=self.at)  # fmt: skip
        return verdict

    def services(self, dst: Endpoint) -> tuple[str, ...]:
        """What ``dst`` listens on."""
        return self.catalog.listens(dst.kind, dst.device_class)

    def each(
        self, sources: Iterable[Endpoint] | None = None,
        destinations: Iterable[Endpoint] | None = None,
    ) -> Iterator[tuple[Endpoint, Endpoint, str, Verdict]]:
        """Every flow from ``sources`` to ``destinations`` (default: every endpoint)."""
        targets = tuple(self.topology.endpoints if destinations is None else destinations)
        for src in self.topology.endpoints if sources is None else sources:
            for dst in targets:
                if dst.id == src.id:
                    continue
                for service in self.services(dst):
                    yield src, dst, service, self.verdict(src, dst, service)

    def group(self, endpoint: Endpoint) -> str:
        """The name of ``endpoint``'s group ('' for none)."""
        group = self.matrix.group_of(place_of(endpoint))
        return "" if group is None else group.name


def flows(
    design: DesignLike,
    hospital: HospitalLike,
    *,
    at: datetime | None = None,
    sources: Callable[[Endpoint], bool] | None = None,
    destinations: Callable[[Endpoint], bool] | None = None,
    catalog: Catalog | None = None,
) -> pd.DataFrame:
    """Every flow of ``hospital`` under ``design`` (``at``: judge exceptions at this
    time; None: every exception in force), optionally only from ``sources`` or to
    ``destinations`` (predicates over endpoints)."""
    question = Question.of(design, hospital, at=at, catalog=catalog)
    endpoints = question.topology.endpoints
    srcs = [e for e in endpoints if sources is None or sources(e)]
    dsts = [e for e in endpoints if destinations is None or destinations(e)]
    return frame(question, question.each(srcs, dsts))


def frame(
    question: Question, rows: Iterable[tuple[Endpoint, Endpoint, str, Verdict]]
) -> pd.DataFrame:
    """The flows table of ``rows``."""
    services = question.catalog.services
    groups: dict[str, str] = {}

    def group(e: Endpoint) -> str:
        if e.id not in groups:
            groups[e.id] = question.group(e)
        return groups[e.id]

    records = [
        (
            f"{src.id}->{dst.id}:{services[svc].protocol}/{services[svc].port}",
            src.id, str(src.kind), src.site, src.zone, group(src),
            dst.id, str(dst.kind), dst.site, dst.zone, group(dst),
            svc, str(services[svc].protocol), services[svc].port,
            str(v.disposition), v.rule, "" if v.identity is None else str(v.identity), v.detail,
        )
        for src, dst, svc, v in rows
    ]  # fmt: skip
    return pd.DataFrame.from_records(records, columns=list(FLOW_COLUMNS))


def reachability(
    design: DesignLike, hospital: HospitalLike, *, at: datetime | None = None,
    catalog: Catalog | None = None,
) -> pd.DataFrame:
    """One row per (source, destination) with an accepted flow: the services and
    ports it reaches (sorted, comma-separated)."""
    table = flows(design, hospital, at=at, catalog=catalog)
    accepted = table[table["Disposition"] == "ACCEPTED"]
    keys = ["Src", "Src_Kind", "Src_Group", "Dst", "Dst_Kind", "Dst_Group"]
    grouped = accepted.groupby(keys, sort=False)
    out = grouped.agg(
        Services=("Service", lambda s: ",".join(sorted(set(s)))),
        Dst_Ports=("Dst_Port", lambda s: ",".join(str(p) for p in sorted(set(s)))),
    )
    return out.reset_index()
