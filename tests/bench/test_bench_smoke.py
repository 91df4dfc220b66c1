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


def test_the_benchmark_writes_every_figure_it_reports(run: ModuleType, tmp_path: Path) -> None:
    """Modeled fidelity at two sizes against the bare loop, full fidelity at the larger
    against the crypto floor, the larger at both levels again on the compiled build;
    the outputs timed; the level ratio where both ran."""
    out = tmp_path / "bench.json"
    code = run.main(["--sizes", "30,60", "--full-sizes", "60", "--compiled-sizes", "60",
                     "--budget", "0", "--no-drop-events", "--floor-device-days", "6000",
                     "--out", str(out)])
    assert code == 0
    result = json.loads(out.read_text(encoding="utf-8"))
    runs = result["runs"]
    assert [(r["devices"], r["fidelity"], r.get("compiled", False)) for r in runs] == [
        (30, "modeled", False), (60, "modeled", False), (60, "modeled", True),
        (60, "full", False), (60, "full", True)]
    # the mypyc build beside the pure one: the same counts, its wall against the pure
    # run's and against the same bare loop; not a target of its own
    fast = runs.pop(2)
    assert fast["same_counts"] is True and fast["over_pure"] > 0 and fast["ratio"] > 0
    assert fast["decisions"] == runs[1]["decisions"] and fast["events"] == runs[1]["events"]
    assert result["targets"].pop("compiled_modeled_60") == {
        "value": fast["ratio_wall"], "over_pure": fast["over_pure"], "same_counts": True,
        "met": True}
    assert result["settings"]["compiled_sizes"] == [60]
    assert result["settings"]["compiled_full_sizes"] == [60]
    # at full fidelity too: the same counts, its wall against its own crypto floor
    fast_full = runs.pop(-1)
    assert fast_full["same_counts"] is True and fast_full["over_pure"] > 0
    assert fast_full["certificates_issued"] == runs[-1]["certificates_issued"]
    assert fast_full["crypto_floor_s"] == runs[-1]["crypto_floor_s"]
    assert result["targets"].pop("compiled_full_60") == {
        "value": fast_full["wall_over_crypto_floor"], "over_pure": fast_full["over_pure"],
        "same_counts": True, "met": True}
    for r in runs:
        assert r["completed"] and r["sim_reached"] == r["sim_seconds"]
        assert r["cpu"]["main"] > 0
        assert r["unauthorized_access"] == 0 and r["data_lost"] == 0
        assert set(r["outputs"]) == {"events.jsonl", "report.json", "report.html"}
        assert r["outputs_share"] > 0
    for r in runs[:2]:
        # one bare event per delivery turn, as the per-device model had
        assert r["bare"]["events"] == r["model_events"] > r["events"] > 0
        assert len(r["bare_rates"]) == 3 and r["bare"]["events_per_second"] == max(
            r["bare_rates"]
        )  # the fastest bare run is the comparison
        assert r["ratio"] > 0 and "crypto_floor_s" not in r
        # the decision floor replays about as many standing allowances as the run decided
        floor = r["decision_floor"]
        assert 0 < floor["attempts"] <= floor["decisions"] <= r["decisions"]
        assert floor["decisions"] > r["decisions"] - floor["attempts"]
        assert floor["us_per_decision"] > 0 and floor["over_bare"] > 0
        assert floor["run_over_floor"] > 0
        # the fleet floor: the same steady device-days in every layout, the same decisions
        fleet = r["fleet_floor"]
        assert fleet["devices"] == r["devices"] and fleet["days"] == 6000 // r["devices"]
        assert len({fleet[layout]["decisions"] for layout in run.LAYOUTS}) == 1
        assert fleet["arrays"]["decisions"] > 0
        assert all(fleet[layout]["us_per_device_day"] > 0 for layout in run.LAYOUTS)
    assert runs[2]["crypto_floor_s"] > 0 and runs[2]["wall_over_crypto_floor"] > 0
    # the floor counts every certificate the run issued: device identities and the
    # pre-production tests' own (two per device: expired and revoked credentials)
    full = runs[2]
    assert full["test_certificates_issued"] == 2 * full["devices"]
    fastest = {m: result["reference"][m] for m in ("start", "end")}
    per_issuance = min(r["us_per_issuance"] for r in fastest.values())
    per_test = min(r["us_per_test_issuance"] for r in fastest.values())
    floor = (full["certificates_issued"] * per_issuance
             + full["test_certificates_issued"] * per_test) / 1e6
    assert full["crypto_floor_s"] == round(floor, 1)
    # both levels ran 60 devices: the same decisions, so the same counts
    assert runs[1]["decisions"] == runs[2]["decisions"]
    assert runs[1]["certificates_issued"] == runs[2]["certificates_issued"]
    for moment in ("start", "end"):
        reference = result["reference"][moment]
        assert len(reference["runs_us"]) == 3
        assert reference["us_per_issuance"] == min(reference["runs_us"]) > 0
        assert len(reference["test_runs_us"]) == 3
        assert reference["us_per_test_issuance"] == min(reference["test_runs_us"]) > 0
    # no 10k or 100k run here: only the growth and the level ratio are judged
    assert set(result["targets"]) == {"modeled_linear", "full_over_modeled_60"}
    assert all(isinstance(t["met"], bool) for t in result["targets"].values())
    growth = result["targets"]["modeled_linear"]["floor_growth"]
    small, large = (runs[i]["fleet_floor"] for i in (0, 1))
    assert growth == {layout: round(large[layout]["us_per_device_day"]
                                    / small[layout]["us_per_device_day"], 2)
                      for layout in run.LAYOUTS}
