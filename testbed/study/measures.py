"""The measures of one design in one run: the seed's comparison table (§9) as numbers.

Two sources, one row:

- **analysis** of the design over the scenario's hospital, with exceptions judged at
  the scenario's start (:mod:`testbed.network`): blast radius from a compromised
  device, BRE_K, critical services reachable from device zones, accepted flows,
  policy size, intent violations; or, asked at a scenario time (``at``), over the
  hospital as the run under the design left it there (a
  :class:`~testbed.network.identity.Snapshot`: devices not admitted send nothing,
  certificates count while valid) with exceptions judged at that time;
- **the run** of the scenario under the design (its report's measures): manual
  steps, onboarding time, renewals missed, clinical downtime, unauthorized access,
  data lost.

:func:`measure` does both for one (scenario, design); ``testbed compare`` and
``testbed sweep`` call it and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from testbed.network.asserts import CRITICAL, exposure
from testbed.network.blast import blast_radius
from testbed.network.design import Design
from testbed.network.intents import policy_size
from testbed.network.reach import HospitalLike, flows
from testbed.network.topology import Topology
from testbed.runner import run_scenario
from testbed.scenario import Scenario
from testbed.study.at_time import snapshots
from testbed.study.variant import under_design

__all__ = ["MEASURES", "Better", "Measure", "Source", "Values", "analyse", "measure"]

Values = dict[str, Any]
"""One row of measures, by name."""


class Source(StrEnum):
    """Where a measure comes from."""

    ANALYSIS = "analysis"
    RUN = "run"


class Better(StrEnum):
    """Which way a measure improves."""

    LOWER = "lower"
    HIGHER = "higher"


@dataclass(frozen=True, slots=True)
class Measure:
    """A column of the comparison table."""

    name: str
    title: str
    source: Source
    better: Better = Better.LOWER


_A, _R = Source.ANALYSIS, Source.RUN
MEASURES: tuple[Measure, ...] = (
    Measure("devices_reachable", "other devices a compromised device reaches (mean)", _A),
    Measure("assets_reachable", "assets a compromised device reaches (mean)", _A),
    Measure("blast_radius_max", "endpoints the worst compromised device reaches", _A),
    Measure("bre_k", "BRE_K: expected share compromised within K hops (mean)", _A),
    Measure("critical_services_reachable",
            "critical services reachable from device zones (zone, asset, service)", _A),
    Measure("flows_accepted", "accepted flows (every source, destination, service)", _A),
    Measure("policy_rules", "rules", _A),
    Measure("any_any_cells", "any/any cells", _A),
    Measure("exceptions_open", "exceptions open", _A),
    Measure("exceptions_overdue", "exceptions overdue for review", _A),
    Measure("intent_violations",
            "intent violations: device flows to CA, IdP, EHR, PACS off their API", _A),
    Measure("manual_steps", "manual steps", _R),
    Measure("onboarding_minutes_max", "onboarding time, longest (minutes)", _R),
    Measure("renewals_missed", "renewals missed", _R),
    Measure("clinical_downtime_minutes", "clinical downtime (device-minutes)", _R),
    Measure("unauthorized_access", "unauthorized access granted", _R),
    Measure("data_lost", "clinical data lost (items)", _R),
)  # fmt: skip
"""The comparison table's columns, in order."""


def analyse(design: Design, topology: HospitalLike, *, at: datetime, k: int) -> Values:
    """The analysis measures of ``design`` over ``topology`` (a snapshot: with its
    identity state), exceptions judged at ``at``."""
    blast = blast_radius(design, topology, k=k, at=at)
    table = flows(design, topology, at=at)
    accepted = table[table["Disposition"] == "ACCEPTED"]
    critical = {str(kind) for kind in CRITICAL}
    to_critical = accepted[(accepted["Src_Kind"] == "device")
                           & accepted["Dst_Kind"].isin(critical)]  # fmt: skip
    zones = to_critical[["Src_Site", "Src_Zone", "Dst", "Service"]].drop_duplicates()
    size = policy_size(design, at=at).iloc[0]
    return {
        "devices_reachable": _mean(blast["Reachable_Devices"]),
        "assets_reachable": _mean(blast["Reachable_Assets"]),
        "blast_radius_max": int(blast["Reachable"].max()) if len(blast) else 0,
        "bre_k": _mean(blast["BRE_K"]),
        "critical_services_reachable": len(zones),
        "flows_accepted": len(accepted),
        "policy_rules": int(size["Rules"]),
        "any_any_cells": int(size["Any_Any_Cells"]),
        "exceptions_open": int(size["Exceptions_Open"]),
        "exceptions_overdue": int(size["Exceptions_Overdue"]),
        "intent_violations": len(exposure(design, topology, at=at)),
    }


def _mean(column: Any) -> float:
    return round(float(column.mean()), 6) if len(column) else 0.0


def measure(
    scenario: Scenario, design: str | Path, *, base: Path, k: int = 3,
    at: timedelta | None = None,
) -> Values:
    """Run ``scenario`` under ``design`` and measure it: the analysis measures (at the
    scenario time ``at``, with the identity state the run under the design reaches
    there; None: at the start, every device holding what its design gives it), the
    run's measures, and ``passed`` (whether every expectation held)."""
    variant, spec = under_design(scenario, design)
    # run_scenario finds the profiles beside its source file: a file in ``base``
    result = run_scenario(variant, source=base / f"{scenario.name}.yaml")
    topology = Topology.from_scenario(variant, result.testbed.profiles)
    if at is None:
        values = analyse(spec, topology, at=scenario.start, k=k)
    else:
        # the same scenario and seed simulated up to ``at``: the state the run had there
        (snapshot,) = snapshots(variant, [at], base=base)
        values = analyse(spec, snapshot, at=snapshot.at, k=k)
    report = result.report.measures
    values.update({m.name: report[m.name] for m in MEASURES if m.source is Source.RUN})
    values["passed"] = result.report.passed
    values["failed"] = [e.id for e in result.report.expectations if not e.passed]
    return values
