"""The ``testbed`` command: run, report, validate, schema, serve, devices, ehr,
pacs-check, emulate, certify, compare, sweep.

Exit codes: 0 every expectation holds, 1 an expectation fails, 2 bad input (the
message names the file, the field path and what was expected; no traceback).
"""

from __future__ import annotations

import functools
import sys
import warnings
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from testbed import validation
from testbed.errors import OutputError, ScenarioError, TestbedError
from testbed.event_sink import EventsKept
from testbed.pki.fidelity import Fidelity
from testbed.progress import Interruption, PlainProgress
from testbed.report import Report
from testbed.scenario import Scenario, load_scenario

__all__ = ["main"]

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it


class _Cli(click.Group):
    """Turns every :class:`TestbedError` into a one-line message and exit code 2."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except ScenarioError as err:
            for line in validation.diagnostics(err):
                click.echo(line, err=True)
            ctx.exit(EXIT_BAD_INPUT)
        except TestbedError as err:
            click.echo(f"error: {err}", err=True)
            ctx.exit(EXIT_BAD_INPUT)


@click.group(cls=_Cli)
@click.version_option(package_name="hospital-device-identity-testbed")
def cli() -> None:
    """Hospital device-identity testbed: onboard, renew and offboard devices under faults."""


def number(value: float) -> str:
    """A measure for people: whole numbers with thousands separators (1,506,560), others
    to two decimals or, below 1, six; never scientific notation."""
    if float(value).is_integer():
        return f"{int(value):,}"
    if abs(value) >= 1:
        return f"{value:,.2f}"
    return f"{value:.6f}".rstrip("0").rstrip(".")


def summary_table(report: Report) -> Table:
    """The summary printed at the end of a run."""
    table = Table(title=f"{report.scenario} (seed {report.seed})")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("expected")
    table.add_column("verdict")
    expected = {e.measure: e for e in report.expectations if e.where is None}
    for name, value in report.measures.items():
        check = expected.get(name)
        verdict = "" if check is None else ("[green]pass[/]" if check.passed else "[red]FAIL[/]")
        table.add_row(name, number(value), "" if check is None else check.expected, verdict)
    for check in report.expectations:  # scoped ones: a row each, by id
        if check.where is not None:
            verdict = "[green]pass[/]" if check.passed else "[red]FAIL[/]"
            table.add_row(check.id, number(check.measured), check.expected, verdict)
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
@click.option(
    "--events",
    "kept",
    type=click.Choice([k.value for k in EventsKept]),
    default=EventsKept.ALL.value,
    show_default=True,
    help="Which events the log keeps: all; all but allowed access decisions (the bulk of "
    "a long run; `testbed report` cannot fold such a log again); none.",
)
@click.option("--compress", is_flag=True, help="Write the log as events.jsonl.gz.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def run(
    scenario: Path, out: Path | None, seed: int | None, fidelity: str | None, kept: str,
    compress: bool, quiet: bool,
) -> None:  # fmt: skip
    """Run SCENARIO and write its report; exit 1 if an expectation fails."""
    from testbed.runner import prepare_outputs, run_scenario, write_outputs

    spec = _load(scenario, seed=seed)
    if fidelity is not None:
        spec = replace(spec, fidelity=Fidelity(fidelity))
    target = out or Path("runs") / spec.name
    made = not target.exists()
    prepare_outputs(target)  # before the run, not after
    notice = functools.partial(click.echo, err=True)
    try:
        with Interruption(notice=notice) as interruption, \
                _progress(quiet, "of simulated time") as bar:  # fmt: skip
            task = bar.add_task(spec.name, total=1.0)
            plain = None if quiet or _terminal() else PlainProgress(spec.name, start=spec.start)

            def progress(done: float, total: float) -> None:
                bar.update(task, completed=done / total)
                if plain is not None:
                    plain(done, total)

            result = run_scenario(
                spec,
                progress=progress,
                source=scenario,
                out=target,  # events.jsonl is written as the run goes
                stop=interruption.requested,
                kept=EventsKept(kept),
                compress=compress,
            )
    except KeyboardInterrupt:  # a second Ctrl-C: nothing more is written
        if made and target.is_dir() and not any(target.iterdir()):
            target.rmdir()  # leave no empty directory behind
        raise
    paths = write_outputs(result, target)
    stopped = result.testbed.stopped_at
    _summarize(result.report, paths.values(), verdict=stopped is None)
    if stopped is not None:
        click.echo(f"interrupted at {stopped:%Y-%m-%d %H:%M} simulated: the report in "
                   f"{target} is partial (marked incomplete)", err=True)  # fmt: skip
        click.get_current_context().exit(EXIT_INTERRUPTED)


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
    from testbed.runner import prepare_outputs, write_report

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


def _terminal() -> bool:
    return sys.stderr.isatty()


def _summarize(report: Report, paths: Iterable[Path], *, verdict: bool = True) -> None:
    Console().print(summary_table(report))
    for name, why in report.data.get("not_measured", {}).items():
        click.echo(f"not measured: {name}: {why}")
    for check in report.expectations:
        if not check.passed:
            click.echo(f"FAILED {check.id}: {check.why}")
    click.echo(f"wrote {', '.join(str(p) for p in paths)}")
    if verdict:
        click.get_current_context().exit(EXIT_OK if report.passed else EXIT_FAILED)


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--strict", is_flag=True, help="Treat warnings as errors.")
@click.option("--format", "form", type=click.Choice([f.value for f in validation.Format]),
              default=validation.Format.TEXT.value, show_default=True,
              help="text for people, json for tools, github for pull-request annotations.")
def validate(files: tuple[Path, ...], strict: bool, form: str) -> None:
    """Check scenario FILES without running them: every problem in every file at once,
    with line and column, and warnings about fleets that cannot work."""
    checks = [validation.check(path) for path in files]
    out, err = validation.render(checks, validation.Format(form), strict=strict)
    click.echo(out, nl=False)
    click.echo(err, nl=False, err=True)
    failed = any(c.errors(strict=strict) for c in checks)
    click.get_current_context().exit(EXIT_BAD_INPUT if failed else EXIT_OK)


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
    from testbed.certify.command import certify_command
    from testbed.live.commands import devices, ehr, serve
    from testbed.live.pacs_check.command import pacs_check
    from testbed.network.emulate.command import emulate
    from testbed.study.cli import register

    cli.add_command(serve)
    cli.add_command(devices)
    cli.add_command(ehr)
    cli.add_command(pacs_check)
    cli.add_command(emulate)
    cli.add_command(certify_command)
    register(cli)  # compare, sweep


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
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("interrupted", err=True)
        return EXIT_INTERRUPTED
    return code if isinstance(code, int) else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
