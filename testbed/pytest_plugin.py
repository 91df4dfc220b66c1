"""pytest plugin: scenario files are test files, their expectations are the tests.

Registered as the ``testbed`` plugin (entry point ``pytest11``).  ``pytest scenarios/``
collects every ``*.yaml`` in a directory named ``scenarios`` and any other YAML file
with a top-level ``expectations:`` key.  Each file is loaded at collection and run once,
when its first expectation is checked; each expectation is one test item, named like
``two-site-pilot.yaml::unauthorized_access``.

* A failing expectation shows its *why* and the last events related to its measure.
* A file with bad input gives one failing item, ``scenario``, showing the
  :class:`~testbed.errors.ScenarioError` message (file, field, expected), no traceback.
* ``--testbed-out DIR`` also writes each run's ``report.json``, ``events.jsonl`` and
  ``report.html`` into ``DIR/<file stem>/``.

The testbed itself is imported only when a scenario file is collected, so the plugin
costs nothing in runs that collect none.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from testbed.core import Testbed
    from testbed.events import Event, EventKind
    from testbed.expectations import ExpectationResult
    from testbed.run import RunResult

__all__ = [
    "ExpectationItem",
    "ScenarioFailure",
    "ScenarioFile",
    "ScenarioInputItem",
    "failure_text",
    "is_scenario_file",
    "relevant_events",
]

#: How many related events a failing expectation shows.
EVENTS_SHOWN = 10

_SUFFIXES = frozenset({".yaml", ".yml"})
_TOP_LEVEL_EXPECTATIONS = re.compile(r"^expectations\s*:", re.MULTILINE)
_OUT_OPTION = "--testbed-out"

#: Event kinds related to each measure (access decisions count only when denied).
_RELATED: dict[str, tuple[str, ...]] = {
    "unauthorized_access": ("certificate-revoked", "certificate-expired", "offboarding-step"),
    "stale_access_after_offboarding": ("offboarding-step", "certificate-revoked"),
    "data_lost": ("data-lost",),
    "clinical_downtime_minutes": ("access-decision", "renewal-missed", "fault-started"),
    "incidents": ("access-decision", "renewal-missed", "fault-started"),
    "renewals_done": ("certificate-renewed", "renewal-missed"),
    "renewals_missed": ("renewal-missed", "certificate-expired"),
    "manual_steps": ("enrollment-refused", "device-transition"),
    "onboarding_minutes_max": ("enrollment-refused",
                               "certificate-issued"),
    "devices_in_production": ("device-transition",),
    "devices_offboarded": ("offboarding-step",),
    "audit_coverage": ("access-decision",),
    "fail_safe": ("validation-test",),
    "drift_alerts": ("drift-detected",),
    "recovered": ("recovery-check", "access-decision"),
    "data_held_at_end": ("data-lost", "access-decision", "recovery-check"),
}
_DEFAULT_RELATED = ("access-decision", "renewal-missed", "data-lost", "certificate-revoked")


class ScenarioFailure(Exception):
    """A scenario test failed; the message is the whole report shown to the user."""


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add ``--testbed-out DIR``."""
    group = parser.getgroup("testbed", "hospital device-identity testbed scenarios")
    group.addoption(_OUT_OPTION, metavar="DIR", default=None,
                    help="also write each scenario run's report.json, events.jsonl and "
                         "report.html into DIR/<scenario file stem>/")


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> ScenarioFile | None:
    """Collect scenario files (see :func:`is_scenario_file`)."""
    if not is_scenario_file(file_path):
        return None
    return ScenarioFile.from_parent(parent, path=file_path)


def is_scenario_file(path: Path) -> bool:
    """A YAML file in a ``scenarios`` directory, or one with top-level ``expectations:``."""
    if path.suffix not in _SUFFIXES:
        return False
    if path.parent.name == "scenarios":
        return True
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    return _TOP_LEVEL_EXPECTATIONS.search(text) is not None


