"""The fault grid of a sweep: named fault sets, each replacing the scenario's faults.

::

    # fault-grid.yaml
    fault_sets:
      - {name: none, faults: []}
      - name: ca-outage-10d
        faults: [{kind: ca-outage, start: 8d, end: 18d}]

Validated at the boundary like a scenario: the file, the field path
(``fault_sets[1].faults[0].kind``) and what was expected; each set's targets are
checked against the scenario.  Without a file the grid is one set, ``scenario``:
the scenario's own faults.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, ClassVar

from pydantic import ConfigDict, Field, TypeAdapter

from testbed.crosscheck import cross_check
from testbed.errors import ScenarioError
from testbed.faults import FaultSpec
from testbed.inputs import load_yaml, validate
from testbed.scenario import Scenario
from testbed.sites import NAME

__all__ = ["OWN_FAULTS", "FaultGrid", "FaultSet", "load_grid"]

OWN_FAULTS = "scenario"
"""The name of the one fault set of a sweep without a grid file."""

_STRICT: ConfigDict = ConfigDict(extra="forbid")


@dataclass(frozen=True, slots=True)
class FaultSet:
    """A named set of faults that replaces the scenario's."""

    __pydantic_config__: ClassVar[ConfigDict] = _STRICT

    name: Annotated[str, Field(pattern=NAME)]
    faults: tuple[Annotated[FaultSpec, Field(discriminator="kind")], ...] = ()


@dataclass(frozen=True, slots=True)
class FaultGrid:
    """A whole fault grid file."""

    __pydantic_config__: ClassVar[ConfigDict] = _STRICT

    fault_sets: Annotated[tuple[FaultSet, ...], Field(min_length=1)]


_GRID = TypeAdapter(FaultGrid)


def load_grid(path: Path | None, scenario: Scenario, *, base: Path) -> tuple[FaultSet, ...]:
    """The fault sets of ``path`` checked against ``scenario`` (None: its own faults)."""
    if path is None:
        return (FaultSet(OWN_FAULTS, scenario.faults),)
    data = load_yaml(path)
    if not isinstance(data, dict):
        raise ScenarioError(str(path), "(top level)", "a mapping with fault_sets: [...]")
    grid = validate(_GRID, data, file=str(path))
    names = [s.name for s in grid.fault_sets]
    for i, fault_set in enumerate(grid.fault_sets):
        if fault_set.name in names[:i]:
            raise ScenarioError(str(path), f"fault_sets[{i}].name", "unique fault set names",
                                got=fault_set.name)  # fmt: skip
        try:
            cross_check(replace(scenario, faults=fault_set.faults), file=str(path), base=base)
        except ScenarioError as error:
            raise ScenarioError(str(path), f"fault_sets[{i}].{error.field}", error.expected,
                                got=error.got) from None  # fmt: skip
    return grid.fault_sets
