"""pytest plugin: scenario files are test files, their expectations are the tests.

Registered as the ``testbed`` plugin (entry point ``pytest11``).  Collection is opt-in,
so installing the package never turns another project's YAML into tests: a ``*.yaml``
or ``*.yml`` file is a scenario test when it lies under a directory the ini option
``testbed_scenarios`` lists (``testbed_scenarios = scenarios`` in ``pytest.ini``, or
``testbed_scenarios = ["scenarios"]`` under ``[tool.pytest.ini_options]``), or when it
is named on the command line (``pytest my-drill.yaml``).  Each file is loaded at
collection and run once, when its first expectation is checked; each expectation is
one test item, named like ``two-site-pilot.yaml::unauthorized_access``.

* A failing expectation shows its *why*, the line of the expectation in the file, the
  devices, sites and faults behind its measure (:mod:`testbed.report.contributors`)
  and the last related events.
* A file with bad input is a collection error showing every problem of the file
  (file:line:column, field, expected), no traceback.
* JUnit XML: the class name is the file's directory and stem
  (``scenarios.two-site-pilot``, not split at the dots of ``.yaml``), and each test
  case carries properties: ``measured``, ``expected``, ``passed``, ``scenario``,
  ``seed``, and ``report`` when one was written.
* ``--testbed-out DIR`` also writes each run's ``report.json``, ``events.jsonl`` and
  ``report.html`` into ``DIR/<file stem>/``.
* ``--testbed-certify 'COMMAND ARGS' --testbed-profile P`` certifies a device through
  its adapter: one item per check (:mod:`testbed.certify.plugin`; opt-in).

The testbed itself is imported only when a scenario file is collected, so the plugin
costs nothing in runs that collect none.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from testbed.core import Testbed
    from testbed.events import Event
    from testbed.expectations import ExpectationResult
    from testbed.runner import RunResult

__all__ = [
    "ExpectationItem",
    "ScenarioFailure",
    "ScenarioFile",
    "failure_text",
    "is_scenario_file",
    "relevant_events",
]

#: How many related events a failing expectation shows.
EVENTS_SHOWN = 10

_SUFFIXES = frozenset({".yaml", ".yml"})
_OUT_OPTION = "--testbed-out"
_INI = "testbed_scenarios"


class ScenarioFailure(Exception):
    """A scenario test failed; the message is the whole report shown to the user."""


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add ``--testbed-out DIR`` and the ini option ``testbed_scenarios``."""
    group = parser.getgroup("testbed", "hospital device-identity testbed scenarios")
    group.addoption(_OUT_OPTION, metavar="DIR", default=None,
                    help="also write each scenario run's report.json, events.jsonl and "
                         "report.html into DIR/<scenario file stem>/")
    parser.addini(_INI, type="paths", default=[],
                  help="directories whose *.yaml files are testbed scenarios (opt-in)")
    # the certification kit (issue 15), opt-in: testbed.certify.plugin has the items
    group.addoption("--testbed-certify", metavar="'COMMAND ARGS'", default=None,
                    help="certify the device behind this adapter: one test per check")
    group.addoption("--testbed-profile", metavar="PROFILE", default=None,
                    help="the device profile to certify (with --testbed-certify)")
    group.addoption("--testbed-certify-suite", metavar="SUITES", default="",
                    help="comma-separated suites (default: every one: est, smart, fhir, "
                         "dicom, lifecycle)")  # fmt: skip
    group.addoption("--testbed-certify-scenario", metavar="FILE",
                    default="scenarios/two-site-pilot.yaml",
                    help="the hospital's scenario (default: scenarios/two-site-pilot.yaml)")
    group.addoption("--testbed-certify-state-dir", metavar="DIR", default=None,
                    help="certify against the hospital `testbed serve` runs there")


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """With ``--testbed-certify``, one item per check of the certification kit
    (:mod:`testbed.certify.plugin`); nothing otherwise."""
    if config.getoption("--testbed-certify", default=None) is None:
        return
    from testbed.certify.plugin import certify_items

    items.extend(certify_items(session, config))


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> ScenarioFile | None:
    """Collect scenario files (see :func:`is_scenario_file`)."""
    if not is_scenario_file(file_path, parent.config):
        return None
    return ScenarioFile.from_parent(parent, path=file_path)


def is_scenario_file(path: Path, config: pytest.Config) -> bool:
    """A YAML file under a ``testbed_scenarios`` directory, or named on the command line."""
    if path.suffix not in _SUFFIXES:
        return False
    resolved = path.resolve()
    roots = [Path(p).resolve() for p in config.getini(_INI)]
    if any(resolved.is_relative_to(root) for root in roots):
        return True
    here = config.invocation_params.dir
    named = (Path(arg.split("::")[0]) for arg in config.invocation_params.args
             if not arg.startswith("-"))  # fmt: skip
    return any((here / arg).resolve() == resolved for arg in named)


