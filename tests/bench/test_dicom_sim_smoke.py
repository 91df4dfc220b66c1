"""The simulated-DICOM benchmark end to end on a short run (structure, never timings)."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_the_dicom_benchmark_writes_its_figures(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.syspath_prepend(str(ROOT))
    bench = importlib.import_module("benchmarks.dicom_sim")
    out = tmp_path / "dicom.json"
    assert bench.main(["--rounds", "1", "--duration", "1d", "--out", str(out)]) == 0
    result = json.loads(out.read_text(encoding="utf-8"))
    assert set(result["cpu_seconds"]) == {"plain", "dicom"}
    assert all(seconds > 0 for seconds in result["cpu_seconds"].values())
    assert result["studies_stored"] > 0
    assert result["instances_stored"] >= result["studies_stored"]
    assert result["dicom_over_plain"] > 0
