"""Run a scenario end to end and write its artefacts: the API behind ``testbed run``."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from testbed.core import Progress, Testbed
from testbed.errors import OutputError
from testbed.pki.fidelity import Fidelity
from testbed.report import Report, build_report
from testbed.scenario import Scenario, load_scenario

__all__ = ["RunResult", "prepare_outputs", "run_scenario", "write_outputs"]


@dataclass(frozen=True, slots=True)
class RunResult:
    """A finished run: the testbed (for inspection) and its report."""

    testbed: Testbed
    report: Report


def run_scenario(
    scenario: Scenario | Path | str,
    *,
    seed: int | None = None,
    progress: Progress | None = None,
    fidelity: Fidelity | None = None,
) -> RunResult:
    """Load (if given a path), build and run a scenario; return the testbed and report.

    ``fidelity`` overrides the scenario's declared fidelity level.
    """
    if isinstance(scenario, Scenario):
        base = Path(".")
    else:
        base = Path(scenario).parent
        scenario = load_scenario(scenario, seed=seed)
    if fidelity is not None:
        scenario = replace(scenario, fidelity=Fidelity(fidelity))
    tb = Testbed(scenario, base=base)
    tb.run(progress=progress)
    return RunResult(tb, build_report(tb))


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
    from testbed.report.html import write_html

    paths = {
        "report.json": out / "report.json",
        "events.jsonl": out / "events.jsonl",
        "report.html": out / "report.html",
    }
    paths["report.json"].write_text(result.report.to_json(), encoding="utf-8")
    result.testbed.log.write_jsonl(paths["events.jsonl"])
    write_html(result, paths["report.html"])
    return paths
