"""Sweeps: a scenario under designs x fault sets x seeds, one table (DESIGN: Scale).

:func:`sweep` is the one sweep function; the CLI and notebooks call it.  Each run is a
:class:`Task` measured by :func:`~testbed.study.measures.measure` in a worker, on one
of two engines:

- **local processes** (default): a :class:`~concurrent.futures.ProcessPoolExecutor`
  with one process per CPU (``workers=1``: in this process, no pool);
- **Dask distributed** (``scheduler=ADDRESS``; the optional extra ``testbed[dask]``):
  the same tasks on a cluster's workers, beyond one machine.

Every task is seeded and deterministic and the rows are put back in task order, so
the same sweep gives the same table whichever engine runs it (a test compares a
Dask ``LocalCluster`` with local processes).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import pandas as pd

from testbed.errors import EngineError
from testbed.network.design import design_path
from testbed.scenario import Scenario
from testbed.study.grid import FaultSet, load_grid
from testbed.study.measures import Values, measure
from testbed.study.variant import (
    SHIPPED_DESIGNS,
    ScenarioLike,
    loaded,
    scenario_time,
    under_design,
)
from testbed.units import format_duration

__all__ = ["KEYS", "Progress", "Task", "run_task", "sweep", "tasks"]

KEYS = ("design", "faults", "seed")
"""The columns that name a run in the sweep's table (then ``at``, the scenario time
its analysis measures were taken at, empty for the start; then the measures)."""

Progress = Callable[[int, int], None]
"""Called with (runs done, runs in all) as runs finish."""


@dataclass(frozen=True, slots=True)
class Task:
    """One run of a sweep: the scenario (its faults and seed already set), where its
    relative paths start, the design's file and name, the fault set's name, the hops
    of BRE_K, and the scenario time the analysis measures are taken at (None: the
    start, every device holding what its design gives it)."""

    scenario: Scenario
    base: Path
    design: str
    design_name: str
    fault_set: str
    k: int
    at: timedelta | None = None


def run_task(task: Task) -> Values:
    """Run and measure one task (a top-level function: workers import it by name)."""
    values = measure(task.scenario, task.design, base=task.base, k=task.k, at=task.at)
    values["failed"] = "; ".join(values["failed"])
    at = None if task.at is None else format_duration(task.at)
    return {"design": task.design_name, "faults": task.fault_set,
            "seed": task.scenario.seed, "at": at, **values}  # fmt: skip


def tasks(
    scenario: Scenario, designs: Sequence[str | Path], fault_sets: Sequence[FaultSet], *,
    seeds: int, base: Path, k: int, at: timedelta | None = None,
) -> list[Task]:
    """Every (design, fault set, seed) of the sweep, in table order; designs checked."""
    checked = [(str(design_path(d).resolve()), under_design(scenario, d)[1].name)
               for d in designs]  # fmt: skip
    return [
        Task(replace(scenario, faults=fs.faults, seed=scenario.seed + i), base, path, name,
             fs.name, k, at)
        for path, name in checked for fs in fault_sets for i in range(seeds)
    ]  # fmt: skip


def sweep(
    scenario: ScenarioLike,
    designs: Sequence[str | Path] = SHIPPED_DESIGNS,
    *,
    seeds: int = 1,
    fault_grid: Path | None = None,
    scheduler: str | None = None,
    workers: int | None = None,
    k: int = 3,
    progress: Progress | None = None,
    base: Path | None = None,
    at: str | timedelta | None = None,
) -> pd.DataFrame:
    """Run ``scenario`` for every design x fault set (``fault_grid``: a file of them;
    None: the scenario's own faults) x seed (the scenario's seed and the next
    ``seeds - 1``), on local processes (``workers``, default one per CPU) or on the
    Dask scheduler at ``scheduler``; one row per run, in that order.  ``at``: take
    the analysis measures at this scenario time (``"16d"``), as ``compare`` does."""
    if seeds < 1:
        raise ValueError(f"seeds must be at least 1 (got {seeds})")
    if not designs:
        raise ValueError("a sweep needs at least one design")
    spec, root = loaded(scenario, base=base)
    when = None if at is None else scenario_time(spec, at, scenario)
    fault_sets = load_grid(fault_grid, spec, base=root)
    work = tasks(spec, designs, fault_sets, seeds=seeds, base=root, k=k, at=when)
    rows: list[Values] = [{} for _ in work]
    engine = _dask(work, scheduler) if scheduler else _local(work, workers)
    for done, (index, row) in enumerate(engine, start=1):
        rows[index] = row
        if progress is not None:
            progress(done, len(work))
    return pd.DataFrame.from_records(rows)


def _local(work: list[Task], workers: int | None) -> Iterator[tuple[int, Values]]:
    count = min(workers or os.cpu_count() or 1, len(work))
    if count <= 1:
        yield from ((i, run_task(t)) for i, t in enumerate(work))
        return
    # fork where the platform has it: workers start at once with the parent's imports
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    context = multiprocessing.get_context(method)
    with ProcessPoolExecutor(max_workers=count, mp_context=context) as pool:
        futures = {pool.submit(run_task, t): i for i, t in enumerate(work)}
        for future in as_completed(futures):
            yield futures[future], future.result()


def _dask(work: list[Task], address: str) -> Iterator[tuple[int, Values]]:
    try:
        from distributed import Client
        from distributed import as_completed as finished
    except ImportError:
        raise EngineError("--scheduler needs Dask distributed: install the optional extra "
                          "(pip install 'hospital-device-identity-testbed[dask]')") from None
    try:
        client = Client(address, timeout="10s")  # type: ignore[no-untyped-call]
    except (OSError, TimeoutError, ValueError) as error:  # ValueError: not an address
        raise EngineError(f"{address}: expected the address of a running Dask scheduler "
                          f"({error})") from None  # fmt: skip
    with client:
        futures = client.map(run_task, work, pure=False)
        index = {future.key: i for i, future in enumerate(futures)}
        for future in finished(futures):  # type: ignore[no-untyped-call]
            yield index[future.key], future.result()
