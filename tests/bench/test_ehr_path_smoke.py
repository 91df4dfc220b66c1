"""The EHR path benchmark end to end on a tiny fleet (structure, never timings)."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_the_ehr_path_benchmark_writes_both_paths_and_their_ratio(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.syspath_prepend(str(ROOT))
    bench = importlib.import_module("benchmarks.ehr_path")
    out = tmp_path / "bench-ehr.json"
    assert bench.main(["--devices", "4", "--hours", "2", "--levels", "modeled",
                       "--out", str(out)]) == 0  # fmt: skip
    [run] = json.loads(out.read_text(encoding="utf-8"))["runs"]
    base, ehr = run["certificate_only"], run["ehr"]
    # one per device at 0, 1 h and 2 h (the run ends a minute after its 2 h)
    assert base["deliveries"] == ehr["deliveries"] == 4 * 3
    assert ehr["fhir_writes_accepted"] == ehr["items_delivered"] == base["items_delivered"]
    assert ehr["tokens_granted"] >= ehr["deliveries"] and ehr["duplicates"] == 0
    assert base["unauthorized_access"] == ehr["unauthorized_access"] == 0
    assert run["ratio"] == round(ehr["us_per_delivery"] / base["us_per_delivery"], 1) > 0
