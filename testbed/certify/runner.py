"""Run a certification: each selected check on the live hospital, then the kit's own.

Each check runs in a :class:`~testbed.certify.checks.CheckRun`; what it raises becomes
its verdict: :class:`~testbed.errors.Unsupported` (adapter exit 3) ``skip``,
:class:`~testbed.certify.checks.NotMet` (a step the device did not do) ``fail``, an
:class:`~testbed.errors.AdapterError` (the protocol broken: the action is named) or a
hospital that stopped answering ``error``.  After every check the faults it started
are healed, whatever happened.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

from testbed.certify.adapter import Adapter
from testbed.certify.checks import Check, CheckRun, NotMet, Result
from testbed.certify.hospital import KitHospital
from testbed.certify.session import Session
from testbed.clock import WallClock
from testbed.devices import DeviceProfile, check_profile_services
from testbed.errors import AdapterError, CertifyError, LiveError, RegistrationError, Unsupported
from testbed.scenario import Scenario
from testbed.sites import HealthSystem
from testbed.verdicts import Verdict

__all__ = ["Certification", "certify", "profile_of", "run_check"]


@dataclass
class Certification:
    """The outcome of one certification run."""

    scenario: str
    profile: str
    adapter: tuple[str, ...]
    state_dir: Path
    started: datetime
    results: list[Result] = field(default_factory=list)
    finished: datetime | None = None

    @property
    def certified(self) -> bool:
        """Whether every required check passed."""
        return all(r.verdict is Verdict.PASS for r in self.results if r.required)


class Inputs(Protocol):
    """A scenario and its device profiles (a :class:`KitHospital`'s, or a file's read
    before any hospital starts)."""

    @property
    def scenario(self) -> Scenario: ...

    @property
    def profiles(self) -> Mapping[str, DeviceProfile]: ...


def profile_of(hospital: Inputs, name: str) -> DeviceProfile:
    """The scenario's device profile ``name``, which it can certify (it enrolls over EST
    and the scenario has every kind of service it uses); :class:`CertifyError`
    otherwise."""
    profile = hospital.profiles.get(name)
    if profile is None:
        raise CertifyError(f"--profile {name!r}: unknown; known: {sorted(hospital.profiles)}")
    if not profile.supports_est:
        raise CertifyError(f"--profile {name!r} does not enroll over EST; the kit's EST and "
                           "lifecycle suites need it")  # fmt: skip
    scenario = hospital.scenario
    try:  # refused up front, not as every check's error
        check_profile_services(profile, HealthSystem(scenario.sites, scenario.services))
    except RegistrationError as error:
        raise CertifyError(f"--profile {name!r}, scenario {scenario.name!r}: {error}") from None
    return profile


def run_check(session: Session, check: Check) -> Result:
    """One check's result (never raises for what a device or its adapter does)."""
    run = CheckRun(session)
    applies = True
    try:
        finding = check.judge(run)
        verdict, reason, applies = finding.verdict, finding.reason, finding.applies
    except Unsupported as error:
        verdict, reason = Verdict.SKIP, str(error)
    except NotMet as error:
        verdict, reason = Verdict.FAIL, str(error)
    except (AdapterError, LiveError, CertifyError, ssl.SSLError, OSError) as error:
        verdict, reason = Verdict.ERROR, str(error)
    try:
        healed = session.heal()
    except LiveError as error:
        healed = []
        run.note(f"the kit could not heal its faults: {error}")
    if healed:
        run.note(f"healed after the check: {healed}")
    required = applies and check.required_for(session.profile)
    return Result(check, required, verdict, reason, run.evidence)


def certify(
    adapter: Adapter,
    hospital: KitHospital,
    profile: DeviceProfile,
    checks: Sequence[Check],
    *,
    work: Path,
    progress: Callable[[Result], None] = lambda result: None,
) -> Certification:
    """Run ``checks`` against the device behind ``adapter`` on ``hospital``."""
    session = Session(adapter, hospital, profile, work)
    done = Certification(hospital.scenario.name, profile.id, adapter.argv, hospital.state,
                         WallClock().now())  # fmt: skip
    for check in checks:
        result = run_check(session, check)
        done.results.append(result)
        progress(result)
    done.finished = WallClock().now()
    return done
