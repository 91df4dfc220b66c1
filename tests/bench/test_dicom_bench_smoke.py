"""``make bench-dicom`` still runs (small sizes): ``testbed serve`` and dcmtk
``storescp`` come up, dcmtk ``storescu`` stores over TLS to both, and the result has
every rate and ratio.  Timings are not checked here (the benchmark reports ratios)."""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

import pytest

from tests.live.dicom_peer import dcmtk_missing

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def dicom_bench(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """``benchmarks.dicom`` (the benchmarks are not an installed package)."""
    monkeypatch.syspath_prepend(str(ROOT))
    return importlib.import_module("benchmarks.dicom")


@pytest.mark.skipif(dcmtk_missing() is not None, reason=str(dcmtk_missing()))
def test_the_dicom_benchmark_runs(dicom_bench: ModuleType, tmp_path: Path) -> None:
    tmp_path.chmod(0o700)
    result = dicom_bench.run(associations=2, instances=3, rounds=1, work=tmp_path)
    for name in ("testbed", "dcmtk"):
        assert set(result[name]) == {"associations_per_s", "associations_per_s_full_proposal",
                                     "instances_per_s"}  # fmt: skip
        assert all(rate > 0 for rate in result[name].values())
    assert set(result["ratio_testbed_over_dcmtk"]) == set(result["testbed"])
