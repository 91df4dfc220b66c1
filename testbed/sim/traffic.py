"""Clinical traffic: every device in service delivers to its services each interval.

The steady-state model.  A device's traffic is a :class:`TrafficFlow`, a small state
machine whose :meth:`~TrafficFlow.step` is one turn of the device's delivery loop
(the tick that adds one item per intended service, the deliveries, the time of the
next turn).  The :class:`TrafficEngine` keeps every flow on one heap of due times
instead of giving each delivery a SimPy event: when it wakes, it runs every flow that
is due before the simulation's next other event (``env.peek()``), because nothing
can change the hospital in between, so running them now, each with its own time,
decides exactly what running them one event at a time would.  Flows due at or after
that event wait for it (a SimPy timeout): renewals, faults, operator actions and CRL
publications still happen between deliveries in time order.

Ties (a delivery at the same second as another process's event) go after that
event.  The order is deterministic: the heap orders flows by due time, then by the
order in which they were scheduled.

Most turns are due one interval after the previous one; those wait in a plain queue,
which stays sorted because turns run in time order, and the engine takes whichever of
the queue's head and the heap's head comes first.

The engine counts its turns (``steps``) and its own SimPy events (``wakes``), so the
benchmark can give the bare SimPy loop one event per turn, as the per-device model had.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

import simpy

from testbed.access import AccessPoint, Attempt, Purpose
from testbed.decisions import Reason
from testbed.events import EventKind, EventLog
from testbed.inventory import InventoryEntry
from testbed.lifecycle import DeviceState
from testbed.metrics import Metrics
from testbed.pki.fidelity import LeafCertificate
from testbed.sim.agent import DeviceAgent
from testbed.sim.ehr_traffic import EhrDelivery
from testbed.standing import Standing, Steady

if TYPE_CHECKING:
    from testbed.sim.imaging import ImagingSender

__all__ = ["TrafficEngine", "TrafficFlow", "lose", "overflow"]

_PRODUCTION = DeviceState.PRODUCTION
_FHIR_REQUEST = Purpose.FHIR_REQUEST


def lose(
    log: EventLog,
    metrics: Metrics,
    agent: DeviceAgent,
    service: str,
    lost: int,
    reason: str,
    now: datetime,
) -> None:
    """``lost`` items of ``service`` leave the device's buffer for good (one event)."""
    if lost <= 0:
        return
    agent.buffers[service] -= lost
    studies = agent.studies
    if studies is not None and service in studies:  # the newest studies are the ones lost
        queue = studies[service]
        for _ in range(min(lost, len(queue))):
            queue.pop()
    metrics.data_lost += lost
    log.emit(now, EventKind.DATA_LOST, agent.device_id, service=service, items=lost,
             reason=reason)  # fmt: skip


def overflow(
    log: EventLog,
    metrics: Metrics,
    agent: DeviceAgent,
    *,
    reason: str,
    now: datetime,
    keep: bool = True,
) -> None:
    """Items the device cannot hold are lost: beyond its capacity (all of them with
    ``keep`` False: the device leaves service with them).  One ``data-lost`` each."""
    for service, items in agent.buffers.items():
        lose(log, metrics, agent, service, items - (agent.capacity if keep else 0), reason, now)