class ScenarioFile(pytest.File):
    """One scenario file: loaded at collection, run at most once, result cached here."""

    _outcome: RunResult | ScenarioFailure | None = None

    def collect(self) -> Iterator[pytest.Item]:
        """One item per expectation, or one failing ``scenario`` item for bad input."""
        from testbed.errors import TestbedError
        from testbed.scenario import load_scenario

        try:
            scenario = load_scenario(self.path)
        except TestbedError as err:
            yield ScenarioInputItem.from_parent(self, name="scenario", message=str(err))
            return
        for metric in scenario.expectations:
            yield ExpectationItem.from_parent(self, name=metric)

    def result(self) -> RunResult:
        """Run the scenario the first time it is asked for; raise :class:`ScenarioFailure`."""
        if self._outcome is None:
            self._outcome = self._run()
        if isinstance(self._outcome, ScenarioFailure):
            raise ScenarioFailure(str(self._outcome))
        return self._outcome

    def _run(self) -> RunResult | ScenarioFailure:
        from testbed.errors import TestbedError
        from testbed.run import run_scenario, write_outputs

        try:
            result = run_scenario(self.path)
        except TestbedError as err:
            return ScenarioFailure(str(err))
        out = self.config.getoption(_OUT_OPTION)
        if out is not None:
            target = self.config.invocation_params.dir / out / self.path.stem
            write_outputs(result, target)
        return result


class _ScenarioItem(pytest.Item):
    """Shared reporting: a :class:`ScenarioFailure` shows its message, not a traceback."""

    def repr_failure(
        self,
        excinfo: pytest.ExceptionInfo[BaseException],
        style: Any = None,
    ) -> str | Any:
        """The failure's own text for scenario failures; pytest's default otherwise."""
        if isinstance(excinfo.value, ScenarioFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        """Where the item comes from: the scenario file and the item's name."""
        return self.path, None, f"{self.path.name}::{self.name}"


class ExpectationItem(_ScenarioItem):
    """One expectation of a scenario, checked against the (shared) run."""

    def runtest(self) -> None:
        """Fail with the expectation's *why* and related events when it does not hold."""
        scenario_file = self.parent
        if not isinstance(scenario_file, ScenarioFile):
            raise TypeError(f"{self.nodeid}: expected a ScenarioFile parent")
        result = scenario_file.result()
        check = _find(result.report.expectations, self.name)
        if not check.passed:
            raise ScenarioFailure(failure_text(check, result.testbed))


class ScenarioInputItem(_ScenarioItem):
    """Stands for a scenario file that cannot be loaded: always fails with the reason."""

    def __init__(self, *, message: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.message = message

    def runtest(self) -> None:
        """Fail with the input error's message."""
        raise ScenarioFailure(f"bad scenario input: {self.message}")


def _find(results: tuple[ExpectationResult, ...], metric: str) -> ExpectationResult:
    for check in results:
        if check.id == metric:
            return check
    raise ScenarioFailure(f"the report has no expectation {metric!r}")


def failure_text(check: ExpectationResult, tb: Testbed) -> str:
    """The *why* of a failed expectation, then the last events related to its measure."""
    kinds = _RELATED.get(check.id, _DEFAULT_RELATED)
    events = relevant_events(tb, check.id)
    lines = [check.why]
    if events:
        lines.append(f"last {len(events)} related events ({', '.join(kinds)}):")
        lines.extend(f"  {_event_line(e)}" for e in events)
    else:
        lines.append(f"no related events ({', '.join(kinds)}) in the log")
    return "\n".join(lines)


def relevant_events(tb: Testbed, metric: str, *, limit: int = EVENTS_SHOWN) -> list[Event]:
    """The last ``limit`` events of the kinds related to ``metric`` (denied decisions only)."""
    from testbed.events import EventKind

    kinds = {EventKind(k) for k in _RELATED.get(metric, _DEFAULT_RELATED)}
    found = [e for e in tb.log if e.kind in kinds and _relevant(e, EventKind.ACCESS_DECISION)]
    return found[-limit:]


def _relevant(event: Event, access: EventKind) -> bool:
    return event.kind is not access or event.data.get("allowed") is False


def _event_line(event: Event) -> str:
    from testbed.clock import isoformat

    details = " ".join(f"{k}={v}" for k, v in event.data.items() if v is not None)
    return f"{isoformat(event.time)} {event.kind.value} {event.subject} {details}".rstrip()
