"""Emulation benchmark (issue 13): building a design in namespaces and probing it.

``make bench-emulate`` (``python -m benchmarks.emulate``; root, ``ip`` and ``nft``)
builds a generated hospital (``--sites`` sites x ``--zones`` device zones, one
device of each of the five device classes per zone; a PACS and an EHR per site, the
CA and IdP at the first) under each shipped design, ``--rounds`` times, and reports
the fastest round of each stage:

- **build**: namespaces, veth links, addresses and routes (``ip -batch``), per
  namespace;
- **ruleset**: loading the compiled nftables table (``nft -f``), and its elements;
- **listeners**: the agent binding every target port (assets and device targets);
- **probe**: every source x target x TCP port connected (all zones at once), per flow;
- **teardown**: stopping the listeners and deleting the namespaces, per namespace.

It checks the drift of each design on the way (the count is reported: drift in
``per-site-vlans`` and ``central-ca-automated-renewal`` is the port 443 their rules
share between services, see ``docs/designs.md``).  Writes
``benchmarks/results/emulate.json``.  Without root or the tools it says what is
missing and exits 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from testbed.devices import DeviceClass
from testbed.errors import EmulationError
from testbed.network.catalog import EndpointKind
from testbed.network.design import DESIGNS, load_design
from testbed.network.emulate import Emulated, emulate, plan, require
from testbed.network.topology import Endpoint, Topology

RESULTS = Path(__file__).resolve().parent / "results"
DESIGN_NAMES = sorted(p.stem for p in DESIGNS.glob("*.yaml"))


def hospital(sites: int, zones: int) -> Topology:
    """``sites`` x ``zones`` device zones, one device per class in each; a PACS and an
    EHR per site in its datacenter; the CA and IdP at the first site."""
    devices = [
        Endpoint(f"{c.value}-s{s}-z{z}", EndpointKind.DEVICE, f"site{s}", f"zone{z}", c)
        for s in range(sites) for z in range(zones) for c in DeviceClass
    ]  # fmt: skip
    assets = [Endpoint(f"{kind.value}-s{s}", kind, f"site{s}", "datacenter")
              for s in range(sites) for kind in (EndpointKind.PACS, EndpointKind.EHR)]  # fmt: skip
    assets += [Endpoint(kind.value, kind, "site0", "datacenter")
               for kind in (EndpointKind.CA, EndpointKind.IDP)]  # fmt: skip
    return Topology(tuple(devices + assets))


def measure(design: str, topology: Topology, rounds: int) -> dict[str, Any]:
    """The fastest of ``rounds`` emulations of ``design``, per stage."""
    the_plan = plan(load_design(design), topology)
    runs: list[Emulated] = [emulate(the_plan) for _ in range(rounds)]
    namespaces = len(the_plan.links) + 1
    flows = len(the_plan.flows)

    def best(stage: str) -> float:
        return min(getattr(r.timings, stage) for r in runs)

    return {
        "design": design,
        "namespaces": namespaces,
        "flows": flows,
        "elements": len(runs[0].ruleset.elements),
        "drift": len(runs[0].comparison.drift),
        "build_ms_per_namespace": best("namespaces") / namespaces * 1e3,
        "ruleset_ms": best("ruleset") * 1e3,
        "listeners_ms": best("listeners") * 1e3,
        "probe_us_per_flow": best("probe") / flows * 1e6,
        "teardown_ms_per_namespace": best("teardown") / namespaces * 1e3,
    }


def main(argv: list[str] | None = None) -> int:
    """Measure every design, print a table, write the JSON results."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.emulate",
                                     description=__doc__.split("\n")[0])  # fmt: skip
    parser.add_argument("--sites", type=int, default=4)
    parser.add_argument("--zones", type=int, default=4, help="device zones per site")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--design", action="append", choices=DESIGN_NAMES,
                        help="only these designs (default: every shipped design)")
    parser.add_argument("--out", type=Path, default=RESULTS / "emulate.json")
    args = parser.parse_args(argv)
    try:
        require()
    except EmulationError as error:
        print(f"bench-emulate: {error}", file=sys.stderr)
        return 2
    topology = hospital(args.sites, args.zones)
    rows = [measure(d, topology, args.rounds) for d in args.design or DESIGN_NAMES]
    header = ("design", "namespaces", "flows", "elements", "drift", "build ms/ns",
              "ruleset ms", "listeners ms", "probe µs/flow", "teardown ms/ns")  # fmt: skip
    print(" | ".join(header))
    for r in rows:
        print(f"{r['design']} | {r['namespaces']} | {r['flows']} | {r['elements']} | "
              f"{r['drift']} | {r['build_ms_per_namespace']:.2f} | {r['ruleset_ms']:.1f} | "
              f"{r['listeners_ms']:.1f} | {r['probe_us_per_flow']:.0f} | "
              f"{r['teardown_ms_per_namespace']:.2f}")  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    results = {"sites": args.sites, "zones": args.zones, "rounds": args.rounds, "designs": rows}
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
