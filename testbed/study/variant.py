"""A scenario as a study varies it: under another design, with other faults or seed."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from testbed.errors import ScenarioError
from testbed.network.design import Design, design_path, load_design
from testbed.scenario import Scenario, load_scenario
from testbed.units import format_duration, parse_duration

__all__ = ["SHIPPED_DESIGNS", "ScenarioLike", "loaded", "scenario_time", "under_design"]

SHIPPED_DESIGNS = (
    "flat-shared-credentials",
    "per-site-vlans",
    "central-ca-automated-renewal",
    "fhir-first-scoped-identities",
    "zero-trust-microsegmentation",
)
"""The seed's five designs (§9), in the order of its table."""

ScenarioLike = Scenario | Path | str
"""A scenario, or its file."""


def loaded(scenario: ScenarioLike, *, base: Path | None = None) -> tuple[Scenario, Path]:
    """The scenario and the directory its relative paths (profiles) start from."""
    if isinstance(scenario, Scenario):
        return scenario, base or Path(".")
    path = Path(scenario)
    return load_scenario(path), path.parent


def under_design(scenario: Scenario, design: str | Path) -> tuple[Scenario, Design]:
    """``scenario`` with its network decided by ``design`` (a name in
    ``fixtures/designs/`` or a path) instead of its own allow list or design; the
    design is validated first (a bad one raises naming its file and field)."""
    path = design_path(design).resolve()
    spec = load_design(path)
    return replace(scenario, design=str(path), network=()), spec


def scenario_time(spec: Scenario, at: str | timedelta, scenario: ScenarioLike) -> timedelta:
    """``at`` as a time of ``spec``'s run (from its start to its end plus the recovery
    window), else bad input naming ``scenario``'s file (or name) and the field ``at``."""
    horizon = spec.duration + spec.recovery_window
    where = str(scenario) if isinstance(scenario, str | Path) else scenario.name
    expected = (f"a scenario time within the run, from 0s to {format_duration(horizon)} "
                "('16d', '12h', '1d12h')")  # fmt: skip
    try:
        when = parse_duration(at)
    except ValueError:
        raise ScenarioError(where, "at", expected, got=at) from None
    if not timedelta(0) <= when <= horizon:
        raise ScenarioError(where, "at", expected, got=format_duration(when))
    return when
