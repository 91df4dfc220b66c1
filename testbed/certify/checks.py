"""Checks as objects (after the Inferno test kits): a stable id, a title, the requirements
it traces to, whether certification requires it, and the function that judges it.

A check's ``judge`` takes a :class:`CheckRun` (the session, and the evidence it
collects as it goes) and returns a :class:`Finding`: pass or fail, and why.  The
runner (:mod:`testbed.certify.runner`) turns what breaks the protocol into ``error``
and an unsupported action into ``skip``.  Suites are data: a tuple of checks each
(:mod:`testbed.certify.est_suite`, :mod:`testbed.certify.lifecycle_suite`), collected
in :mod:`testbed.certify.registry`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from testbed.certify.adapter import Action, Exchange
from testbed.certify.evidence import EventRef, Evidence, Mark
from testbed.verdicts import Verdict

if TYPE_CHECKING:
    from testbed.certify.session import Instance, Session
    from testbed.devices import DeviceProfile

__all__ = [
    "Check",
    "CheckRun",
    "Finding",
    "NotMet",
    "Result",
    "failed",
    "not_applicable",
    "passed",
    "skipped",
]


class NotMet(Exception):
    """A step the check needs did not happen (the device did not enroll, say): the
    check fails with this reason."""


@dataclass(frozen=True, slots=True)
class Finding:
    """A judge's verdict (pass, fail or skip) and its reason; ``applies`` False: the
    check cannot apply here (the profile does not use the service, or the hospital does
    not serve it), so it is not required in this run."""

    verdict: Verdict
    reason: str
    applies: bool = True


def passed(reason: str) -> Finding:
    """The check passed, because ``reason``."""
    return Finding(Verdict.PASS, reason)


def failed(reason: str) -> Finding:
    """The check failed, because ``reason``."""
    return Finding(Verdict.FAIL, reason)


def skipped(reason: str) -> Finding:
    """The check does not apply, because ``reason``."""
    return Finding(Verdict.SKIP, reason)


def not_applicable(reason: str) -> Finding:
    """The check cannot apply in this run (profile or hospital), because ``reason``:
    a skip that certification does not require."""
    return Finding(Verdict.SKIP, reason, applies=False)


@dataclass(frozen=True, slots=True)
class Check:
    """One conformance check."""

    id: str
    title: str
    suite: str
    requirements: tuple[str, ...]
    description: str
    judge: Callable[[CheckRun], Finding]
    #: whether certification needs it to pass for this profile (default: always)
    required_for: Callable[[DeviceProfile], bool] = field(default=lambda profile: True)


@dataclass(frozen=True, slots=True)
class Result:
    """A check's outcome in one certification run."""

    check: Check
    required: bool
    verdict: Verdict
    reason: str
    evidence: Evidence

    def to_json(self) -> dict[str, Any]:
        """The result as ``certify.json`` holds it."""
        check = self.check
        return {"id": check.id, "title": check.title, "suite": check.suite,
                "requirements": list(check.requirements), "description": check.description,
                "required": self.required, "verdict": self.verdict.value,
                "reason": self.reason, "evidence": self.evidence.to_json()}  # fmt: skip


class CheckRun:
    """What a judge works with: the session, and the evidence it gathers."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.evidence = Evidence()

    @property
    def profile(self) -> DeviceProfile:
        """The device profile under certification."""
        return self.session.profile

    def instance(self, label: str) -> Instance:
        """A new device instance registered as an operator would (its own workdir)."""
        instance = self.session.new_instance(label)
        self.note(f"registered {instance.device_id} at {instance.site}/{instance.zone}")
        return instance

    def call(self, instance: Instance, action: Action, **fields: Any) -> Exchange:
        """Have the device instance do ``action`` (evidence: the exchange)."""
        return self.call_at(instance.workdir, action, **fields)

    def call_at(self, workdir: Path, action: Action, **fields: Any) -> Exchange:
        """Have the device do ``action`` in ``workdir`` (an instance not registered yet)."""
        adapter = self.session.adapter
        before = len(adapter.exchanges)
        try:
            return self.session.call_at(workdir, action, **fields)
        finally:
            self.evidence.exchanges.extend(adapter.exchanges[before:])

    def mark(self) -> Mark:
        """The end of the audit log now."""
        return self.session.trail.mark()

    def events(self, mark: Mark, *, kind: str | None = None,
               subject: str | None = None) -> list[EventRef]:  # fmt: skip
        """Audit events after ``mark`` (evidence: each one returned)."""
        found = self.session.trail.since(mark, kind=kind, subject=subject)
        self.evidence.events.extend(found)
        return found

    def note(self, text: str) -> None:
        """Keep a line of what the kit did or saw."""
        self.evidence.notes.append(text)
