"""Run a scenario end to end and write its artefacts: the API behind ``testbed run``.

Given an outputs directory, a run streams its audit log to ``events.jsonl`` there as
it goes and keeps in memory only the events the report reads
(:data:`~testbed.report.needs.REPORT_EVENTS`); without one it keeps the whole log in
memory (tests, notebooks), and :func:`write_outputs` writes it afterwards.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from testbed.core import Progress, Testbed
from testbed.crosscheck import profiles_for
from testbed.errors import OutputError
from testbed.event_sink import EventsKept, JsonlSink
from testbed.events import EventLog
from testbed.pki.fidelity import Fidelity
from testbed.report import Report, build_report
from testbed.report.directory import EVENTS, keep_inputs
from testbed.report.needs import REPORT_EVENTS
from testbed.report.record import RunRecord, Transport, record_from_testbed
from testbed.scenario import Scenario, load_scenario

__all__ = ["RunResult", "prepare_outputs", "run_scenario", "write_outputs", "write_report"]


@dataclass(frozen=True, slots=True)
class RunResult:
    """A finished run: the testbed (for inspection), its record and its report.

    ``source`` is the scenario file it was loaded from (None: given as an object),
    kept beside the outputs so ``testbed report`` can read the run again.  ``events``
    is the file the run streamed its audit log to (None: the log is in memory);
    ``kept``: which events it writes there (``testbed run --events``).
    """

    testbed: Testbed
    report: Report
    record: RunRecord
    source: Path | None = None
    events: Path | None = None
    kept: EventsKept = EventsKept.ALL


def run_scenario(
    scenario: Scenario | Path | str,
    *,
    seed: int | None = None,
    progress: Progress | None = None,
    source: Path | None = None,
    fidelity: Fidelity | None = None,
    out: Path | None = None,
    stop: Callable[[], bool] | None = None,
    kept: EventsKept = EventsKept.ALL,
    compress: bool = False,
) -> RunResult:
    """Load (if given a path), build and run a scenario; return the testbed and report.

    ``source``: the file a scenario given as an object was loaded from (its profiles
    are found beside it, and it is kept with the outputs).  ``fidelity`` overrides the
    scenario's declared fidelity level.  ``out``: a directory to stream the audit log
    to as ``events.jsonl`` (made if need be, :func:`prepare_outputs`); what was
    recorded is written there even if the run raises.  ``stop``: asked as the run goes
    (:meth:`Testbed.run`); when it says True the run ends early and its report is
    marked incomplete (``report.data["incomplete"]``).  ``kept``: which events the log
    in ``out`` gets (all; all but allowed access decisions; none); ``compress``: write
    it as ``events.jsonl.gz``.
    """
    if not isinstance(scenario, Scenario):
        source = Path(scenario)
        scenario = load_scenario(source, seed=seed)
    if fidelity is not None:
        scenario = replace(scenario, fidelity=Fidelity(fidelity))
    base = Path(".") if source is None else source.parent
    events: Path | None = None
    if out is None:
        tb = Testbed(scenario, base=base)
        tb.run(progress=progress, stop=stop)
        kept = EventsKept.ALL  # the whole log is in memory; write_outputs writes it all
    else:
        target = prepare_outputs(out)
        if kept is not EventsKept.NONE:
            events = target / (f"{EVENTS}.gz" if compress else EVENTS)
        tb = _streamed_run(scenario, base, events, progress, stop, kept)
    record = record_from_testbed(tb)
    return RunResult(tb, build_report(record), record, source, events, kept)


def _streamed_run(
    scenario: Scenario, base: Path, events: Path | None, progress: Progress | None,
    stop: Callable[[], bool] | None, kept: EventsKept,
) -> Testbed:  # fmt: skip
    sink = None if events is None else JsonlSink(events, keep=kept.keeps(), background=True)
    log = EventLog(keep=REPORT_EVENTS, sink=sink)
    try:
        tb = Testbed(scenario, base=base, log=log)
        tb.run(progress=progress, stop=stop)
    finally:
        log.close()  # what was recorded is written, also when the run raised
    return tb


def prepare_outputs(out: Path) -> Path:
    """Make sure ``out`` is a directory the run's outputs can be written to, before the
    run (so a long run never ends in an unwritable place); :class:`OutputError` if not."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as error:
        reason = error.strerror or str(error)
        detail = f"{out}: expected a writable directory for the outputs ({reason})"
        raise OutputError(detail) from None
    return out


def write_outputs(result: RunResult, out: Path) -> dict[str, Path]:
    """Write ``report.json``, ``events.jsonl`` and ``report.html`` into ``out``."""
    try:
        return _write_outputs(result, prepare_outputs(out))
    except OSError as error:
        reason = error.strerror or str(error)
        raise OutputError(f"{out}: the outputs could not be written ({reason})") from None


def _write_outputs(result: RunResult, out: Path) -> dict[str, Path]:
    """The report, the log (as the run kept it) and the run's inputs; by file name.  An
    earlier run's log in ``out`` that this run does not replace (``--events none``, or
    the other of ``events.jsonl`` and ``events.jsonl.gz``) is removed: it would stand
    beside a report that is not its own."""
    paths = write_report(result.report, result.record, out)
    streamed = result.events
    log: Path | None = None
    if streamed is None and result.kept is EventsKept.ALL:
        log = out / EVENTS
        result.testbed.log.write_jsonl(log)
    elif streamed is not None:
        log = out / streamed.name
        if not (log.exists() and log.samefile(streamed)):
            shutil.copyfile(streamed, log)
    for stale in (out / EVENTS, out / f"{EVENTS}.gz"):
        if stale.exists() and (log is None or stale.name != log.name):
            stale.unlink()  # an earlier run's log, whose report this run's replaced
    if result.source is not None:
        scenario = result.testbed.scenario
        profiles = profiles_for(scenario, result.source.parent)
        keep_inputs(out, result.source, profiles=profiles, transport=Transport.SIMULATION,
                    seed=scenario.seed, fidelity=scenario.fidelity, events=result.kept,
                    log=None if log is None else log.name)  # fmt: skip
    written = {"report.json": paths["report.json"]}
    if log is not None:
        written[log.name] = log
    written["report.html"] = paths["report.html"]
    return written


def write_report(report: Report, record: RunRecord, out: Path) -> dict[str, Path]:
    """Write ``report.json`` and ``report.html`` into ``out`` (a writable directory)."""
    from testbed.report.html import write_html

    paths = {"report.json": out / "report.json", "report.html": out / "report.html"}
    try:
        paths["report.json"].write_text(report.to_json(), encoding="utf-8")
        write_html(report, record, paths["report.html"])
    except OSError as error:
        reason = error.strerror or str(error)
        raise OutputError(f"{out}: the report could not be written ({reason})") from None
    return paths
