"""Run a scenario end to end and write its artefacts: the API behind ``testbed run``."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from testbed.core import Progress, Testbed
from testbed.crosscheck import profiles_for
from testbed.errors import OutputError
from testbed.pki.fidelity import Fidelity
from testbed.report import Report, build_report
from testbed.report.record import RunRecord, Transport, record_from_testbed
from testbed.scenario import Scenario, load_scenario

__all__ = ["RunResult", "prepare_outputs", "run_scenario", "write_outputs", "write_report"]


@dataclass(frozen=True, slots=True)
class RunResult:
    """A finished run: the testbed (for inspection), its record and its report.

    ``source`` is the scenario file it was loaded from (None: given as an object),
    kept beside the outputs so ``testbed report`` can read the run again.
    """

    testbed: Testbed
    report: Report
    record: RunRecord
    source: Path | None = None


def run_scenario(
    scenario: Scenario | Path | str,
    *,
    seed: int | None = None,
    progress: Progress | None = None,
    source: Path | None = None,
    fidelity: Fidelity | None = None,
) -> RunResult:
    """Load (if given a path), build and run a scenario; return the testbed and report.

    ``source``: the file a scenario given as an object was loaded from (its profiles
    are found beside it, and it is kept with the outputs).  ``fidelity`` overrides the
    scenario's declared fidelity level.
    """
    if not isinstance(scenario, Scenario):
        source = Path(scenario)
        scenario = load_scenario(source, seed=seed)
    if fidelity is not None:
        scenario = replace(scenario, fidelity=Fidelity(fidelity))
    tb = Testbed(scenario, base=Path(".") if source is None else source.parent)
    tb.run(progress=progress)
    record = record_from_testbed(tb)
    return RunResult(tb, build_report(record), record, source)


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
    from testbed.report.directory import keep_inputs

    paths = write_report(result.report, result.record, out)
    paths["events.jsonl"] = out / "events.jsonl"
    result.testbed.log.write_jsonl(paths["events.jsonl"])
    if result.source is not None:
        scenario = result.testbed.scenario
        profiles = profiles_for(scenario, result.source.parent)
        keep_inputs(out, result.source, profiles=profiles, transport=Transport.SIMULATION,
                    seed=scenario.seed)  # fmt: skip
    return {name: paths[name] for name in ("report.json", "events.jsonl", "report.html")}


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
