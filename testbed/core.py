"""The one owner object of a run: environment, clock, random generator, log, services.

``Testbed(scenario)`` builds the hospital from a scenario; :meth:`Testbed.run` drives
it with SimPy; :meth:`Testbed.report` gathers the measures.  No global state: two
testbeds never share anything, and the same scenario and seed give the same events.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import simpy

from testbed.access import AccessPoint
from testbed.clock import SimClock
from testbed.crosscheck import profiles_for
from testbed.devices import DeviceProfile, load_profiles
from testbed.errors import ScenarioError
from testbed.events import EventLog
from testbed.hospital import HealthSystem
from testbed.inventory import DriftKind, Inventory
from testbed.memory import old_generation_paused
from testbed.metrics import Metrics
from testbed.network import ZonePolicy
from testbed.pki.ca import CertificateAuthority
from testbed.pki.est import EstService
from testbed.pki.fidelity import Artefacts, Fidelity
from testbed.pki.full import FullArtefacts
from testbed.pki.modeled import ModeledArtefacts
from testbed.pki.renewal import ChangeWindow
from testbed.pki.revocation import CrlDistribution
from testbed.pki.trust import TrustDistribution
from testbed.pki.verify import Verifier
from testbed.scenario import ChangeWindowSpec, Scenario
from testbed.sim.agent import DeviceAgent, build_fleet

__all__ = ["Progress", "Testbed"]

Progress = Callable[[float, float], None]
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

class Testbed:
    """A simulated health system built from one scenario."""

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        scenario: Scenario,
        *,
        profiles: dict[str, DeviceProfile] | None = None,
        base: Path = Path("."),
        keep_events: bool = True,
    ) -> None:
        self.scenario = scenario
        self.env = simpy.Environment()
        self.clock = SimClock(self.env, scenario.start)
        self.rng = random.Random(scenario.seed)
        self.log = EventLog(keep=keep_events)
        self.metrics = Metrics()
        self.profiles = profiles or load_profiles(profiles_for(scenario, base))
        self.system = HealthSystem(scenario.sites, scenario.services)
        self._build_pki()
        self.inventory = Inventory()
        self.est = EstService(ca=self.ca, directory=self.inventory, log=self.log)
        self.policy = ZonePolicy((r.source, r.to, r.site) for r in scenario.network)
        self.access = AccessPoint(
            system=self.system,
            inventory=self.inventory,
            policy=self.policy,
            ca=self.ca,
            trust=self.trust,
            crls=self.crls,
            log=self.log,
            metrics=self.metrics,
            verifier=Verifier(artefacts=self.ca.artefacts),
        )
        self.agents = build_fleet(scenario, self.profiles, self.system, self.rng, self.metrics)
        self.by_id = {a.device_id: a for a in self.agents}
        self.change_windows = tuple(_window(w) for w in scenario.pki.change_windows)
        self.ca_outages = 0
        self.open_drift: set[tuple[str, DriftKind]] = set()
        self._started = False

    def _build_pki(self) -> None:
        pki = self.scenario.pki
        now = self.clock.now()
        self.ca = CertificateAuthority(
            name="Hospital",
            trust_domain=self.scenario.trust_domain,
            sites=[s.name for s in self.scenario.sites],
            issuing=pki.issuing,
            now=now - timedelta(days=1),
            rng=self.rng,
            key_type=pki.key_type,
            artefacts=_artefacts(self.scenario.fidelity),
        )
        self.trust = TrustDistribution(
            ca=self.ca,
            sites=[s.name for s in self.scenario.sites],
            delay=pki.trust_distribution_delay,
            now=now,
        )
        self.crls = CrlDistribution()

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

    def run(self, *, progress: Progress | None = None, steps: int = 200) -> None:
        """Run the whole scenario, reporting progress ``(done, total)`` in sim seconds."""
        self.start()
        total = self.horizon
        with old_generation_paused():
            for i in range(1, steps + 1):
                self.env.run(until=total * i / steps)
                if progress is not None:
                    progress(float(self.env.now), total)


def _artefacts(fidelity: Fidelity) -> Artefacts:
    """The run's artefacts at its declared fidelity level (:mod:`testbed.pki.fidelity`)."""
    return FullArtefacts() if fidelity is Fidelity.FULL else ModeledArtefacts()


def _window(spec: ChangeWindowSpec) -> ChangeWindow:
    days = frozenset(_WEEKDAYS.index(d.value) for d in spec.days)
    return ChangeWindow(days, spec.start, spec.duration)
