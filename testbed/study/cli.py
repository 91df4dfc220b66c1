"""``testbed compare`` and ``testbed sweep``: thin commands over :func:`compare` and
:func:`sweep` (exit 0 every expectation holds, 1 one fails, 2 bad input)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from testbed.study.variant import SHIPPED_DESIGNS

if TYPE_CHECKING:
    from testbed.study.comparison import Comparison

__all__ = ["compare_command", "register", "sweep_command"]

EXIT_OK, EXIT_FAILED = 0, 1

_DESIGN_HELP = ("A design: a name in fixtures/designs or a path; repeat it "
                "(default: the seed's five designs).")  # fmt: skip
MAX_K = 64
"""The most hops BRE_K may count (a hospital's zone graph is far shallower)."""
MAX_SEEDS = 1000
"""The most seeds a sweep runs per cell (each is a whole run)."""
_AT_HELP = ("Scenario time (a duration after its start, '16d') to take the analysis "
            "measures at: reachability and blast radius with the identity state each "
            "design's run has there, exceptions judged there (default: the start, every "
            "device holding what its design gives it).")  # fmt: skip


def register(group: click.Group) -> None:
    """Add the study commands to the ``testbed`` command group."""
    group.add_command(compare_command)
    group.add_command(sweep_command)


@click.command("compare")
@click.argument("scenario", type=click.Path(path_type=Path))
@click.option("--design", "designs", multiple=True, help=_DESIGN_HELP)
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Directory for compare.json, compare.csv, compare.html and plots/ "
                   "(default: runs/<scenario name>-compare).")  # fmt: skip
@click.option("--seed", type=int, default=None, help="Override the scenario's seed.")
@click.option("--k", type=click.IntRange(min=0, max=MAX_K), default=3, show_default=True,
              help="Hops of BRE_K.")  # fmt: skip
@click.option("--at", "at", default=None, help=_AT_HELP)
def compare_command(
    scenario: Path, designs: tuple[str, ...], out: Path | None, seed: int | None, k: int,
    at: str | None,
) -> None:
    """Run SCENARIO once per design and print the seed's comparison table with numbers."""
    from testbed.runner import prepare_outputs
    from testbed.study.compare_outputs import write_comparison
    from testbed.study.comparison import compare

    result = compare(scenario, designs or SHIPPED_DESIGNS, k=k, seed=seed, at=at)
    target = prepare_outputs(out or Path("runs") / f"{result.scenario}-compare")
    paths = write_comparison(result, target)
    Console().print(_table(result))
    for row in result.rows:
        if not row.passed:
            click.echo(f"FAILED under {row.design}: {', '.join(row.values['failed'])}")
    click.echo(f"wrote {', '.join(str(p) for p in paths.values())}, {target / 'plots'}")
    click.get_current_context().exit(EXIT_OK if result.passed else EXIT_FAILED)


def _table(result: Comparison) -> Table:
    from testbed.study.measures import MEASURES
    from testbed.units import format_duration

    when = "" if result.at is None else f", analysis at {format_duration(result.at)}"
    table = Table(title=f"{result.scenario} (seed {result.seed}{when}): designs compared")
    table.add_column("measure")
    frame = result.table()
    for design in frame.index:
        table.add_column(str(design), justify="right")
    for m in MEASURES:
        table.add_row(m.name, *(f"{v:g}" for v in frame[m.name]))
    table.add_row("expectations", *("pass" if r.passed else "[red]FAIL[/]" for r in result.rows))
    return table


@click.command("sweep")
@click.argument("scenario", type=click.Path(path_type=Path))
@click.option("--design", "designs", multiple=True, help=_DESIGN_HELP)
@click.option("--seeds", type=click.IntRange(min=1, max=MAX_SEEDS), default=1,
              show_default=True,
              help="Seeds per cell: the scenario's seed and the next ones.")  # fmt: skip
@click.option("--fault-grid", type=click.Path(path_type=Path), default=None,
              help="YAML file of named fault sets, each replacing the scenario's faults "
                   "(default: the scenario's own faults).")  # fmt: skip
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="Directory for sweep.csv and sweep.png.")  # fmt: skip
@click.option("--scheduler", default=None,
              help="Address of a Dask distributed scheduler (default: local processes).")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Local processes (default: one per CPU).")  # fmt: skip
@click.option("--at", "at", default=None, help=_AT_HELP)
@click.option("--quiet", is_flag=True, help="No progress bar.")
def sweep_command(
    scenario: Path, designs: tuple[str, ...], seeds: int, fault_grid: Path | None, out: Path,
    scheduler: str | None, workers: int | None, at: str | None, quiet: bool,
) -> None:
    """Run SCENARIO for every design x fault set x seed; one table and a summary plot."""
    from testbed.runner import prepare_outputs
    from testbed.study.sweep_outputs import write_sweep
    from testbed.study.sweeps import sweep

    target = prepare_outputs(out)
    bar = Progress(TextColumn("[bold]sweep"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), console=Console(stderr=True), disable=quiet,
                   transient=True)  # fmt: skip
    with bar:
        task = bar.add_task("runs", total=None)
        table = sweep(
            scenario, designs or SHIPPED_DESIGNS, seeds=seeds, fault_grid=fault_grid,
            scheduler=scheduler, workers=workers, at=at,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )  # fmt: skip
    paths = write_sweep(table, target)
    failed = table[~table["passed"]]
    when = "" if at is None else f" (analysis at {at})"
    click.echo(f"{len(table)} runs{when}, {len(failed)} with a failed expectation")
    for row in failed.itertuples():
        click.echo(f"FAILED {row.design} / {row.faults} / seed {row.seed}: {row.failed}")
    click.echo(f"wrote {', '.join(str(p) for p in paths.values())}")
    click.get_current_context().exit(EXIT_OK if failed.empty else EXIT_FAILED)
