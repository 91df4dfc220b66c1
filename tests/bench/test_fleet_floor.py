"""The fleet floor does the work it claims, the same in both layouts (never timings)."""

from __future__ import annotations

import importlib
import itertools
import random
import statistics
from pathlib import Path
from types import ModuleType
from typing import Any

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


def test_the_object_layouts_differ_only_in_where_a_devices_objects_lie(
    fleet_floor: ModuleType,
) -> None:
    """Made together, consecutive devices' entries lie near each other (within a page);
    made in shuffled phases, far apart (CPython's addresses); the fleets are otherwise
    the same."""
    horizon = 10 * fleet_floor.DAY
    adjacent = fleet_floor._fleet(300, horizon, None)
    scattered = fleet_floor._fleet(300, horizon, random.Random(1))

    def median_gap(fleet: list[Any]) -> int:
        made = [id(device.entry) for device in fleet]
        return int(statistics.median(abs(b - a) for a, b in itertools.pairwise(made)))

    assert [d.device_id for d in adjacent] == [d.device_id for d in scattered]
    assert [sorted(d.allowances) for d in adjacent] == [sorted(d.allowances) for d in scattered]
    assert median_gap(adjacent) < 4096 < median_gap(scattered)
