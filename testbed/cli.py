"""The ``testbed`` command: run, report, validate, serve, devices.

Exit codes: 0 every expectation holds, 1 an expectation fails, 2 bad input (the
message names the file, the field path and what was expected; no traceback).
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from testbed.errors import OutputError, TestbedError
from testbed.pki.fidelity import Fidelity
from testbed.report import Report
from testbed.scenario import Scenario, load_scenario

__all__ = ["main"]

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


class _Cli(click.Group):
    """Turns every :class:`TestbedError` into a one-line message and exit code 2."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except TestbedError as err:
            click.echo(f"error: {err}", err=True)
            ctx.exit(EXIT_BAD_INPUT)


@click.group(cls=_Cli)
@click.version_option(package_name="hospital-device-identity-testbed")
def cli() -> None:
    """Hospital device-identity testbed: onboard, renew and offboard devices under faults."""


def summary_table(report: Report) -> Table:
    """The summary printed at the end of a run."""
    table = Table(title=f"{report.scenario} (seed {report.seed})")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("expected")
    table.add_column("verdict")
    expected = {e.id: e for e in report.expectations}
    for name, value in report.measures.items():
        check = expected.get(name)
        verdict = "" if check is None else ("[green]pass[/]" if check.passed else "[red]FAIL[/]")
        table.add_row(name, f"{value:g}", "" if check is None else check.expected, verdict)
    return table


@cli.command()
@click.argument("scenario", type=click.Path(path_type=Path))
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Directory for report.json, events.jsonl and report.html (default: runs/<scenario name>).",
)
@click.option("--seed", type=int, default=None, help="Override the scenario's seed.")
@click.option(
    "--fidelity",
    type=click.Choice([f.value for f in Fidelity]),
    default=None,
    help="Override the scenario's fidelity level: full (real certificates) or modeled.",
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
def run(
    scenario: Path, out: Path | None, seed: int | None, fidelity: str | None, quiet: bool
) -> None:
    """Run SCENARIO and write its report; exit 1 if an expectation fails."""
    from testbed.run import prepare_outputs, run_scenario, write_outputs

    spec = _load(scenario, seed=seed)
    if fidelity is not None:
        spec = replace(spec, fidelity=Fidelity(fidelity))
    target = prepare_outputs(out or Path("runs") / spec.name)  # before the run, not after
    with _progress(quiet, "of simulated time") as bar:
        task = bar.add_task(spec.name, total=1.0)
        result = run_scenario(
            spec,
            progress=lambda done, total: bar.update(task, completed=done / total),
            source=scenario,
            out=target,  # events.jsonl is written as the run goes
        )
    paths = write_outputs(result, target)
    _summarize(result.report, paths.values())


@cli.command("report")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Directory for report.json and report.html (default: DIRECTORY).",
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
def report_command(directory: Path, out: Path | None, quiet: bool) -> None:
    """Report the run kept in DIRECTORY (a `testbed run --out` or `testbed serve
    --state-dir` directory) from its audit log; exit 1 if an expectation fails."""
    from testbed.report import build_report
    from testbed.report.directory import load_record
    from testbed.run import prepare_outputs, write_report

    with _progress(quiet) as bar:
        task = bar.add_task(directory.name or str(directory), total=1.0)
        record = load_record(
            directory,
            progress=lambda done, total: bar.update(task, completed=done / max(total, 1)),
        )
    result = build_report(record)
    paths = write_report(result, record, prepare_outputs(out or directory))
    _summarize(result, paths.values())


def _progress(quiet: bool, unit: str = "of the audit log read") -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn(f"{{task.percentage:>5.1f}}% {unit}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        disable=quiet,
        transient=True,
    )


def _summarize(report: Report, paths: Iterable[Path]) -> None:
    Console().print(summary_table(report))
    for name, why in report.data.get("not_measured", {}).items():
        click.echo(f"not measured: {name}: {why}")
    for check in report.expectations:
        if not check.passed:
            click.echo(f"FAILED {check.id}: {check.why}")
    click.echo(f"wrote {', '.join(str(p) for p in paths)}")
    click.get_current_context().exit(EXIT_OK if report.passed else EXIT_FAILED)


@cli.command()
@click.argument("scenario", type=click.Path(path_type=Path))
def validate(scenario: Path) -> None:
    """Check SCENARIO without running it."""
    spec = _load(scenario)
    devices = sum(g.count for g in spec.fleet)
    parts = [_count(len(spec.sites), "site"), _count(devices, "device"),
             _count(len(spec.faults), "fault"), _count(len(spec.expectations), "expectation")]
    click.echo(f"{scenario}: valid ({', '.join(parts)})")


def _load(path: Path, *, seed: int | None = None) -> Scenario:
    """Load a scenario file, telling the user on standard error of each deprecated
    spelling in it (a former fault kind name) and what to write instead."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DeprecationWarning)
        try:
            return load_scenario(path, seed=seed)
        finally:
            for warning in caught:
                if issubclass(warning.category, DeprecationWarning):
                    click.echo(f"warning: {warning.message}", err=True)
                else:
                    warnings.warn_explicit(
                        warning.message, warning.category, warning.filename, warning.lineno
                    )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


@cli.command()
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Write the JSON Schema here instead of standard output.",
)
def schema(out: Path | None) -> None:
    """Print the JSON Schema of the scenario format."""
    from testbed.scenario import schema_text

    text = schema_text()
    if out is None:
        click.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as error:
        reason = error.strerror or str(error)
        detail = f"{out}: expected a writable file path for the schema ({reason})"
        raise OutputError(detail) from None


def _register_live_commands() -> None:
    from testbed.live.commands import devices, ehr, serve

    cli.add_command(serve)
    cli.add_command(devices)
    cli.add_command(ehr)


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code (for in-process tests)."""
    _register_live_commands()
    try:
        code = cli.main(args=argv, prog_name="testbed", standalone_mode=False)
    except click.exceptions.Exit as done:
        return int(done.exit_code)
    except click.ClickException as err:
        err.show()
        return EXIT_BAD_INPUT
    except click.exceptions.Abort:
        return EXIT_FAILED
    return code if isinstance(code, int) else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