class TrafficFlow:
    """One device's delivery loop, one turn per :meth:`step`."""

    __slots__ = ("_attempts", "_held", "_held_shared", "_steady", "agent", "engine", "entry",
                 "next_tick")  # fmt: skip
    # per service: the attempt with the credential held (a certificate, or a shared
    # credential, which a rotation replaces), and where its allowance stands; and
    # when every one stands, their terms in common (a steady turn)

    def __init__(self, engine: TrafficEngine, agent: DeviceAgent, entry: InventoryEntry,
                 start: float) -> None:  # fmt: skip
        self.engine = engine
        self.agent = agent
        self.entry = entry
        self.next_tick = start
        self._held: LeafCertificate | None = None
        self._held_shared: str | None = None
        self._attempts: dict[str, tuple[Attempt, Standing]] = {}
        self._steady: Steady | None = None

    def step(self, t: float) -> float | None:
        """One turn at simulation second ``t``: tick, deliver what the device holds;
        returns when the next turn is due (None: the device left service).

        A steady turn (the last one left nothing held, every allowance was allowed
        and stands, and their terms still hold: :class:`~testbed.standing.Steady`)
        delivers the tick's one item per service by giving every allowance again at
        once."""
        agent, engine = self.agent, self.engine
        if agent.retired:
            return None
        steady = self._steady
        if steady is not None:
            if (t >= self.next_tick and engine.steady and engine.standing
                    and agent.certificate is self._held
                    and agent.shared_credential is self._held_shared
                    and engine.access.again(steady, engine.at(t))):  # fmt: skip
                engine.steady_turns += 1
                engine.metrics.delivered += len(steady.values)
                self.next_tick = next_tick = self.next_tick + engine.interval
                wait = next_tick - t
                return t + (1.0 if wait < 1.0 else wait)
            self._steady = None
        buffers = agent.buffers
        state = self.entry.lifecycle.state
        now: datetime | None = None
        if t >= self.next_tick:
            for service in buffers:
                buffers[service] += 1
            if agent.studies is not None and engine.imaging is not None:
                now = engine.at(t)
                engine.imaging.tick(agent, now)
            self.next_tick += engine.interval
            if state is not _PRODUCTION:
                now = engine.at(t)
                overflow(engine.log, engine.metrics, agent, reason=state.value, now=now)
        if state is _PRODUCTION:
            attempts = self._attempts
            if (agent.certificate is not self._held or not attempts
                    or agent.shared_credential is not self._held_shared):  # fmt: skip
                held = self._held = agent.certificate
                self._held_shared = agent.shared_credential
                source = (agent.record.site, agent.record.zone)
                ehr = None if agent.ehr is None else agent.ehr.service
                attempts = self._attempts = {
                    s: (Attempt(agent.device_id, s, held, source,
                                Purpose.FHIR_REQUEST if s == ehr else Purpose.TRAFFIC,
                                agent.shared_credential),
                        Standing())
                    for s in buffers
                }  # fmt: skip
            studies = agent.studies
            for service, items in buffers.items():
                if items:
                    if now is None:
                        now = engine.at(t)
                    if studies is not None and service in studies and engine.imaging:
                        engine.imaging.deliver(agent, service, now)
                    else:
                        attempt, standing = attempts[service]
                        engine.deliver(agent, attempt, standing, now)
            if now is not None and engine.steady:
                self._steady = self._settle(now)
        wait = self.next_tick - t  # until the next tick, or the retry if sooner
        if any(buffers.values()) and engine.retry <= wait:  # (min and max, inline)
            wait = engine.retry
        return t + (1.0 if wait < 1.0 else wait)

    def _settle(self, now: datetime) -> Steady | None:
        """The terms on which the next turns are steady, after a turn that delivered at
        ``now`` (None: some are not).  Only for a device that holds nothing now, whose
        every service is up and whose deliveries are plain decisions (no DICOM studies
        and no FHIR creates)."""
        agent, engine = self.agent, self.engine
        if agent.studies is not None or agent.availability.down or any(agent.buffers.values()):
            return None
        attempts = tuple(self._attempts.values())
        if engine.ehr is not None and any(a.purpose is _FHIR_REQUEST for a, _ in attempts):
            return None
        return engine.access.settle(attempts, now)


