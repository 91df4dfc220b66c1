"""The floor of a fleet's steady days: how much a device-day costs as the fleet grows.

The benchmark's cost per device-day grows with the fleet (target: at most 1.25x from
the smallest size to the largest).  Part of that growth is the machine's, not the
testbed's: the more devices, the less of their state stays in the processor's caches
between two of a device's turns.  This measures that part with the least work a
steady day needs, in a loop with nothing else in it, at the run's size:

- every device takes one turn per simulated day, in due order (a queue);
- a turn adds one item per service (one or two services), checks that each service's
  allowance still stands (the device's version, the hospital's revision, the time
  before the allowance's limit), records one decision (time, device, values) in a
  log's columns, counts the delivery and empties the buffer.

Three layouts of the same work:

``scattered``  each device is a few small objects (a device, its inventory entry, a
               buffer dict, one allowance per service), made in phases, each phase in
               its own shuffled order, so one device's objects lie apart in memory;
``adjacent``   the same objects, each device's made together, in device order (the
               turn order): they lie side by side;
``arrays``     every field is one contiguous array indexed by device number
               (:mod:`array`), the layout of an array-backed fleet.

The two object layouts bound what a design with one object graph per device gets:
the testbed's lies between them (a device's objects are made when it registers,
enrolls, first delivers and at every renewal, among every other device's).  Each
layout does ``device_days`` device-days (the days divided among the devices), so each
size takes about the same time; the result is microseconds per device-day.  Their
growth from the smallest size to the largest, and the microseconds it adds, are the
floor the 1.25x target is judged against.
"""

from __future__ import annotations

import itertools
import random
import time
from array import array
from collections import deque
from typing import Any

__all__ = ["DEVICE_DAYS", "LAYOUTS", "measure"]

DEVICE_DAYS = 3_650_000  # per measurement: 1k devices x 3,650 days ... 100k x 36 days
DAY = 86400.0
_FLUSH = 2000  # decisions per log batch (then dropped, as a streamed log's batch)
_VALUES = ("allowed", "ok", "tls")  # one shared tuple of event values, as a standing one


class _Entry:
    __slots__ = ("version",)

    def __init__(self) -> None:
        self.version = 0


class _Allowance:
    __slots__ = ("due", "entry", "revision", "values", "version")

    def __init__(self, entry: _Entry, due: float) -> None:
        self.entry = entry
        self.version = 0
        self.revision = 0
        self.due = due
        self.values = _VALUES


class _Device:
    __slots__ = ("allowances", "buffers", "delivered", "device_id", "entry", "retired")

    def __init__(self, device_id: str) -> None:
        self.device_id = device_id
        self.retired = False
        self.delivered = 0
        self.entry: _Entry | None = None
        self.buffers: dict[str, int] = {}
        self.allowances: dict[str, _Allowance] = {}


class _Log:
    """Decisions recorded in columns, dropped every :data:`_FLUSH` (a streamed log's batch)."""

    __slots__ = ("flushed", "subjects", "times", "values")

    def __init__(self) -> None:
        self.times: list[float] = []
        self.subjects: list[str] = []
        self.values: list[tuple[str, ...]] = []
        self.flushed = 0

    def flush(self) -> None:
        self.flushed += len(self.times)
        self.times.clear()
        self.subjects.clear()
        self.values.clear()

    def decided(self) -> int:
        return self.flushed + len(self.times)


def _services(number: int) -> tuple[str, ...]:
    """One or two services per device (every third has two), as the scenario's fleet."""
    return ("pacs", "ehr") if number % 3 == 0 else ("pacs",)


_PHASES = ("entry", "buffers", "allowances")


def _making_order(devices: int, rng: random.Random | None) -> list[tuple[int, str]]:
    """In which order the fleet's objects are made, as (device, phase): each device's
    together, in device order (``rng`` None), or phase by phase, each phase in its own
    shuffled order, so that one device's objects lie apart in memory."""
    if rng is None:
        return [(i, phase) for i in range(devices) for phase in _PHASES]
    order = []
    for phase in _PHASES:
        made = list(range(devices))
        rng.shuffle(made)
        order += [(i, phase) for i in made]
    return order


