"""The notebook API: run a scenario and look at it as DataFrames, plots and HTML.

``import testbed`` gives :func:`run`, :class:`Run` and :func:`compare` (with
``load_scenario`` and :meth:`Scenario.with_ <testbed.scenario.Scenario.with_>` to vary
a scenario safely)::

    import testbed

    pilot = testbed.load_scenario("scenarios/two-site-pilot.yaml")
    shorter = pilot.with_({"pki.lifetime": "10d"})
    runs = {"30-day leaves": testbed.run(pilot), "10-day leaves": testbed.run(shorter)}
    testbed.compare(runs)                 # the measures side by side
    runs["10-day leaves"].breakdown("site")

Everything here reads the run's record and report, so what a notebook shows is what
``report.json`` and ``report.html`` say.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from testbed.events import EventKind
from testbed.pki.fidelity import Fidelity
from testbed.report.story import BREAKDOWNS
from testbed.runner import RunResult, run_scenario
from testbed.scenario import Scenario

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from testbed.report import Report

__all__ = ["Run", "compare", "run"]


@dataclass(frozen=True, slots=True)
class Run:
    """One finished run, for a notebook: its report, DataFrames and plots."""

    result: RunResult

    @property
    def report(self) -> Report:
        """The run's report (``report.json``'s contents)."""
        return self.result.report

    @property
    def passed(self) -> bool:
        """Whether every expectation holds."""
        return self.result.report.passed

    @property
    def measures(self) -> dict[str, float]:
        """The measures by name."""
        return dict(self.result.report.measures)

    def measures_frame(self) -> pd.DataFrame:
        """One row per measure: value, the expectation on it and whether it holds."""
        checks = {e.id: e for e in self.report.expectations}
        rows = []
        for name, value in self.report.measures.items():
            check = checks.get(name)
            rows.append({
                "measure": name, "value": value,
                "expected": None if check is None else check.expected,
                "passed": None if check is None else check.passed,
            })  # fmt: skip
        return pd.DataFrame(rows).set_index("measure")

    def events_frame(self, *kinds: EventKind | str) -> pd.DataFrame:
        """The run's events (of ``kinds``, or all it kept) as one row each: seq, time,
        kind, subject, then one column per data key."""
        wanted = {EventKind(k) for k in kinds}
        rows = [
            {"seq": e.seq, "time": e.time, "kind": e.kind.value, "subject": e.subject, **e.data}
            for e in self.result.record.events
            if not wanted or e.kind in wanted
        ]
        frame = pd.DataFrame(rows, columns=None if rows else ["seq", "time", "kind", "subject"])
        return frame.set_index("seq")

    def breakdown(self, by: str = "site") -> pd.DataFrame:
        """The per-device measures summed by ``by`` (site, zone, profile, group, ca)."""
        if by not in BREAKDOWNS:
            raise ValueError(f"breakdown by one of {', '.join(BREAKDOWNS)}, not {by!r}")
        rows = self.report.data["breakdowns"][by]
        return pd.DataFrame([{k: v for k, v in r.items() if k != "top"} for r in rows]) \
            .set_index(by)  # fmt: skip

    def incidents_frame(self) -> pd.DataFrame:
        """Every incident: device, site, category, reason, opened, closed, faults."""
        return pd.DataFrame(self.report.data["incidents"])

    def fault_effects_frame(self) -> pd.DataFrame:
        """What each injected fault did (see ``report.json``'s ``fault_effects``)."""
        return pd.DataFrame(self.report.data["fault_effects"])

    def timeline(self) -> Figure:
        """The certificate lifecycle plot (a matplotlib figure)."""
        from testbed.report.plots import certificate_timeline

        return certificate_timeline(self.result.record)

    def denials(self) -> Figure:
        """The denied clinical traffic plot (a matplotlib figure)."""
        from testbed.report.plots import availability

        return availability(self.result.record)

    def _repr_html_(self) -> str:
        from testbed.report.html import summary_html

        return summary_html(self.report)


def run(
    scenario: Scenario | Path | str,
    *,
    seed: int | None = None,
    fidelity: Fidelity | str | None = None,
    out: Path | str | None = None,
) -> Run:
    """Run a scenario (an object, or the path of its file); ``out``: also stream its
    event log there (as ``testbed run --out``)."""
    result = run_scenario(
        scenario,
        seed=seed,
        fidelity=None if fidelity is None else Fidelity(fidelity),
        out=None if out is None else Path(out),
    )
    return Run(result)


def compare(runs: Mapping[str, Run] | Iterable[Run]) -> pd.DataFrame:
    """The measures of several runs side by side, one column per run (named by the
    mapping's keys, else by scenario and seed)."""
    named = runs.items() if isinstance(runs, Mapping) else (
        (f"{r.report.scenario} (seed {r.report.seed})", r) for r in runs)  # fmt: skip
    columns: dict[str, Any] = {name: pd.Series(r.measures) for name, r in named}
    return pd.DataFrame(columns)
