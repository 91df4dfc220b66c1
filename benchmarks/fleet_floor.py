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

Two layouts of the same work:

``objects``  each device is a few small objects (a device, its inventory entry, a
             buffer dict, one allowance per service), allocated in phases and in
             shuffled order, as a run allocates them at different times (that is what
             a design with one object per device, such as the testbed, has);
``columns``  every field is one contiguous array indexed by device number
             (:mod:`array`), the layout of an array-backed fleet.

Both do ``device_days`` device-days (the days divided among the devices), so each
size takes about the same time; the result is microseconds per device-day.  The
growth of each layout from the smallest size to the largest is the floor the 1.25x
target is judged against.
"""

from __future__ import annotations

import itertools
import random
import time
from array import array
from collections import deque
from typing import Any

__all__ = ["DEVICE_DAYS", "LAYOUTS", "measure"]

DEVICE_DAYS = 3_650_000  # per measurement: 1k devices x 10 years ... 100k x 36.5 days
DAY = 86400.0
_FLUSH = 2000  # decisions per log batch (then dropped, as a streamed log's batch)
_VALUES = ("allowed", "ok", "tls")  # one shared tuple of event values, as a standing one


class _Entry:
    __slots__ = ("state", "version")

    def __init__(self) -> None:
        self.version = 0
        self.state = "production"


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


def _objects(devices: int, days: int, seed: int) -> tuple[float, int]:
    rng = random.Random(seed)
    horizon = days * DAY
    fleet = [_Device(f"device-{i:06d}") for i in range(devices)]
    # phases, each in its own order: the objects of one device lie apart in memory
    for phase in ("entry", "buffers", "allowances"):
        made = list(range(devices))
        rng.shuffle(made)
        for i in made:
            device = fleet[i]
            if phase == "entry":
                device.entry = _Entry()
            elif phase == "buffers":
                device.buffers = dict.fromkeys(_services(i), 0)
            else:
                assert device.entry is not None
                device.allowances = {s: _Allowance(device.entry, horizon + DAY)
                                     for s in _services(i)}  # fmt: skip
    order = itertools.count(devices)
    queue = deque((i * DAY / devices, i, device) for i, device in enumerate(fleet))
    log = _Log()
    times, subjects, values = log.times, log.subjects, log.values
    revision = 0
    started = time.perf_counter()
    while queue:
        t, _, device = queue.popleft()
        if t >= horizon or device.retired:
            continue
        buffers, entry = device.buffers, device.entry
        assert entry is not None
        for service in buffers:
            buffers[service] += 1
        for service, items in buffers.items():
            allowance = device.allowances[service]
            if (allowance.entry is entry and entry.version == allowance.version
                    and allowance.revision == revision and t < allowance.due):  # fmt: skip
                times.append(t)
                subjects.append(device.device_id)
                values.append(allowance.values)
                device.delivered += items
                buffers[service] = 0
        queue.append((t + DAY, next(order), device))
        if len(times) >= _FLUSH:
            log.flush()
    return time.perf_counter() - started, log.decided()


def _columns(devices: int, days: int, seed: int) -> tuple[float, int]:
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


LAYOUTS = {"objects": _objects, "columns": _columns}


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
