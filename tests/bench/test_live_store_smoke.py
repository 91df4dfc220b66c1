"""``make bench``'s live store benchmark still runs (small sizes): a server comes up
with either store, devices enroll over HTTPS, a built state directory restarts and
answers OCSP.  Timings are not checked here (benchmarks report them as ratios)."""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def live_store(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """``benchmarks.live_store`` (the benchmarks are not an installed package)."""
    monkeypatch.syspath_prepend(str(ROOT))
    return importlib.import_module("benchmarks.live_store")


@pytest.mark.parametrize("durable", [False, True])
def test_enrollment_rate_runs(live_store: ModuleType, tmp_path: Path, durable: bool) -> None:
    assert live_store.enrollment_rate(durable, 4, tmp_path) > 0


def test_a_built_state_restarts_and_answers_ocsp(live_store: ModuleType, tmp_path: Path) -> None:
    state = tmp_path / "big"
    live_store.build_state(state, devices=20, certificates=100)
    seconds, devices, certificates = live_store.restart_seconds(state)
    assert seconds > 0
    assert devices >= 20 and certificates >= 100
    assert live_store.ocsp_rate(state, answers=20) > 0
