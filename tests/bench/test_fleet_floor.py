"""The fleet floor does the work it claims, the same in every layout (never timings)."""

from __future__ import annotations

import importlib
import random
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def fleet_floor(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """``benchmarks.fleet_floor`` (the benchmarks are not an installed package)."""
    monkeypatch.syspath_prepend(str(ROOT))
    return importlib.import_module("benchmarks.fleet_floor")


@pytest.mark.parametrize("devices", [1, 7, 30])
def test_every_device_decides_once_per_service_per_day(fleet_floor: ModuleType,
                                                       devices: int) -> None:
    """One decision per service per day for every device (every third has two
    services), in every layout, whatever the order the objects were made in."""
    result = fleet_floor.measure(devices, device_days=600)
    days = 600 // devices
    lanes = sum(2 if i % 3 == 0 else 1 for i in range(devices))
    assert result["days"] == days
    assert set(fleet_floor.LAYOUTS) == {"scattered", "adjacent", "arrays"}
    for layout in fleet_floor.LAYOUTS:
        assert result[layout]["decisions"] == days * lanes
        assert result[layout]["us_per_device_day"] > 0


def test_a_fleet_of_no_devices_is_refused(fleet_floor: ModuleType) -> None:
    with pytest.raises(ValueError, match="devices must be at least 1, not 0"):
        fleet_floor.measure(0)


def test_the_object_layouts_differ_only_in_the_order_their_objects_are_made(
    fleet_floor: ModuleType,
) -> None:
    """Adjacent: each device's objects made together, devices in turn order.  Scattered:
    phase by phase, each phase a shuffled order of every device.  The same fleet."""
    adjacent = fleet_floor._making_order(300, None)
    scattered = fleet_floor._making_order(300, random.Random(1))
    phases = fleet_floor._PHASES
    assert adjacent == [(i, phase) for i in range(300) for phase in phases]
    assert sorted(adjacent) == sorted(scattered)
    for n, phase in enumerate(phases):
        block = scattered[300 * n:300 * (n + 1)]
        assert {p for _, p in block} == {phase}
        devices = [i for i, _ in block]
        assert sorted(devices) == list(range(300)) and devices != list(range(300))
    horizon = 10 * fleet_floor.DAY
    together = fleet_floor._fleet(300, horizon, None)
    apart = fleet_floor._fleet(300, horizon, random.Random(1))
    assert [d.device_id for d in together] == [d.device_id for d in apart]
    assert [sorted(d.allowances) for d in together] == [sorted(d.allowances) for d in apart]