class ScenarioFile(pytest.File):
    """One scenario file: loaded at collection, run at most once, result cached here."""

    _outcome: RunResult | ScenarioFailure | None = None

    def collect(self) -> Iterator[pytest.Item]:
        """One item per expectation; bad input is a collection error naming every
        problem of the file."""
        from testbed.errors import ScenarioError, TestbedError
        from testbed.scenario import load_scenario
        from testbed.validation import diagnostics

        try:
            scenario = load_scenario(self.path)
        except ScenarioError as err:
            raise self.CollectError(
                "bad scenario input:\n" + "\n".join(diagnostics(err))
            ) from None
        except TestbedError as err:
            raise self.CollectError(f"bad scenario input: {err}") from None
        from testbed.expectations import entries

        for one in entries(scenario.expectations):
            yield ExpectationItem.from_parent(self, name=one.id)

    def result(self) -> RunResult:
        """Run the scenario the first time it is asked for; raise :class:`ScenarioFailure`."""
        if self._outcome is None:
            self._outcome = self._run()
        if isinstance(self._outcome, ScenarioFailure):
            raise ScenarioFailure(str(self._outcome))
        return self._outcome

    def _run(self) -> RunResult | ScenarioFailure:
        from testbed.errors import TestbedError
        from testbed.runner import run_scenario, write_outputs

        try:
            result = run_scenario(self.path)
        except TestbedError as err:
            return ScenarioFailure(str(err))
        out = self.config.getoption(_OUT_OPTION)
        if out is not None:
            target = self.config.invocation_params.dir / out / self.path.stem
            write_outputs(result, target)
            self.report_path = target / "report.json"
        return result

    report_path: Path | None = None


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
        """Fail with the expectation's *why*, its line, the contributors and related
        events when it does not hold; record the JUnit properties either way."""
        scenario_file = self.parent
        if not isinstance(scenario_file, ScenarioFile):
            raise TypeError(f"{self.nodeid}: expected a ScenarioFile parent")
        _junit_classname(self)
        result = scenario_file.result()
        check = _find(result.report.expectations, self.name)
        self.user_properties.extend([
            ("measured", f"{check.measured:g}"), ("expected", check.expected),
            ("passed", str(check.passed).lower()), ("scenario", str(self.path)),
            ("seed", str(result.report.seed)),
        ])  # fmt: skip
        if check.where is not None:
            scope = ",".join(f"{k}={v}" for k, v in check.where.items())
            self.user_properties.extend([("metric", check.measure), ("where", scope)])
        if check.description:
            self.user_properties.append(("description", check.description))
        if scenario_file.report_path is not None:
            self.user_properties.append(("report", str(scenario_file.report_path)))
        if not check.passed:
            raise ScenarioFailure(failure_text(check, result.testbed, path=self.path))


def _junit_classname(item: pytest.Item) -> None:
    """Name the JUnit class after the file's directory and stem: pytest's default
    (``scenarios.two-site-pilot.yaml``) is split at the dots by JUnit readers."""
    from _pytest.junitxml import xml_key  # the API behind pytest's record_xml_attribute

    xml = item.config.stash.get(xml_key, None)
    if xml is None:
        return
    root, folder = item.config.rootpath, item.path.parent
    where = folder.relative_to(root).parts if folder.is_relative_to(root) else (folder.name,)
    parts = [p for p in where if p not in {"", "."}] + [item.path.stem]
    xml.node_reporter(item.nodeid).add_attribute("classname", ".".join(parts))


def _find(results: tuple[ExpectationResult, ...], metric: str) -> ExpectationResult:
    for check in results:
        if check.id == metric:
            return check
    raise ScenarioFailure(f"the report has no expectation {metric!r}")


def failure_text(check: ExpectationResult, tb: Testbed, *, path: Path | None = None) -> str:
    """The *why* of a failed expectation, where it is written, what contributed to
    its measure, then the last events related to it."""
    from testbed.report.contributors import contributors, related

    kinds = related(check.measure)
    sites = {agent.device_id: agent.record.site for agent in tb.agents}
    lines = [check.why]
    if check.description:
        lines.append(check.description)
    if path is not None:
        line = _expectation_line(path, check.measure)
        lines.append(f"expectation written at {path}" + (f":{line}" if line else ""))
    lines.extend(contributors(check.measure, tb.log, sites=sites).lines())
    events = relevant_events(tb, check.measure)
    if events:
        lines.append(f"last {len(events)} related events ({', '.join(kinds)}):")
        lines.extend(f"  {_event_line(e)}" for e in events)
    return "\n".join(lines)


def _expectation_line(path: Path, metric: str) -> int | None:
    from testbed.positions import positions

    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return None
    at = positions(text).by_path.get(("expectations", metric))
    return at[0] if at else None


def relevant_events(tb: Testbed, metric: str, *, limit: int = EVENTS_SHOWN) -> list[Event]:
    """The last ``limit`` events of the kinds related to ``metric`` (denied decisions only)."""
    from testbed.events import EventKind
    from testbed.report.contributors import is_related, related

    kinds = frozenset(EventKind(k) for k in related(metric))
    found = [e for e in tb.log if is_related(e, kinds)]
    return found[-limit:]


def _event_line(event: Event) -> str:
    from testbed.clock import isoformat

    details = " ".join(f"{k}={v}" for k, v in event.data.items() if v is not None)
    return f"{isoformat(event.time)} {event.kind.value} {event.subject} {details}".rstrip()
