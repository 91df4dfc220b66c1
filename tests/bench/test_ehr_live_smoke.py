"""``make bench-ehr-live`` still runs (tiny sizes): the live IdP and FHIR API and the floor
handler come up, and every measured request gets its expected answer.  Timings are
not checked here (the benchmark reports them as ratios in one run)."""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def ehr_live(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """``benchmarks.ehr_live`` (the benchmarks are not an installed package)."""
    monkeypatch.syspath_prepend(str(ROOT))
    return importlib.import_module("benchmarks.ehr_live")


def test_token_and_create_throughput_run(ehr_live: ModuleType, tmp_path: Path) -> None:
    result = ehr_live.run(2, 3, tmp_path)
    for name in ("floor", "token", "fhir_create"):
        assert result[name]["requests"] == 6 and result[name]["per_second"] > 0
    assert result["token_over_floor"] > 0 and result["create_over_floor"] > 0
