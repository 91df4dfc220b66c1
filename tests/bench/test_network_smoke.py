"""``make bench-network`` still runs (small sizes): the analysis of two designs and a
sweep in one process and on two.  Timings are not checked here (the benchmark
reports them as ratios); the structure and the sweep's equal tables are."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """``benchmarks.network`` (the benchmarks are not an installed package)."""
    monkeypatch.syspath_prepend(str(ROOT))
    return importlib.import_module("benchmarks.network")


def test_the_network_benchmark_writes_its_figures(bench: ModuleType, tmp_path: Path) -> None:
    out = tmp_path / "network.json"
    designs = "flat-shared-credentials,zero-trust-microsegmentation"
    code = bench.main(["--devices", "300", "--seeds", "1", "--designs", designs,
                       "--workers", "2", "--out", str(out)])  # fmt: skip
    assert code == 0
    result = json.loads(out.read_text(encoding="utf-8"))
    assert set(result["analysis"]) == set(designs.split(","))
    for figures in result["analysis"].values():
        assert figures["rows"] == 300 and figures["seconds"] >= 0 and figures["classes"] > 0
        assert figures["over_a_tenth"] > 0
    flat, zero = (result["analysis"][d]["bre_k_mean"] for d in designs.split(","))
    assert flat > zero
    sweep = result["sweep"]
    assert sweep["runs"] == 2 * 4 and sweep["same_table"] is True and sweep["ratio"] > 0
    assert isinstance(result["targets"]["sweep_speedup"]["met"], bool)
