"""The simulation transport: a :class:`~testbed.hospital.Hospital` driven by SimPy.

``Testbed(scenario)`` builds the hospital (the composition root shared with live mode)
on a simulated clock with the run's seeded random generator and log, subscribes the
run's metrics and the unauthorized-access oracle to its access point, and makes one
device agent per device; :meth:`Testbed.run` drives it.  No global state: two
testbeds never share anything, and the same scenario and seed give the same events.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import simpy

from testbed.clock import SimClock
from testbed.crosscheck import scenario_profiles
from testbed.devices import DeviceProfile
from testbed.drift_watch import DriftWatch
from testbed.errors import ScenarioError
from testbed.events import EventKind, EventLog
from testbed.hospital import Hospital
from testbed.incidents import IncidentJournal
from testbed.memory import collection_paused
from testbed.pki.renewal import ChangeWindow
from testbed.scenario import ChangeWindowSpec, Scenario
from testbed.sim.agent import DeviceAgent, build_fleet
from testbed.sim.context import SimContext
from testbed.sim.ehr_traffic import EhrDelivery
from testbed.sim.imaging import ImagingSender
from testbed.sim.preproduction import ValidationLab
from testbed.sim.traffic import TrafficEngine

__all__ = ["Progress", "Testbed"]

Progress = Callable[[float, float], None]
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Testbed:
    """A simulated health system built from one scenario: a :class:`Hospital` driven
    by SimPy on a simulated clock, with one agent per device."""

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        scenario: Scenario,
        *,
        profiles: dict[str, DeviceProfile] | None = None,
        base: Path = Path("."),
        keep_events: bool = True,
        log: EventLog | None = None,
    ) -> None:
        """``keep_events=False``: the log keeps no event in memory (it still counts
        them).  ``log``: the run's log, made by the caller (to stream it to a file, or
        keep only some events); not with ``keep_events=False``."""
        if log is not None and not keep_events:
            raise ValueError("give a log or keep_events=False, not both")
        self.scenario = scenario
        self.env = simpy.Environment()
        self.clock = SimClock(self.env, scenario.start)
        self.rng = random.Random(scenario.seed)
        self.log = log if log is not None else EventLog(keep=keep_events)
        self.profiles = profiles or scenario_profiles(scenario, base)
        self.hospital = Hospital(
            scenario, profiles=self.profiles, clock=self.clock, rng=self.rng, log=self.log
        )
        self.metrics = self.hospital.metrics
        self.lab = ValidationLab(self.hospital, self.hospital.decision_listeners)
        system = self.hospital.system
        #: every incident, one by one (the measures count them)
        self.incidents = IncidentJournal()
        self.agents = build_fleet(scenario, self.profiles, system, self.rng, self.metrics,
                                  self.incidents)  # fmt: skip
        self.by_id = {a.device_id: a for a in self.agents}
        self.change_windows = tuple(_window(w) for w in scenario.pki.change_windows)
        self.drift_watch = DriftWatch()
        workload = scenario.workload
        self.traffic = TrafficEngine(
            env=self.env, at=self.clock.at, access=self.hospital.access,
            inventory_entry=self.hospital.inventory.entry, metrics=self.metrics, log=self.log,
            interval=workload.interval.total_seconds(), retry=workload.retry.total_seconds(),
            horizon=self.horizon,
        )  # fmt: skip
        if self.hospital.clinical is not None:
            self.traffic.ehr = EhrDelivery(self.hospital, self.log)
        if scenario.dicom is not None and self.metrics.dicom is not None:
            self.traffic.imaging = ImagingSender(
                dicom=self.hospital.dicom, metrics=self.metrics, counts=self.metrics.dicom,
                log=self.log, settings=scenario.dicom, seed=scenario.seed,
            )  # fmt: skip
        self.sim = SimContext(
            env=self.env, clock=self.clock, hospital=self.hospital, rng=self.rng,
            metrics=self.metrics, log=self.log, traffic=self.traffic, lab=self.lab,
            pki=scenario.pki, workload=workload, change_windows=self.change_windows,
            horizon=self.horizon,
        )  # fmt: skip
        """What the simulated processes are given (:mod:`testbed.sim.context`)."""
        self._started = False
        self._tallied = False

    def now(self) -> datetime:
        """The scenario time now."""
        return self.clock.now()

    @property
    def end(self) -> float:
        """Simulation seconds at which the scenario's timeline ends (faults healed)."""
        return self.scenario.duration.total_seconds()

    @property
    def horizon(self) -> float:
        """Simulation seconds at which the run stops (end plus the recovery window)."""
        return self.end + self.scenario.recovery_window.total_seconds()

    def agents_for(self, target: str, count: int | None = None) -> list[DeviceAgent]:
        """Resolve ``device:ID``, ``group:NAME`` or ``site:NAME`` to agents (first ``count``)."""
        kind, _, name = target.partition(":")
        if kind == "device":
            if name not in self.by_id:
                raise ScenarioError("scenario", "target", "an existing device id", got=name)
            found = [self.by_id[name]]
        elif kind == "group":
            found = [a for a in self.agents if a.group == name]
        elif kind == "site":
            found = [a for a in self.agents if a.record.site == name]
        else:
            raise ScenarioError("scenario", "target", "device:, group: or site:", got=target)
        return found[:count] if count is not None else found

    def start(self) -> None:
        """Schedule every process (once)."""
        if self._started:
            return
        from testbed.sim.schedule import schedule_all

        self._started = True
        schedule_all(self)

    def run(
        self,
        *,
        progress: Progress | None = None,
        steps: int = 200,
        stop: Callable[[], bool] | None = None,
    ) -> None:
        """Run the whole scenario, reporting progress ``(done, total)`` in sim seconds.

        ``stop`` is asked between steps (1/``steps`` of the run each): when it says
        True the run ends there, at a moment between events, and :attr:`stopped_at`
        keeps the simulated time it reached (an interrupted run's partial report)."""
        self.start()
        total = self.horizon
        with collection_paused():
            for i in range(1, steps + 1):
                self.env.run(until=total * i / steps)
                if progress is not None:
                    progress(float(self.env.now), total)
                if stop is not None and i < steps and stop():
                    self.stopped_at = self.now()
                    break
        self._tally()

    stopped_at: datetime | None = None
    """Where an interrupted run stopped (None: it ran to its end)."""

    def _tally(self) -> None:
        """Write the decision points' own count of what they decided (once, last), so a
        report read from the log alone can measure its audit coverage."""
        if self._tallied:
            return
        self._tallied = True
        answers = self.hospital.est.answers + self.metrics.operator_refusals
        self.log.emit(self.now(), EventKind.AUDIT_TALLY, "testbed",
                      access_decisions=self.metrics.decisions,
                      enrollment_answers=answers)  # fmt: skip


def _window(spec: ChangeWindowSpec) -> ChangeWindow:
    days = frozenset(_WEEKDAYS.index(d.value) for d in spec.days)
    return ChangeWindow(days, spec.start, spec.duration)
