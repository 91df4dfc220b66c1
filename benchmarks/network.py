"""Network benchmark: the analysis of the five designs at scale, and a sweep's speed-up.

``make bench-network`` (``python -m benchmarks.network``) measures:

1. **analysis**: each shipped design asked about a 10-site hospital of
   ``--devices`` devices (default 50,000; :mod:`benchmarks.scenarios`' fleet): the
   blast radius of every device (one-hop reach and BRE_K, K=3) and the policy size;
   seconds per design, the endpoint classes it ran over, and the ratio of the
   wall at ``--devices`` to the wall at a tenth of them (10 means linear growth;
   the analysis is over classes, so it grows with the rows it writes, not the
   flows);
2. **sweep**: the flagship pilot (``scenarios/two-site-pilot.yaml``) under the five
   designs x the four fault sets of ``benchmarks/fault-grid.yaml`` x ``--seeds``
   seeds, in one process and on local processes (one per CPU); the ratio of the two
   walls (target: at least 1.8 on 2 cores), and whether both gave the same table.

It prints the figures and writes ``benchmarks/results/network.json``.  Timings are
this machine's at this moment: the figures to compare are the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["analysis", "main", "sweep_speedup"]

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
PILOT = ROOT / "scenarios" / "two-site-pilot.yaml"
GRID = ROOT / "benchmarks" / "fault-grid.yaml"
SPEEDUP_TARGET = 1.8


def analysis(devices: int, designs: list[str]) -> dict[str, dict[str, Any]]:
    """Seconds per design for the analysis of a ``devices``-device hospital."""
    from benchmarks.scenarios import build_scenario
    from testbed import network
    from testbed.crosscheck import profiles_for
    from testbed.devices import load_profiles
    from testbed.network.classes import endpoint_classes
    from testbed.network.reach import Question

    scenario = build_scenario(devices)
    topology = network.Topology.from_scenario(scenario, load_profiles(profiles_for(scenario, ROOT)))
    out: dict[str, dict[str, Any]] = {}
    for name in designs:
        design = network.load_design(name)
        started = time.perf_counter()
        blast = network.blast_radius(design, topology, k=3, at=scenario.start)
        network.policy_size(design, at=scenario.start)
        seconds = time.perf_counter() - started
        classes = len(endpoint_classes(Question.of(design, topology)))
        out[name] = {"seconds": round(seconds, 3), "rows": len(blast), "classes": classes,
                     "bre_k_mean": round(float(blast["BRE_K"].mean()), 4)}
    return out


def _cpu() -> float:
    """CPU seconds of this process and its finished children."""
    own, children = (resource.getrusage(w) for w in (resource.RUSAGE_SELF,
                                                      resource.RUSAGE_CHILDREN))  # fmt: skip
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def sweep_speedup(seeds: int, designs: list[str], workers: int) -> dict[str, Any]:
    """The sweep's wall and CPU seconds in one process and on ``workers`` local
    processes, after one warm-up run (so both start with the same caches), and the
    load average before (other work on the machine shares its cores)."""
    from testbed.study import sweep

    sweep(PILOT, designs[:1], workers=1)  # warm-up: imports, catalog, profiles
    walls: dict[str, float] = {}
    cpus: dict[str, float] = {}
    tables = {}
    load = os.getloadavg()[0]
    for label, count in (("one_process", 1), ("local_processes", workers)):
        started, cpu = time.perf_counter(), _cpu()
        tables[label] = sweep(PILOT, designs, seeds=seeds, fault_grid=GRID, workers=count)
        walls[label] = round(time.perf_counter() - started, 2)
        cpus[label] = round(_cpu() - cpu, 2)
    ratio = walls["one_process"] / walls["local_processes"]
    return {
        "runs": len(tables["one_process"]), "workers": workers, "wall_s": walls,
        "cpu_s": cpus, "load_average_before": round(load, 2), "ratio": round(ratio, 2),
        # the pool's CPU seconds over one process's: what running in workers costs more
        "pool_cpu_over_one": round(cpus["local_processes"] / max(cpus["one_process"], 1e-9), 2),
        "same_table": bool(tables["one_process"].equals(tables["local_processes"])),
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print its figures and write the JSON results."""
    from testbed.study.variant import SHIPPED_DESIGNS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=50_000)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--designs", default=",".join(SHIPPED_DESIGNS))
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", type=Path, default=RESULTS / "network.json")
    args = parser.parse_args(argv)
    designs = args.designs.split(",")
    tenth = max(args.devices // 10, 1)
    speed = sweep_speedup(args.seeds, designs, args.workers)  # first: a small parent to fork
    large = analysis(args.devices, designs)
    small = analysis(tenth, designs)
    for name in designs:
        large[name]["over_a_tenth"] = round(large[name]["seconds"] / max(small[name]["seconds"],
                                                                         1e-9), 2)  # fmt: skip
        print(f"analysis {name}: {large[name]['seconds']:.2f} s for {args.devices} devices "
              f"({large[name]['classes']} classes), {large[name]['over_a_tenth']}x the wall "
              f"at {tenth}")  # fmt: skip
    print(f"sweep: {speed['runs']} runs, one process {speed['wall_s']['one_process']} s, "
          f"{args.workers} processes {speed['wall_s']['local_processes']} s: "
          f"{speed['ratio']}x (target {SPEEDUP_TARGET}x), same table: {speed['same_table']}; "
          f"CPU s {speed['cpu_s']}, load average before {speed['load_average_before']} "
          f"on {os.cpu_count()} CPUs")
    result = {
        "cpus": os.cpu_count(), "devices": args.devices, "analysis": large,
        "analysis_tenth": {"devices": tenth, "designs": small}, "sweep": speed,
        "targets": {"sweep_speedup": {"target": SPEEDUP_TARGET,
                                      "met": speed["ratio"] >= SPEEDUP_TARGET}},
    }  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
