"""One scenario under several designs: the seed's comparison table (§9) with numbers.

:func:`compare` runs the scenario once per design (same seed, same faults: only the
network decides differently) and measures each (:func:`~testbed.study.measures.measure`).
The :class:`Comparison` is a table (``table()``: one row per design), JSON, and HTML
in a notebook; :func:`~testbed.study.compare_outputs.write_comparison` writes it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from testbed.study.measures import MEASURES, Values, measure
from testbed.study.variant import (
    SHIPPED_DESIGNS,
    ScenarioLike,
    loaded,
    scenario_time,
    under_design,
)
from testbed.units import format_duration

__all__ = ["Comparison", "DesignRow", "compare"]


@dataclass(frozen=True, slots=True)
class DesignRow:
    """One design's row: its name, what it says of itself, its measures, and the
    run's expectations that failed under it."""

    design: str
    description: str
    values: Values

    @property
    def passed(self) -> bool:
        """Whether every expectation of the scenario held under this design."""
        return bool(self.values["passed"])


@dataclass(frozen=True, slots=True)
class Comparison:
    """The comparison of one scenario's designs."""

    scenario: str
    seed: int
    k: int
    rows: tuple[DesignRow, ...]
    #: the scenario time the analysis measures were taken at (None: its start, every
    #: device holding what its design gives it)
    at: timedelta | None = None

    @property
    def passed(self) -> bool:
        """Whether every expectation held under every design."""
        return all(r.passed for r in self.rows)

    def table(self) -> pd.DataFrame:
        """One row per design (index), one column per measure (:data:`MEASURES`)."""
        columns = [m.name for m in MEASURES]
        data = [[row.values[c] for c in columns] for row in self.rows]
        return pd.DataFrame(data, columns=columns, index=pd.Index(
            [r.design for r in self.rows], name="design"))  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data: the measures' titles, and each design's row."""
        return {
            "scenario": self.scenario,
            "seed": self.seed,
            "k": self.k,
            "at": None if self.at is None else format_duration(self.at),
            "passed": self.passed,
            "measures": {m.name: {"title": m.title, "source": str(m.source),
                                  "better": str(m.better)} for m in MEASURES},
            "designs": [{"design": r.design, "description": r.description, **r.values}
                        for r in self.rows],
        }  # fmt: skip

    def to_json(self) -> str:
        """Stable JSON text."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    def png(self, measure: str) -> bytes:
        """``measure`` across the designs as a PNG bar chart (the one ``testbed compare``
        writes as ``plots/<measure>.png``)."""
        from testbed.study.plots import measure_figure, png_bytes

        chosen = next((m for m in MEASURES if m.name == measure), None)
        if chosen is None:
            raise KeyError(f"no measure {measure!r}: one of {[m.name for m in MEASURES]}")
        return png_bytes(measure_figure(self.table()[measure], chosen))

    def _repr_html_(self) -> str:
        from testbed.study.compare_outputs import table_html

        return table_html(self)


def compare(
    scenario: ScenarioLike,
    designs: Sequence[str | Path] = SHIPPED_DESIGNS,
    *,
    k: int = 3,
    seed: int | None = None,
    base: Path | None = None,
    at: str | timedelta | None = None,
) -> Comparison:
    """Run ``scenario`` once under each of ``designs`` (names in ``fixtures/designs/``
    or paths; default: the seed's five) and measure each (``k``: hops of BRE_K;
    ``seed`` overrides the scenario's; ``at``: take the analysis measures at this
    scenario time, ``"16d"``, with the identity state each design's run has there)."""
    spec, root = loaded(scenario, base=base)
    if seed is not None:
        spec = replace(spec, seed=seed)
    if not designs:
        raise ValueError("compare needs at least one design")
    when = None if at is None else scenario_time(spec, at, scenario)
    checked = [under_design(spec, d)[1] for d in designs]  # every design valid before a run
    rows = tuple(
        DesignRow(design.name, " ".join(design.description.split()),
                  measure(spec, name, base=root, k=k, at=when))
        for name, design in zip(designs, checked, strict=True)
    )  # fmt: skip
    return Comparison(spec.name, spec.seed, k, rows, when)

