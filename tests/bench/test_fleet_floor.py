"""The fleet floor does the work it claims, the same in both layouts (never timings)."""

from __future__ import annotations

import importlib
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
    services), in both layouts, whatever the order the objects were made in."""
    result = fleet_floor.measure(devices, device_days=600)
    days = 600 // devices
    lanes = sum(2 if i % 3 == 0 else 1 for i in range(devices))
    assert result["days"] == days
    for layout in ("objects", "columns"):
        assert result[layout]["decisions"] == days * lanes
        assert result[layout]["us_per_device_day"] > 0


def test_a_fleet_of_no_devices_is_refused(fleet_floor: ModuleType) -> None:
    with pytest.raises(ValueError, match="devices must be at least 1, not 0"):
        fleet_floor.measure(0)
