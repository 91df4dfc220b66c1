"""Search parameters: what ``patient``, ``encounter``, ``location``, ``code``,
``date``, ``status``, ``identifier`` and ``_id`` match in each resource type.

Each parameter reads values from a resource (:data:`PARAMETERS`) and compares them
with the query's value by its FHIR search type:

- reference (``patient``, ``encounter``, ``location``): ``Type/id`` or a bare ``id``;
- token (``code``, ``status``, ``identifier``, ``_id``): ``system|code``, ``|code``
  (no system), ``code`` (any system) or ``system|`` (any code);
- date: an optional prefix (``eq``, ``ne``, ``lt``, ``le``, ``gt``, ``ge``) and an
  ISO date or dateTime; the value's precision makes a range (``2026-01-05`` is that
  whole day, UTC) and a resource's date is one instant (a Period's start).

Several values in one parameter (``a,b``) match any of them; repeated parameters must
all match.  An unknown parameter is refused (strict handling, FHIR R4 §3.1.1.5.3).
``_count`` limits the entries returned (the bundle's ``total`` counts all matches).

A search costs the resources it must look at times the values of its other criteria:
the store looks only at the resources with one of the values of an indexed criterion
(:data:`INDEXED`, and ``_id``) when there is one, and refuses a search above
:data:`MAX_SEARCH_WORK` (400 ``too-costly``): one request must not hold the server's
one thread for seconds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from testbed.decisions import Reason
from testbed.ehr.outcomes import IssueType, Refusal, Refused

__all__ = [
    "DEFAULT_COUNT",
    "INDEXED",
    "MAX_COUNT",
    "MAX_SEARCH_WORK",
    "PARAMETERS",
    "Criterion",
    "Query",
    "parse_query",
]

DEFAULT_COUNT = 50
MAX_COUNT = 1000
MAX_SEARCH_WORK = 100_000
"""The comparisons one search may make (resources looked at x the values of the
criteria other than the index it used): at most about 0.3 s of the server's thread
(measured: 2.8-3.7 µs each)."""
INDEXED = ("identifier", "patient", "subject", "encounter", "target", "entity", "agent")
"""The parameters whose values the store indexes, and ``_id`` (a resource's own
values, never changed: an Encounter's moves change its ``location``, not these)."""


class ParamType(StrEnum):
    """FHIR search parameter types used here."""

    REFERENCE = "reference"
    TOKEN = "token"
    DATE = "date"


Reader = Callable[[dict[str, Any]], Iterator[Any]]


@dataclass(frozen=True, slots=True)
class Parameter:
    """A search parameter: its type and the values it reads from a resource."""

    type: ParamType
    read: Reader


def _at(*path: str) -> Reader:
    """Values at a dotted path, walking lists."""

    def read(data: dict[str, Any]) -> Iterator[Any]:
        values: list[Any] = [data]
        for key in path:
            found: list[Any] = []
            for value in values:
                item = value.get(key) if isinstance(value, dict) else None
                found.extend(item if isinstance(item, list) else [] if item is None else [item])
            values = found
        yield from values

    return read


def _codes(*path: str) -> Reader:
    """``(system, code)`` of each Coding of the CodeableConcepts at ``path``."""
    concepts = _at(*path)

    def read(data: dict[str, Any]) -> Iterator[Any]:
        for concept in concepts(data):
            for coding in concept.get("coding", []) if isinstance(concept, dict) else []:
                yield coding.get("system"), coding.get("code")

    return read


def _identifiers(data: dict[str, Any]) -> Iterator[Any]:
    for ident in data.get("identifier", []):
        yield ident.get("system"), ident.get("value")


def _plain(*path: str) -> Reader:
    """A code or id at ``path``, as ``(None, code)`` (no system)."""
    values = _at(*path)

    def read(data: dict[str, Any]) -> Iterator[Any]:
        for value in values(data):
            yield None, value

    return read


def _first(*readers: Reader) -> Reader:
    def read(data: dict[str, Any]) -> Iterator[Any]:
        for reader in readers:
            yield from reader(data)

    return read


_REF, _TOKEN, _DATE = ParamType.REFERENCE, ParamType.TOKEN, ParamType.DATE
_COMMON = {"_id": Parameter(_TOKEN, _plain("id")), "identifier": Parameter(_TOKEN, _identifiers)}
_CLINICAL = {
    **_COMMON,
    "patient": Parameter(_REF, _at("subject", "reference")),
    "subject": Parameter(_REF, _at("subject", "reference")),
    "encounter": Parameter(_REF, _at("encounter", "reference")),
    "status": Parameter(_TOKEN, _plain("status")),
}

PARAMETERS: dict[str, dict[str, Parameter]] = {
    "Patient": dict(_COMMON),
    "Organization": dict(_COMMON),
    "Location": {**_COMMON, "status": Parameter(_TOKEN, _plain("status"))},
    "Device": {
        **_COMMON,
        "location": Parameter(_REF, _at("location", "reference")),
        "status": Parameter(_TOKEN, _plain("status")),
    },
    "Encounter": {
        **_CLINICAL,
        "encounter": Parameter(_REF, lambda data: iter(())),  # an Encounter is not in one
        "location": Parameter(_REF, _at("location", "location", "reference")),
        "date": Parameter(_DATE, _at("period", "start")),
    },
    "Observation": {
        **_CLINICAL,
        "code": Parameter(_TOKEN, _codes("code")),
        "date": Parameter(
            _DATE,
            _first(
                _at("effectiveDateTime"), _at("effectivePeriod", "start"), _at("effectiveInstant")
            ),
        ),
    },
    "DiagnosticReport": {
        **_CLINICAL,
        "code": Parameter(_TOKEN, _codes("code")),
        "date": Parameter(_DATE, _first(_at("effectiveDateTime"), _at("effectivePeriod", "start"))),
    },
    "ServiceRequest": {
        **_CLINICAL,
        "code": Parameter(_TOKEN, _codes("code")),
        "authored": Parameter(_DATE, _at("authoredOn")),
    },
    "ImagingStudy": {
        **_CLINICAL,
        "started": Parameter(_DATE, _at("started")),
        "modality": Parameter(
            _TOKEN,
            lambda data: ((c.get("system"), c.get("code")) for c in data.get("modality", [])),
        ),
    },
    "Provenance": {
        **_COMMON,
        "target": Parameter(_REF, _at("target", "reference")),
        "agent": Parameter(_REF, _at("agent", "who", "reference")),
    },
    "AuditEvent": {
        **_COMMON,
        "entity": Parameter(_REF, _at("entity", "what", "reference")),
        "agent": Parameter(_REF, _at("agent", "who", "reference")),
    },
}
"""Per resource type, its search parameters by name."""

_PREFIXES = ("eq", "ne", "lt", "le", "gt", "ge")


@dataclass(frozen=True, slots=True)
class Criterion:
    """One query parameter: a parameter and the values any of which must match
    (``ranges``: a date parameter's values, parsed once)."""

    name: str
    parameter: Parameter
    values: tuple[str, ...]
    ranges: tuple[tuple[str, datetime, datetime], ...] = ()

    def matches(self, data: dict[str, Any]) -> bool:
        """Whether ``data`` has a value matching one of the criterion's values."""
        found = list(self.parameter.read(data))
        if self.parameter.type is ParamType.DATE:
            instants = [when for when in map(_when, found) if when is not None]
            return any(_date_matches(wanted, when) for wanted in self.ranges for when in instants)
        return any(_match(self.parameter.type, value, found) for value in self.values)


@dataclass(frozen=True, slots=True)
class Query:
    """A parsed search: criteria that must all match, and the page size."""

    criteria: tuple[Criterion, ...]
    count: int = DEFAULT_COUNT

    def matches(self, data: dict[str, Any]) -> bool:
        """Whether ``data`` matches every criterion."""
        return all(criterion.matches(data) for criterion in self.criteria)


def parse_query(resource_type: str, pairs: tuple[tuple[str, str], ...]) -> Query:
    """The :class:`Query` of ``pairs`` for ``resource_type``; :class:`Refused` (400) for
    an unknown parameter, a modifier, or a bad ``_count`` or date."""
    known = PARAMETERS[resource_type]
    count = DEFAULT_COUNT
    criteria: list[Criterion] = []
    for name, value in pairs:
        if name == "_count":
            count = _count(value)
        elif name in known:
            values = tuple(value.split(","))
            ranges: tuple[tuple[str, datetime, datetime], ...] = ()
            if known[name].type is ParamType.DATE:
                ranges = tuple(_date_range(each) for each in values)
            criteria.append(Criterion(name, known[name], values, ranges))
        else:
            supported = ", ".join(sorted([*known, "_count"]))
            raise Refused(
                _bad(
                    f"unknown search parameter {name!r} for {resource_type} "
                    f"(supported: {supported})"
                )
            )
    return Query(tuple(criteria), count)


def _bad(message: str) -> Refusal:
    return Refusal(400, Reason.REQUEST_MALFORMED, IssueType.INVALID, message)


def _count(value: str) -> int:
    if not value.isdigit() or int(value) > MAX_COUNT:
        raise Refused(_bad(f"_count must be an integer from 0 to {MAX_COUNT}, got {value!r}"))
    return int(value)


def _match(kind: ParamType, wanted: str, found: list[Any]) -> bool:
    if kind is ParamType.REFERENCE:
        return any(_reference_matches(wanted, value) for value in found)
    return any(_token_matches(wanted, value) for value in found)


def _reference_matches(wanted: str, value: object) -> bool:
    if not isinstance(value, str):
        return False
    return value == wanted if "/" in wanted else value.rpartition("/")[2] == wanted


def _token_matches(wanted: str, value: tuple[object, object]) -> bool:
    system, code = value
    if "|" not in wanted:
        return code == wanted
    want_system, _, want_code = wanted.partition("|")
    if not want_system:
        return system is None and code == want_code
    return system == want_system and (not want_code or code == want_code)


def _date_range(text: str) -> tuple[str, datetime, datetime]:
    """``(prefix, start, end)`` of a date search value; :class:`Refused` if malformed."""
    prefix, rest = ("eq", text)
    if text[:2] in _PREFIXES:
        prefix, rest = text[:2], text[2:]
    try:
        if len(rest) == 10:
            start = datetime.fromisoformat(rest).replace(tzinfo=UTC)
            return prefix, start, start + timedelta(days=1)
        instant = _instant(rest)
    except ValueError:
        raise Refused(
            _bad(
                f"a date must be YYYY-MM-DD or a dateTime with a time zone, "
                f"after an optional prefix {'/'.join(_PREFIXES)}; got {text!r}"
            )
        ) from None
    return prefix, instant, instant + timedelta(seconds=1)


def _instant(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError("no time zone")
    return value


def _when(value: object) -> datetime | None:
    """A resource's date value as an instant (a bare date: its start, UTC), or None."""
    if not isinstance(value, str):
        return None
    try:
        return (
            _instant(value)
            if len(value) > 10
            else datetime.fromisoformat(value).replace(tzinfo=UTC)
        )
    except ValueError:
        return None


def _date_matches(wanted: tuple[str, datetime, datetime], when: datetime) -> bool:
    prefix, start, end = wanted
    if prefix == "eq":
        return start <= when < end
    if prefix == "ne":
        return not start <= when < end
    if prefix == "lt":
        return when < start
    if prefix == "le":
        return when < end
    if prefix == "gt":
        return when >= end
    return when >= start  # ge
