"""``make bench-emulate`` still runs (one design, a tiny hospital, one round); skips
without root, ``ip`` or ``nft``.  Timings are not checked, only that each stage was
measured and the table was written."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from types import ModuleType

import pytest

from testbed.network.emulate import missing

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """``benchmarks.emulate`` (the benchmarks are not an installed package)."""
    lacks = missing()
    if lacks:
        pytest.skip("needs " + "; ".join(lacks))
    monkeypatch.syspath_prepend(str(ROOT))
    return importlib.import_module("benchmarks.emulate")


def test_bench_emulate_runs_tiny(bench: ModuleType, tmp_path: Path) -> None:
    out = tmp_path / "emulate.json"
    argv = ["--sites", "2", "--zones", "1", "--rounds", "1",
            "--design", "zero-trust-microsegmentation", "--out", str(out)]  # fmt: skip
    assert bench.main(argv) == 0
    (row,) = json.loads(out.read_text(encoding="utf-8"))["designs"]
    assert row["namespaces"] == 3 and row["flows"] > 0 and row["drift"] == 0
    for stage in ("build_ms_per_namespace", "ruleset_ms", "listeners_ms",
                  "probe_us_per_flow", "teardown_ms_per_namespace"):  # fmt: skip
        assert row[stage] > 0
