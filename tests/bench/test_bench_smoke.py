"""The benchmark driver end to end on a tiny fleet (structure, never timings)."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """``benchmarks.run`` (the benchmarks are not an installed package)."""
    monkeypatch.syspath_prepend(str(ROOT))
    return importlib.import_module("benchmarks.run")


@pytest.mark.parametrize("fidelity", ["full", "modeled"])
def test_the_benchmark_writes_every_figure_it_reports(
    run: ModuleType, tmp_path: Path, fidelity: str
) -> None:
    out = tmp_path / "bench.json"
    code = run.main(["--sizes", "30,60", "--budget", "0", "--no-drop-events",
                     "--fidelity", fidelity, "--out", str(out)])
    assert code == 0
    result = json.loads(out.read_text(encoding="utf-8"))
    assert result["settings"]["fidelity"] == fidelity
    runs = result["runs"]
    assert [r["devices"] for r in runs] == [30, 60]
    for r in runs:
        assert r["completed"] and r["sim_reached"] == r["sim_seconds"]
        assert r["bare"]["events"] == r["events"] > 0  # the same number of events
        assert len(r["bare_rates"]) == 3 and r["bare"]["events_per_second"] == max(
            r["bare_rates"]
        )  # the fastest bare run is the comparison
        assert r["ratio"] > 0 and r["cpu"]["main"] > 0
        assert r["unauthorized_access"] == 0 and r["data_lost"] == 0
        assert r["fidelity"] == fidelity
        assert r["crypto_floor_s"] > 0 and r["wall_over_crypto_floor"] > 0
    for moment in ("start", "end"):
        reference = result["reference"][moment]
        assert len(reference["runs_us"]) == 3
        assert reference["us_per_issuance"] == min(reference["runs_us"]) > 0
    assert set(result["targets"]) == {"overhead_ratio", "linear"}  # no 10k run here
    assert all(isinstance(t["met"], bool) for t in result["targets"].values())
