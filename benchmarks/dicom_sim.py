"""What simulated DICOM costs against the same deliveries through the access point.

The fleet and sites of ``scenarios/imaging-pacs-resilience.yaml`` without its faults,
run twice per round in the same process, alternated: without the ``dicom:`` block
(deliveries decided by the access point, allowances standing) and with it (every
delivery a study: a walked association and a pydicom-validated C-STORE per
instance; ``testbed/sim/imaging.py``).  Reports CPU seconds (the best of the
rounds), the ratio DICOM/plain, and the CPU per instance stored.

``python -m benchmarks.dicom_sim [--rounds N] [--duration 30d] [--out FILE]``
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path
from typing import Any

import yaml
from pydantic import TypeAdapter

from testbed.runner import run_scenario
from testbed.scenario import Scenario

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "imaging-pacs-resilience.yaml"


def _scenarios(duration: str) -> dict[str, Scenario]:
    base: dict[str, Any] = yaml.safe_load(SCENARIO.read_text(encoding="utf-8"))
    base.pop("faults", None)
    base.pop("expectations", None)
    base["duration"] = duration
    plain = copy.deepcopy(base)
    plain.pop("dicom", None)
    dicom = copy.deepcopy(base)
    dicom["dicom"] = {}  # no lost answers: the same deliveries, as studies
    adapter = TypeAdapter(Scenario)
    return {"plain": adapter.validate_python(plain), "dicom": adapter.validate_python(dicom)}


def measure(*, rounds: int, duration: str) -> dict[str, Any]:
    """Run both variants ``rounds`` times, alternated; the best CPU time of each."""
    scenarios = _scenarios(duration)
    cpu: dict[str, list[float]] = {name: [] for name in scenarios}
    instances = studies = 0
    for _ in range(rounds):
        for name, scenario in scenarios.items():
            start = time.process_time()
            result = run_scenario(scenario)
            cpu[name].append(time.process_time() - start)
            if name == "dicom":
                instances = int(result.report.measures["dicom_instances_stored"])
                studies = int(result.report.measures["studies_stored"])
    best = {name: min(times) for name, times in cpu.items()}
    return {
        "duration": duration,
        "rounds": rounds,
        "cpu_seconds": best,
        "dicom_over_plain": best["dicom"] / best["plain"] if best["plain"] else None,
        "studies_stored": studies,
        "instances_stored": instances,
        "cpu_us_per_instance": (best["dicom"] - best["plain"]) / instances * 1e6
        if instances
        else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", default="30d")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    result = measure(rounds=args.rounds, duration=args.duration)
    cpu = result["cpu_seconds"]
    print(f"plain (access point, standing): {cpu['plain']:.2f} s CPU")
    print(f"dicom (studies, per instance):  {cpu['dicom']:.2f} s CPU "
          f"({result['instances_stored']} instances)")  # fmt: skip
    print(f"DICOM / plain: {result['dicom_over_plain']:.1f}x; "
          f"{result['cpu_us_per_instance']:.0f} µs CPU per instance stored")  # fmt: skip
    if args.out is not None:
        args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