def _fleet(devices: int, horizon: float, rng: random.Random | None) -> list[_Device]:
    """The fleet's objects, made in :func:`_making_order`."""
    fleet = [_Device(f"device-{i:06d}") for i in range(devices)]
    for i, phase in _making_order(devices, rng):
        device = fleet[i]
        if phase == "entry":
            device.entry = _Entry()
        elif phase == "buffers":
            device.buffers = dict.fromkeys(_services(i), 0)
        else:
            entry = device.entry
            assert entry is not None
            device.allowances = {s: _Allowance(entry, horizon + DAY) for s in _services(i)}
    return fleet


def _objects(fleet: list[_Device], days: int) -> tuple[float, int]:
    devices, horizon = len(fleet), days * DAY
    queue = deque((i * DAY / devices, device) for i, device in enumerate(fleet))
    log = _Log()
    times, subjects, values = log.times, log.subjects, log.values
    revision = 0
    started = time.perf_counter()
    while queue:
        t, device = queue.popleft()
        if t >= horizon or device.retired:
            continue
        buffers, allowances, entry = device.buffers, device.allowances, device.entry
        for service, items in buffers.items():
            items += 1
            allowance = allowances[service]
            if (allowance.entry is entry and entry.version == allowance.version
                    and allowance.revision == revision and t < allowance.due):  # fmt: skip
                times.append(t)
                subjects.append(device.device_id)
                values.append(allowance.values)
                device.delivered += items
                items = 0
            buffers[service] = items
        queue.append((t + DAY, device))
        if len(times) >= _FLUSH:
            log.flush()
    return time.perf_counter() - started, log.decided()


def _scattered(devices: int, days: int, seed: int) -> tuple[float, int]:
    return _objects(_fleet(devices, days * DAY, random.Random(seed)), days)


def _adjacent(devices: int, days: int, seed: int) -> tuple[float, int]:
    del seed  # made in device order
    return _objects(_fleet(devices, days * DAY, None), days)


def _arrays(devices: int, days: int, seed: int) -> tuple[float, int]:
    del seed  # nothing to shuffle: every field is one array in device order
    horizon = days * DAY
    lanes = [len(_services(i)) for i in range(devices)]
    first = array("q", itertools.accumulate([0, *lanes[:-1]]))  # each device's first lane
    count = array("q", lanes)
    total = sum(lanes)
    buffers = array("q", bytes(8 * total))
    lane_version = array("q", bytes(8 * total))
    lane_revision = array("q", bytes(8 * total))
    due = array("d", [horizon + DAY]) * total
    version = array("q", bytes(8 * devices))
    retired = array("b", bytes(devices))
    delivered = array("q", bytes(8 * devices))
    ids = [f"device-{i:06d}" for i in range(devices)]
    queue = deque((i * DAY / devices, i) for i in range(devices))
    log = _Log()
    times, subjects, values = log.times, log.subjects, log.values
    revision = 0
    started = time.perf_counter()
    while queue:
        t, i = queue.popleft()
        if t >= horizon or retired[i]:
            continue
        v = version[i]
        for lane in range(first[i], first[i] + count[i]):
            items = buffers[lane] + 1
            if lane_version[lane] == v and lane_revision[lane] == revision and t < due[lane]:
                times.append(t)
                subjects.append(ids[i])
                values.append(_VALUES)
                delivered[i] += items
                items = 0
            buffers[lane] = items
        queue.append((t + DAY, i))
        if len(times) >= _FLUSH:
            log.flush()
    return time.perf_counter() - started, log.decided()


LAYOUTS = {"scattered": _scattered, "adjacent": _adjacent, "arrays": _arrays}


def measure(devices: int, *, device_days: int = DEVICE_DAYS, seed: int = 1) -> dict[str, Any]:
    """Microseconds per device-day of each layout at ``devices`` devices."""
    if devices < 1:
        raise ValueError(f"devices must be at least 1, not {devices}")
    days = max(1, device_days // devices)
    result: dict[str, Any] = {"devices": devices, "days": days}
    for name, layout in LAYOUTS.items():
        seconds, decisions = layout(devices, days, seed)
        result[name] = {"seconds": round(seconds, 3), "decisions": decisions,
                        "us_per_device_day": round(1e6 * seconds / (devices * days), 3)}
    return result
