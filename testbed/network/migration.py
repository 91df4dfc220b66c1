"""A phased migration between designs (seed §10: start where the risk is).

- :func:`rank_devices`: every device scored by clinical impact, data sensitivity and
  technical age (per profile, with weights: ``fixtures/network/migration.yaml``),
  highest first;
- :func:`phases_by_rank`: the device classes in the order of their best-ranked
  device, cut into phases;
- :func:`phase_design`: the target design with only some device classes moved: the
  others stay in one ``unmigrated`` group that reaches, and is reached from, every
  asset and each other on any service (the flat network they came from), while the
  moved classes get the target's groups, rules and its owned, expiring exceptions
  (legacy devices keep theirs).

A phase is a design, so ``testbed.study.compare`` measures every phase (blast
radius, downtime) like any other design.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, ClassVar

import pandas as pd
from pydantic import ConfigDict, Field, TypeAdapter

from testbed.devices import DeviceClass
from testbed.errors import ScenarioError
from testbed.inputs import load_yaml, validate
from testbed.network.catalog import EndpointKind
from testbed.network.design import ANY, Design, Group, Rule
from testbed.network.reach import HospitalLike, topology_of

__all__ = [
    "DEFAULT_PRIORITIES",
    "RANK_COLUMNS",
    "UNMIGRATED",
    "Priorities",
    "load_priorities",
    "phase_design",
    "phases_by_rank",
    "rank_devices",
]

DEFAULT_PRIORITIES = Path(__file__).resolve().parents[2] / "fixtures" / "network" / "migration.yaml"
UNMIGRATED = "unmigrated"
"""The group of the devices a phase has not moved yet."""
RANK_COLUMNS = ("Rank", "Device", "Profile", "Device_Class", "Site", "Clinical_Impact",
                "Data_Sensitivity", "Technical_Age", "Score")  # fmt: skip

_SCORE = Annotated[int, Field(ge=1, le=5, strict=True)]
_STRICT: ConfigDict = ConfigDict(extra="forbid")


@dataclass(frozen=True, slots=True)
class Scores:
    """One profile's scores, 1 (low) to 5 (high)."""

    __pydantic_config__: ClassVar[ConfigDict] = _STRICT

    clinical_impact: _SCORE
    data_sensitivity: _SCORE
    technical_age: _SCORE


@dataclass(frozen=True, slots=True)
class Priorities:
    """The weights of the three factors and each profile's scores."""

    __pydantic_config__: ClassVar[ConfigDict] = _STRICT

    weights: dict[str, Annotated[float, Field(ge=0)]]
    profiles: dict[str, Scores]

    def score(self, profile: str) -> float:
        """A profile's weighted score."""
        scores = self.profiles[profile]
        total = sum(w * float(getattr(scores, factor)) for factor, w in self.weights.items())
        return round(total, 6)


_PRIORITIES = TypeAdapter(Priorities)


def load_priorities(path: Path = DEFAULT_PRIORITIES) -> Priorities:
    """Read and validate a priorities file (its weights name the three factors)."""
    priorities = validate(_PRIORITIES, load_yaml(path), file=str(path))
    factors = set(Scores.__dataclass_fields__)
    for name in priorities.weights:
        if name not in factors:
            raise ScenarioError(str(path), f"weights.{name}", f"one of {sorted(factors)}",
                                got=name)  # fmt: skip
    return priorities


def rank_devices(hospital: HospitalLike, priorities: Priorities | None = None) -> pd.DataFrame:
    """Every device with its scores, highest weighted score first (ties: inventory order)."""
    chosen = priorities or load_priorities()
    rows = []
    for device in topology_of(hospital).devices:
        profile = device.profile or ""
        if profile not in chosen.profiles:
            raise ValueError(f"the priorities have no scores for profile {profile!r} (device "
                             f"{device.id}): add it under profiles: in the priorities file "
                             f"(default {DEFAULT_PRIORITIES})")  # fmt: skip
        s = chosen.profiles[profile]
        rows.append((device.id, profile, str(device.device_class), device.site,
                     s.clinical_impact, s.data_sensitivity, s.technical_age,
                     chosen.score(profile)))  # fmt: skip
    table = pd.DataFrame.from_records(rows, columns=list(RANK_COLUMNS[1:]))
    table = table.sort_values("Score", ascending=False, kind="stable").reset_index(drop=True)
    table.insert(0, "Rank", range(1, len(table) + 1))
    return table


def phases_by_rank(ranking: pd.DataFrame, count: int) -> list[tuple[DeviceClass, ...]]:
    """The device classes in the order of their best-ranked device, cut into ``count``
    phases (the first ones get one more class when they do not divide evenly)."""
    order = [DeviceClass(c) for c in dict.fromkeys(ranking["Device_Class"])]
    if not 1 <= count <= len(order):
        raise ValueError(f"count must be between 1 and {len(order)} device classes (got {count})")
    base, rest = divmod(len(order), count)
    phases, start = [], 0
    for i in range(count):
        size = base + (1 if i < rest else 0)
        phases.append(tuple(order[start:start + size]))
        start += size
    return phases


def phase_design(target: Design, moved: Collection[DeviceClass], *, name: str) -> Design:
    """``target`` with only the device classes ``moved`` moved to it (module docstring)."""
    remaining = tuple(c for c in DeviceClass if c not in moved)
    if not remaining:
        return replace(target, name=name)
    assets = [g.name for g in target.groups
              if g.kinds and EndpointKind.DEVICE not in g.kinds]  # fmt: skip
    note = "not migrated yet: the flat network's any/any"
    flat = [Rule(UNMIGRATED, UNMIGRATED, ANY, note=note)]
    flat += [r for a in assets for r in (Rule(UNMIGRATED, a, ANY, note=note),
                                         Rule(a, UNMIGRATED, ANY, note=note))]  # fmt: skip
    unmigrated = Group(UNMIGRATED, kinds=(EndpointKind.DEVICE,), device_classes=remaining,
                       description="devices not moved yet")  # fmt: skip
    moved_names = ", ".join(sorted(str(c) for c in moved)) or "none"
    return replace(
        target, name=name, groups=(unmigrated, *target.groups), rules=(*flat, *target.rules),
        description=f"{target.name} for {moved_names}; the other devices still flat",
    )  # fmt: skip
