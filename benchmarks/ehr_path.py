"""The simulation's cost of the EHR path per delivery, as a ratio to the certificate-only
path measured in the same run (issue 11, benchmark).

One hospital of N bedside gateways (EHR only, hourly deliveries) is simulated twice
per fidelity level: without an ``ehr`` block (each delivery is one access decision,
the certificate-only path, with standing allowances) and with one (each delivery asks
the IdP for a token, since tokens live 5 minutes, and sends a FHIR create through the
whole path: access point, token check, EHR with validation, Provenance and
AuditEvent, the write oracle).  Only the time inside the traffic engine's deliveries
is counted (CPU time, ``time.process_time``), so onboarding, enrollment and the
pre-production tests, the same in both runs, are left out.  Steady turns (a device's
standing allowances given again together, :class:`~testbed.standing.Steady`) are off
in both: they never apply to FHIR creates, and the certificate-only path is measured
one delivery at a time, as a delivery the EHR path replaces.

``python -m benchmarks.ehr_path [--devices 1000] [--hours 6] [--levels modeled,full]
[--out runs/bench-ehr.json]``: prints, per level, microseconds per delivery on each
path and their ratio.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from testbed.access import Attempt
from testbed.core import Testbed
from testbed.pki.fidelity import Fidelity
from testbed.scenario import Scenario
from testbed.sim.agent import DeviceAgent
from testbed.standing import Standing

__all__ = ["main", "measure"]


def scenario(devices: int, hours: int, *, ehr: bool, fidelity: Fidelity) -> Scenario:
    """The benchmark's hospital (see the module)."""
    data: dict[str, Any] = {
        "name": "bench-ehr-path", "seed": 11, "start": "2026-01-05T00:00:00Z",
        "duration": f"{hours}h", "recovery_window": "1m", "fidelity": fidelity.value,
        "sites": [{"name": "north", "zones": ["bedside", "datacenter"]}],
        "services": [{"name": "ehr", "kind": "ehr", "site": "north", "zone": "datacenter"}],
        "network": [{"from": "bedside", "to": "ehr"}],
        "pki": {"lifetime": "7d"},
        "workload": {"interval": "1h", "retry": "10m"},
        "fleet": [{"profile": "bedside-monitor-gateway", "count": devices, "site": "north",
                   "zone": "bedside", "owner": "nursing"}],
    }  # fmt: skip
    if ehr:
        data["ehr"] = {"census": {"locations": 20, "patients": max(devices, 20)}}
    return TypeAdapter(Scenario).validate_python(data)


def measure(devices: int, hours: int, *, ehr: bool, fidelity: Fidelity) -> dict[str, Any]:
    """Run one hospital; CPU time inside deliveries, deliveries, items delivered."""
    tb = Testbed(scenario(devices, hours, ehr=ehr, fidelity=fidelity), keep_events=False)
    engine = tb.traffic
    engine.steady = False  # every delivery through deliver (see the module)
    deliver = engine.deliver
    spent = [0.0, 0]

    def timed(agent: DeviceAgent, attempt: Attempt, standing: Standing, now: datetime) -> None:
        start = time.process_time()
        deliver(agent, attempt, standing, now)
        spent[0] += time.process_time() - start
        spent[1] += 1

    engine.deliver = timed  # type: ignore[method-assign]
    started = time.process_time()
    tb.run()
    total = time.process_time() - started
    deliveries = int(spent[1])
    ehr_measures = tb.metrics.ehr
    measures = {} if ehr_measures is None else {
        "tokens_granted": ehr_measures.tokens_granted,
        "fhir_writes_accepted": ehr_measures.writes_accepted,
        "duplicates": ehr_measures.duplicates,
    }  # fmt: skip
    return {
        "path": "ehr" if ehr else "certificate-only",
        "fidelity": fidelity.value,
        "devices": devices,
        "deliveries": deliveries,
        "items_delivered": tb.metrics.delivered,
        "delivery_cpu_s": round(spent[0], 3),
        "run_cpu_s": round(total, 3),
        "us_per_delivery": round(spent[0] / max(deliveries, 1) * 1e6, 1),
        "unauthorized_access": tb.metrics.unauthorized_access,
        "data_lost": tb.metrics.data_lost,
        **measures,
    }


def main(argv: list[str] | None = None) -> int:
    """Measure and print (see the module); the JSON goes to ``--out``."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ehr_path", description=__doc__)
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--hours", type=int, default=6)
    parser.add_argument("--levels", default="modeled,full")
    parser.add_argument("--out", type=Path, default=Path("runs/bench-ehr.json"))
    args = parser.parse_args(argv)
    results: list[dict[str, Any]] = []
    for level in (Fidelity(name) for name in args.levels.split(",")):
        base = measure(args.devices, args.hours, ehr=False, fidelity=level)
        path = measure(args.devices, args.hours, ehr=True, fidelity=level)
        ratio = round(path["us_per_delivery"] / max(base["us_per_delivery"], 1e-9), 1)
        results.append({"fidelity": level.value, "certificate_only": base, "ehr": path,
                        "ratio": ratio})  # fmt: skip
        print(f"{level.value:8} {args.devices} devices, {args.hours} h: certificate-only "
              f"{base['us_per_delivery']} us/delivery, EHR path {path['us_per_delivery']} "
              f"us/delivery: {ratio}x")  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"runs": results}, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
