"""``testbed emulate SCENARIO --design D``: the design in namespaces, probed, compared.

Exit codes as ``testbed run``: 0 the kernel enforces exactly what the model says,
1 drift (the rows are printed), 2 bad input or a host that cannot emulate (not
root, ``ip`` or ``nft`` missing: the message names each).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.table import Table

from testbed.crosscheck import profiles_for
from testbed.devices import load_profiles
from testbed.errors import OutputError, ScenarioError
from testbed.network.design import load_design
from testbed.network.emulate.host import require

if TYPE_CHECKING:
    from testbed.network.emulate.drift import Comparison
    from testbed.network.emulate.session import Emulated
from testbed.network.topology import Topology
from testbed.scenario import load_scenario
from testbed.study.variant import scenario_time

__all__ = ["emulate"]

#: more flows than this are refused (the probe is bounded in count, not only in time)
MAX_FLOWS = 50_000


@click.command()
@click.argument("scenario", type=click.Path(path_type=Path))
@click.option("--design", default=None,
              help="A design name in fixtures/designs or a design file (default: the "
                   "scenario's design).")  # fmt: skip
@click.option("--at", "at", default="0d", show_default=True,
              help="Scenario time the exceptions are judged at (a duration after its start).")
@click.option("--timeout", type=click.FloatRange(0.01, 10.0), default=1.0, show_default=True,
              help="Seconds one TCP connect may take.")
@click.option("--json", "json_out", type=click.Path(path_type=Path), default=None,
              help="Also write the table, the counts and the timings as JSON here.")
@click.option("--drift-only", is_flag=True, help="Print only the rows that differ.")
def emulate(
    scenario: Path, design: str | None, at: str, timeout: float, json_out: Path | None,
    drift_only: bool,
) -> None:
    """Build SCENARIO's network under a design in network namespaces and nftables,
    probe every source x asset x port with real TCP connects and compare with the
    model; exit 1 on drift.  Needs root, ip (iproute2) and nft (nftables)."""
    from testbed.network.emulate.layout import plan  # the analysis imports pandas: on use
    from testbed.network.emulate.session import emulate as run_emulation

    spec = load_scenario(scenario)  # bad input first (exit 2), then what the host lacks
    chosen = design or spec.design
    if chosen is None:
        raise ScenarioError(str(scenario), "design",
                            "a design: the scenario's `design:` or --design NAME")  # fmt: skip
    when = spec.start + scenario_time(spec, at, scenario)
    require()
    topology = Topology.from_scenario(spec, load_profiles(profiles_for(spec, scenario.parent)))
    the_plan = plan(load_design(chosen), topology, at=when)
    if len(the_plan.flows) > MAX_FLOWS:
        raise ScenarioError(str(scenario), "fleet", f"at most {MAX_FLOWS} flows to probe",
                            got=len(the_plan.flows))  # fmt: skip
    result = run_emulation(the_plan, timeout=timeout)
    Console(width=120).print(_table(result.comparison, drift_only=drift_only,
                                    title=_title(result)))  # fmt: skip
    for line in _drift_lines(result.comparison):
        click.echo(line)
    counts = result.comparison.counts()
    click.echo(", ".join(f"{k.replace('_', ' ')} {v}" for k, v in counts.items()))
    click.echo(_timing_line(result))
    if json_out is not None:
        _write_json(json_out, result)
    click.get_current_context().exit(1 if result.comparison.drift else 0)


def _title(result: Emulated) -> str:
    plan_ = result.plan
    return (f"{plan_.design.name}: model vs kernel ({len(plan_.links) + 1} namespaces, "
            f"{len(result.ruleset.elements)} set elements)")  # fmt: skip


#: the columns printed (the JSON has every column, :data:`COLUMNS`)
_PRINTED = ("Src", "Src_Group", "Dst", "Service", "Dst_Port", "Model", "Kernel", "Match")


def _table(comparison: Comparison, *, drift_only: bool, title: str) -> Table:
    table = Table(title=title)
    for column in _PRINTED:
        table.add_column(column)
    for row in comparison.drift if drift_only else comparison.rows:
        record = row.record()
        table.add_row(*(str(record[c]) for c in _PRINTED), style=None if row.matches else "red")
    return table


def _drift_lines(comparison: Comparison) -> list[str]:
    return [
        f"DRIFT {r['Src']} -> {r['Dst']} {r['Service']}/{r['Dst_Port']}: model {r['Model']}, "
        f"kernel {r['Kernel']}: {r['Cause']}"
        for r in (row.record() for row in comparison.drift)
    ]


def _timing_line(result: Emulated) -> str:
    t = result.timings
    namespaces = len(result.plan.links) + 1
    flows = max(len(result.plan.flows), 1)
    return (f"build {t.namespaces * 1000:.1f} ms ({t.namespaces / namespaces * 1000:.2f} ms per "
            f"namespace), ruleset {t.ruleset * 1000:.1f} ms, "
            f"listeners {t.listeners * 1000:.1f} ms, "
            f"probe {t.probe * 1000:.1f} ms ({t.probe / flows * 1e6:.0f} µs per flow), "
            f"teardown {t.teardown * 1000:.1f} ms")  # fmt: skip


def _write_json(path: Path, result: Emulated) -> None:
    data = {
        "design": result.plan.design.name,
        "counts": result.comparison.counts(),
        "timings_seconds": {k: getattr(result.timings, k) for k in result.timings.__slots__},
        "rows": [row.record() for row in result.comparison.rows],
    }
    try:
        path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    except OSError as error:
        raise OutputError(f"{path}: expected a writable file ({error.strerror})") from None
