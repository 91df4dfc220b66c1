"""The EHR's resources in memory: create (plain or conditional), read, search.

Ids are server-assigned, opaque and deterministic: the n-th id of a store seeded with
``seed`` is the first 16 hex digits of BLAKE2b(``seed:n``), so the same run gives the
same ids.  The store is versionless: a resource keeps its id and has one version
(``meta.versionId`` "1"); there are no updates, so no history.

Conditional create (``If-None-Exist``, FHIR R4 §3.1.0.8.1): the condition is a search
on the type; no match creates, one match answers the existing resource and creates
nothing (so a retry after a lost answer makes no duplicate), more than one refuses
with 412.

A store may be bounded (:class:`Capacity`, :meth:`ResourceStore.bound`: live mode's
``--max-stored-resources`` and ``--max-stored-resource-bytes``; the simulation's
stores are not).  The bound is on what clients cause: a create given ``room`` (a
client's write, a refusal's AuditEvent) that would take the store past either bound
is refused with 507 (``storage-full``); a client's write asks room for what the
server writes after it (its Provenance and AuditEvent), which, like the operator's
and the server's own writes (the census, the device registry), are not checked, so
an accepted write is never left without them and registering a device never fails
half-way.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from hashlib import blake2b
from itertools import islice
from typing import Any, Protocol

from testbed.clock import isoformat
from testbed.decisions import Reason
from testbed.ehr.outcomes import IssueType, Refusal, Refused
from testbed.ehr.search import (
    INDEXED,
    MAX_SEARCH_WORK,
    PARAMETERS,
    Criterion,
    ParamType,
    Query,
)

__all__ = ["RESERVED_SIZE", "Capacity", "Created", "IdSource", "ResourceJournal", "ResourceStore"]

RESERVED_SIZE = 8 * 1024
"""The room (bytes of compact JSON) a create keeps for each resource the server
writes after it: an AuditEvent keeps at most 1,024 characters of a query and 512 of
its outcome (audit.py), and a Provenance names a few references."""


class IdSource:
    """Resource ids from a seeded counter."""

    def __init__(self, seed: int = 0) -> None:
        self._seed = seed
        self._count = 0

    @property
    def issued(self) -> int:
        """How many ids were given out."""
        return self._count

    def continue_after(self, count: int) -> None:
        """Continue a kept store: the next id is the ``count + 1``-th."""
        self._count = count

    def peek(self) -> str:
        """The id :meth:`next` gives next, without giving it out."""
        return blake2b(f"{self._seed}:{self._count + 1}".encode(), digest_size=8).hexdigest()

    def next(self) -> str:
        """The next id (16 lowercase hex digits)."""
        ident = self.peek()
        self._count += 1
        return ident


@dataclass(frozen=True, slots=True)
class Capacity:
    """What a bounded store may hold: ``resources`` of them, ``size`` bytes of them as
    compact JSON (as a journal keeps them)."""

    resources: int
    size: int


@dataclass(frozen=True, slots=True)
class Created:
    """The answer of a create: the resource and whether it is new (False: an
    ``If-None-Exist`` condition matched it)."""

    resource: dict[str, Any]
    new: bool

    @property
    def reference(self) -> str:
        """``Type/id`` of the resource."""
        return f"{self.resource['resourceType']}/{self.resource['id']}"


class ResourceJournal(Protocol):
    """Where a durable transport keeps each resource as it is created or changed."""

    def save(self, resource: dict[str, Any], *, ids_issued: int) -> None:
        """Keep ``resource`` as it is now (``ids_issued``: the id counter after it)."""
        ...


class ResourceStore:
    """Resources by type and id, in creation order.

    ``journal``: told of every created or changed resource (None: memory only, the
    simulation's); :meth:`restore` loads what a journal kept.
    """

    def __init__(self, ids: IdSource, *, journal: ResourceJournal | None = None) -> None:
        self._ids = ids
        self._by_type: dict[str, dict[str, dict[str, Any]]] = {}
        self.journal = journal
        # (type, parameter, value) -> the resources with it, in creation order: the
        # candidates of a search on an indexed parameter (search.INDEXED: a conditional
        # create's usual ``identifier``, a device's ``patient``), so it does not scan
        # every resource of the type; a reference by its id (the part after the "/"),
        # an identifier by its value and (key "identifier|") by "system|value"
        self._by_value: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
        # each resource's place in creation order (by object: resources stay held)
        self._position: dict[int, int] = {}
        self.capacity: Capacity | None = None
        # with a capacity: each resource's size by (type, id), and their sum
        self._sizes: dict[tuple[str, str], int] = {}
        self._size = 0

    def bound(self, capacity: Capacity) -> None:
        """Hold at most ``capacity`` from now on (what is held already is kept, even
        beyond it: a bound lowered on a kept store refuses the next creates)."""
        self.capacity = capacity
        self._sizes = {
            (kind, ident): _size(resource)
            for kind, resources in self._by_type.items()
            for ident, resource in resources.items()
        }
        self._size = sum(self._sizes.values())

    @property
    def held(self) -> int:
        """How many resources the store holds."""
        return sum(len(resources) for resources in self._by_type.values())

    @property
    def size(self) -> int:
        """The bytes of compact JSON the store holds (0 when it is not bounded)."""
        return self._size

    @property
    def ids_issued(self) -> int:
        """How many ids this store gave out."""
        return self._ids.issued

    def restore(self, resources: Iterable[dict[str, Any]], *, ids_issued: int) -> None:
        """Replace the contents with kept ``resources`` (in creation order) and continue
        the id counter after ``ids_issued``."""
        self._by_type = {}
        self._by_value = {}
        self._position = {}
        for resource in resources:
            self._by_type.setdefault(resource["resourceType"], {})[resource["id"]] = resource
            self._index(resource)
        self._ids.continue_after(ids_issued)
        if self.capacity is not None:
            self.bound(self.capacity)

    def _index(self, resource: dict[str, Any]) -> None:
        kind = resource["resourceType"]
        self._position[id(resource)] = len(self._position)
        keys: set[tuple[str, str, str]] = set()
        for identifier in resource.get("identifier", ()):
            value = identifier.get("value") if isinstance(identifier, dict) else None
            if isinstance(value, str):
                keys.add((kind, "identifier", value))
                system = identifier.get("system")
                if isinstance(system, str) and system:
                    keys.add((kind, "identifier|", f"{system}|{value}"))
        parameters = PARAMETERS.get(kind, {})
        for name in INDEXED:
            parameter = parameters.get(name)
            if parameter is None or parameter.type is not ParamType.REFERENCE:
                continue
            keys.update((kind, name, v.rpartition("/")[2]) for v in parameter.read(resource)
                        if isinstance(v, str))  # fmt: skip
        for key in keys:
            self._by_value.setdefault(key, []).append(resource)

    def _kept(self, resource: dict[str, Any]) -> None:
        if self.journal is not None:
            self.journal.save(resource, ids_issued=self._ids.issued)

    def create(
        self,
        data: dict[str, Any],
        now: datetime,
        *,
        condition: Query | None = None,
        room: int | None = None,
    ) -> Created:
        """Store ``data`` under a new id, unless ``condition`` matches (see the module).

        The stored resource is ``data`` with the server's ``id`` and ``meta`` (the
        client's are replaced, as FHIR create requires).  ``room``: a write a client
        caused, which a bounded store refuses (507, ``storage-full``) unless there is
        room for it and ``room`` more of :data:`RESERVED_SIZE` (None: the server's or
        the operator's own write, not checked).
        """
        kind = data["resourceType"]
        if condition is not None:  # 0, 1 or more: two matches are enough to know
            found = list(islice(self.search(kind, condition), 2))
            if len(found) > 1:
                raise Refused(
                    Refusal(
                        412,
                        Reason.CONDITION_AMBIGUOUS,
                        IssueType.MULTIPLE_MATCHES,
                        f"If-None-Exist matches more than one {kind} resource; "
                        "make the condition select one",
                    )
                )
            if found:
                return Created(found[0], new=False)
        ident = self._ids.peek()
        meta = {"versionId": "1", "lastUpdated": isoformat(now)}
        resource = {"resourceType": kind, "id": ident, "meta": meta}
        resource.update((k, v) for k, v in data.items() if k not in resource)
        if self.capacity is not None:
            size = _size(resource)
            if room is not None:
                self._check_room(kind, size, room)
            self._sizes[(kind, ident)] = size
            self._size += size
        self._ids.next()
        self._by_type.setdefault(kind, {})[ident] = resource
        self._index(resource)
        self._kept(resource)
        return Created(resource, new=True)

    def _check_room(self, kind: str, size: int, room: int) -> None:
        capacity = self.capacity
        assert capacity is not None
        held = self.held
        needed = size + room * RESERVED_SIZE
        if held + 1 + room <= capacity.resources and self._size + needed <= capacity.size:
            return
        raise Refused(
            Refusal(
                507,
                Reason.STORAGE_FULL,
                IssueType.NO_STORE,
                f"this EHR's store is full: it holds {held} resources ({self._size} bytes) "
                f"of at most {capacity.resources} ({capacity.size} bytes), and this {kind} "
                f"needs room for {1 + room} ({needed} bytes); nothing was stored",
            )
        )

    def read(self, kind: str, ident: str) -> dict[str, Any] | None:
        """The resource ``kind/ident``, or None."""
        return self._by_type.get(kind, {}).get(ident)

    def exists(self, kind: str, ident: str) -> bool:
        """Whether ``kind/ident`` is stored."""
        return ident in self._by_type.get(kind, {})

    def search(self, kind: str, query: Query) -> Iterator[dict[str, Any]]:
        """Every resource of ``kind`` that ``query`` matches, in creation order
        (``_count`` is applied by the caller, which reports the total).  A query on an
        indexed parameter looks only at the resources with one of its values; one
        that would make more than :data:`MAX_SEARCH_WORK` comparisons is refused (400
        ``too-costly``) before any is made."""
        candidates, chosen = self._candidates(kind, query)
        # the criteria still to compare for each candidate (the chosen index's one
        # costs a comparison too, so a search on it alone still counts its candidates)
        values = max(1, sum(len(c.values) for c in query.criteria if c is not chosen))
        work = len(candidates) * values if query.criteria else 0
        if work > MAX_SEARCH_WORK:
            raise Refused(
                Refusal(
                    400,
                    Reason.SEARCH_TOO_COSTLY,
                    IssueType.TOO_COSTLY,
                    f"this search would compare {values} values with "
                    f"{len(candidates)} {kind} resources ({work} comparisons, at most "
                    f"{MAX_SEARCH_WORK}); narrow it with one of "
                    f"{', '.join(n for n in INDEXED if n in PARAMETERS[kind])} or fewer values",
                )
            )
        return (data for data in candidates if query.matches(data))

    def _candidates(
        self, kind: str, query: Query
    ) -> tuple[Sequence[dict[str, Any]], Criterion | None]:
        """The fewest resources the query must look at, in creation order, and the
        criterion whose index gave them: its indexed criterion with the fewest, else
        every resource of the type (and None)."""
        best: Sequence[dict[str, Any]] | None = None
        chosen = None
        for criterion in query.criteria:
            found = self._indexed(kind, criterion)
            if found is not None and (best is None or len(found) < len(best)):
                best, chosen = found, criterion
        if best is None:
            return list(self._by_type.get(kind, {}).values()), None
        return best, chosen

    def _indexed(self, kind: str, criterion: Criterion) -> Sequence[dict[str, Any]] | None:
        """The resources with one of ``criterion``'s values (a superset of its
        matches), or None when it has no index (or a value the index cannot serve)."""
        if criterion.name == "_id":
            held = self._by_type.get(kind, {})
            hits = [held[v] for v in set(criterion.values) if v in held]
            return sorted(hits, key=lambda data: self._position[id(data)])
        if criterion.name not in INDEXED:
            return None
        keys: set[tuple[str, str, str]] = set()
        for value in criterion.values:
            if criterion.name != "identifier":  # Type/id or id: the id
                keys.add((kind, criterion.name, value.rpartition("/")[2]))
            elif "|" not in value:  # any system
                keys.add((kind, "identifier", value))
            else:
                system, _, code = value.partition("|")
                if not code:  # every value of a system: not indexed
                    return None
                keys.add((kind, "identifier|", value) if system else (kind, "identifier", code))
        if len(keys) == 1:  # already in creation order
            return self._by_value.get(keys.pop(), [])
        found = {id(r): r for key in keys for r in self._by_value.get(key, ())}
        position = self._position
        return sorted(found.values(), key=lambda data: position[id(data)])

    def since(self, kind: str, position: int) -> Iterator[dict[str, Any]]:
        """The resources of ``kind`` created after the first ``position`` ones."""
        return islice(self._by_type.get(kind, {}).values(), position, None)

    def touch(self, resource: dict[str, Any], now: datetime) -> None:
        """Mark a stored resource changed in place (``meta.lastUpdated``): the one
        change the store knows, an Encounter's location history (context.py)."""
        resource["meta"]["lastUpdated"] = isoformat(now)
        if self.capacity is not None:  # the server's own change: no room asked for
            key = (resource["resourceType"], resource["id"])
            size = _size(resource)
            self._size += size - self._sizes.get(key, 0)
            self._sizes[key] = size
        self._kept(resource)

    def all(self, kind: str) -> list[dict[str, Any]]:
        """Every resource of ``kind``, in creation order."""
        return list(self._by_type.get(kind, {}).values())

    def count(self, kind: str) -> int:
        """How many resources of ``kind`` are stored."""
        return len(self._by_type.get(kind, {}))


def _size(resource: dict[str, Any]) -> int:
    """``resource``'s bytes as compact JSON (ASCII: as a journal keeps it)."""
    return len(json.dumps(resource, separators=(",", ":")))
