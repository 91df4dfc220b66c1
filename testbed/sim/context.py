"""What a simulated process is given: the hospital's services on simulated time.

A device's processes (onboarding, renewal, recovery, offboarding, the pre-production
tests) and the CA's schedule take a :class:`SimContext`, not the whole
:class:`~testbed.core.Testbed`: the SimPy environment and clock, the
:class:`~testbed.hospital.Hospital`, the run's random stream, metrics and log, the
traffic engine, the validation lab, and the scenario's PKI and workload settings.
The fleet and the scenario's timeline (who a fault or an operation targets) stay
with the testbed's scheduler and injector.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import simpy

from testbed.clock import SimClock
from testbed.events import EventLog
from testbed.hospital import Hospital
from testbed.metrics import Metrics
from testbed.pki.renewal import ChangeWindow
from testbed.scenario import PkiSettings, Workload

if TYPE_CHECKING:
    from testbed.sim.preproduction import ValidationLab
    from testbed.sim.traffic import TrafficEngine

__all__ = ["SimContext"]


@dataclass(frozen=True, slots=True)
class SimContext:
    """The services and settings a simulated process uses (see the module)."""

    env: simpy.Environment
    clock: SimClock
    hospital: Hospital
    rng: random.Random
    metrics: Metrics
    log: EventLog
    traffic: TrafficEngine
    lab: ValidationLab
    pki: PkiSettings
    workload: Workload
    change_windows: tuple[ChangeWindow, ...]
    horizon: float
    """Simulation seconds at which the run stops (end plus the recovery window)."""

    def now(self) -> datetime:
        """The scenario time now."""
        return self.clock.now()