class TrafficEngine:
    """Every flow on one heap, run between the simulation's other events (see the module)."""

    def __init__(
        self,
        *,
        env: simpy.Environment,
        at: Callable[[float], datetime],
        access: AccessPoint,
        inventory_entry: Callable[[str], InventoryEntry],
        metrics: Metrics,
        log: EventLog,
        interval: float,
        retry: float,
        horizon: float,
    ) -> None:
        self.env = env
        self.at = at
        self.access = access
        self.metrics = metrics
        self.log = log
        self.interval = interval
        self.retry = retry
        self.horizon = horizon
        self._entry = inventory_entry
        self._heap: list[tuple[float, int, TrafficFlow]] = []
        # turns due one interval after the turn that queued them: queued in turn order,
        # so already sorted (a plain queue instead of the heap for the common case)
        self._ticks: deque[tuple[float, int, TrafficFlow]] = deque()
        self._order = itertools.count()
        self._wakes: list[float] = []  # times of the engine's pending SimPy events (a heap)
        #: let allowances stand between changes (False: walk every delivery's hops)
        self.standing = True
        #: give a device's standing allowances again together while they all stand
        #: (False: each on its own; testbed.standing.Steady)
        self.steady = True
        #: delivers the items of devices with a SMART session to the EHR (an ``ehr`` block)
        self.ehr: EhrDelivery | None = None
        #: DICOM studies to the PACS (a scenario with a ``dicom:`` block; testbed.sim.imaging)
        self.imaging: ImagingSender | None = None
        self.steps = 0  # turns run
        self.steady_turns = 0  # of them, those that gave every allowance again at once
        self.wakes = 0  # the engine's own SimPy events processed

    def start(self, agent: DeviceAgent) -> None:
        """The device entered production now: its first turn is due at once."""
        now = float(self.env.now)
        flow = TrafficFlow(self, agent, self._entry(agent.device_id), now)
        heapq.heappush(self._heap, (now, next(self._order), flow))
        self._wake(now)

    def deliver(
        self, agent: DeviceAgent, attempt: Attempt, standing: Standing, now: datetime
    ) -> None:
        """Deliver what the device holds for ``attempt``'s service, or keep or lose it
        (an allowance that stands is not walked again: :mod:`testbed.standing`).  Items
        for the EHR of a device with a SMART session go as FHIR creates
        (:mod:`testbed.sim.ehr_traffic`)."""
        if attempt.purpose is _FHIR_REQUEST and self.ehr is not None:
            self._deliver_fhir(agent, attempt, standing, now)
            return
        decision = self.access.decide(
            attempt, now=now, standing=standing if self.standing else None
        )
        service, buffers = attempt.service, agent.buffers
        items = buffers[service]
        if decision.allowed:
            self.metrics.delivered += items
            if items > 1:
                self.log.emit(now, EventKind.DATA_FORWARDED, agent.device_id, service=service,
                              items=items)  # fmt: skip
            buffers[service] = 0
            agent.availability.succeeded(service, now)
            return
        agent.availability.failed(service, decision.reason, now)
        lose(self.log, self.metrics, agent, service, items - agent.capacity,
             decision.reason.value, now)  # fmt: skip

    def _deliver_fhir(
        self, agent: DeviceAgent, attempt: Attempt, standing: Standing, now: datetime
    ) -> None:
        assert self.ehr is not None
        service = attempt.service
        delivered, reason = self.ehr.deliver(
            agent, attempt, standing if self.standing else None, now
        )
        self.metrics.delivered += delivered
        left = agent.buffers[service] = agent.buffers[service] - delivered
        if reason is Reason.OK:
            agent.availability.succeeded(service, now)
            return
        agent.availability.failed(service, reason, now)
        lose(self.log, self.metrics, agent, service, left - agent.capacity, reason.value, now)

    def standing_attempts(self, now: datetime) -> list[tuple[Attempt, Standing]]:
        """The attempts of the flows still running whose allowance stands at ``now``
        (what the benchmark replays to measure one decision's floor)."""
        revision = self.access.revision.value
        found = []
        for _, _, flow in (*self._ticks, *self._heap):
            for attempt, standing in flow._attempts.values():
                if standing.holds(flow.entry, revision, now):
                    found.append((attempt, standing))
        return found

    def _wake(self, t: float) -> None:
        """Make sure the engine wakes at ``t`` or before."""
        wakes = self._wakes
        if not wakes or t < wakes[0]:
            heapq.heappush(wakes, t)
            event = self.env.timeout(t - float(self.env.now))
            event.callbacks.append(self._run)

    def _run(self, _event: simpy.Event) -> None:
        """Run every flow due before the simulation's next other event."""
        self.wakes += 1
        env, heap, ticks, wakes = self.env, self._heap, self._ticks, self._wakes
        now, horizon, interval = float(env.now), self.horizon, self.interval
        while wakes and wakes[0] <= now:
            heapq.heappop(wakes)
        steps = 0
        while heap or ticks:
            # the earlier of the two queues' heads, by (due, order)
            # (which queue, as a flag: compiled with mypyc, a tuple read back is a
            # new object, so `entry is ticks[0]` would not say it)
            from_ticks = bool(ticks) and (not heap or ticks[0] < heap[0])
            entry = ticks[0] if from_ticks else heap[0]
            t = entry[0]
            if t > now and t >= env.peek():
                break  # another event comes first (or at the same time): wait for it
            if from_ticks:
                ticks.popleft()
            else:
                heapq.heappop(heap)
            flow = entry[2]
            due = None if t >= horizon else flow.step(t)
            steps += 1
            if due is not None:
                item = (due, next(self._order), flow)
                if due == t + interval:
                    ticks.append(item)  # due in order after every tick queued before it
                else:
                    heapq.heappush(heap, item)
        self.steps += steps
        heads = [queue[0][0] for queue in (heap, ticks) if queue]
        if heads:
            self._wake(min(heads))
