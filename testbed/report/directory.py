"""A run's directory on disk as a :class:`~testbed.report.record.RunRecord`.

``testbed run --out DIR`` and ``testbed serve --state-dir DIR`` keep beside the audit
log what a report needs that the log does not say (:func:`keep_inputs`)::

    DIR/events.jsonl   the audit log (the run's, or the live hospital's latest)
    DIR/scenario.yaml  a copy of the scenario file the run was started with
    DIR/profiles/      a copy of the device profiles it used
    DIR/run.json       how it ran: {"transport": "simulation" | "live", "seed": N,
                       "fidelity": "full" | "modeled"} (the level it ran at, which
                       ``testbed run --fidelity`` may have set over the file's)

:func:`load_record` reads them back, folding the events into measures
(:mod:`testbed.report.fold`).  Earlier live runs' logs (``events-*.jsonl``, renamed by
the next ``testbed serve``) belong to other hospitals and are not read.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

from testbed.crosscheck import scenario_profiles
from testbed.errors import OutputError, RecordError
from testbed.event_sink import EventsKept, segments
from testbed.pki.fidelity import Fidelity
from testbed.report.fold import FoldContext, fold_events
from testbed.report.jsonl import JsonlEvents, ReadProgress
from testbed.report.record import (
    EHR_LIVE_UNMEASURED,
    LIVE_UNMEASURED,
    NO_TALLY,
    RunRecord,
    Transport,
    closing_time,
    fleet_groups,
    tally_of,
)
from testbed.scenario import Scenario, load_scenario

__all__ = ["EVENTS", "PROFILES", "RUN", "SCENARIO", "keep_inputs", "load_record"]

EVENTS, SCENARIO, PROFILES, RUN = "events.jsonl", "scenario.yaml", "profiles", "run.json"
_WHAT = "a directory written by `testbed run --out` or `testbed serve --state-dir`"


def keep_inputs(
    out: Path,
    scenario_file: Path,
    *,
    profiles: Path,
    transport: Transport,
    seed: int,
    fidelity: Fidelity,
    events: EventsKept = EventsKept.ALL,
    log: str | None = EVENTS,
) -> None:
    """Copy the scenario file and its profiles into ``out`` and say how the run ran
    (``events``: which events its log ``log`` kept; None: it wrote none)."""
    try:
        _copy(scenario_file, out / SCENARIO)
        target = out / PROFILES
        target.mkdir(exist_ok=True)
        for profile in sorted(profiles.glob("*.yaml")):
            _copy(profile, target / profile.name)
        run: dict[str, object] = {"transport": transport.value, "seed": seed,
                                  "fidelity": fidelity.value}  # fmt: skip
        if events is not EventsKept.ALL or log != EVENTS:  # otherwise as before
            run.update(events=events.value, log=log)
        text = json.dumps(run, indent=2, sort_keys=True)
        (out / RUN).write_text(text + "\n", encoding="utf-8")
    except OSError as error:
        reason = error.strerror or str(error)
        raise OutputError(f"{out}: the run's inputs could not be kept there ({reason})") from None


def _copy(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target``, unless it is that file already (a run of a kept
    scenario into its own directory)."""
    if target.exists() and source.resolve() == target.resolve():
        return
    shutil.copyfile(source, target)


def load_record(directory: Path, *, progress: ReadProgress | None = None) -> RunRecord:
    """The record of the run kept in ``directory`` (measures folded from its events)."""
    if not directory.is_dir():
        what = "a file" if directory.exists() else "no such directory"
        raise RecordError(f"{directory}: expected {_WHAT} ({what})")
    transport, seed, fidelity = _run_file(directory / RUN)
    log = directory / _whole_log(directory / RUN)
    scenario = _scenario(directory, seed)
    if fidelity is not None and fidelity is not scenario.fidelity:
        scenario = replace(scenario, fidelity=fidelity)  # as the run overrode it
    if not log.is_file():
        raise RecordError(f"{log}: expected the run's audit log (no such file)")
    profiles = scenario_profiles(scenario, directory)
    live = transport is Transport.LIVE
    context = FoldContext(
        closing=None if live else closing_time(scenario),
        manual_profiles=frozenset(k for k, p in profiles.items() if not p.supports_est),
        devices=tuple(fleet_groups(scenario)),
        ehr=scenario.ehr is not None,
        dicom=scenario.dicom is not None,
    )
    before = tuple(segments(directory))  # a live log rotated by size: its earlier parts
    fold = fold_events(JsonlEvents(log, progress, before), context)
    if fold.events == 0:  # every run writes events (a live hospital its CRLs at start)
        raise RecordError(f"{log}: expected the run's audit log (it holds no event: "
                          "cut short, or not this run's)")  # fmt: skip
    tally = tally_of(fold.metrics, fold.certificates, events=fold.events,
                     registered=len(fold.profiles), refusals=fold.refusals)  # fmt: skip
    not_measured = dict(LIVE_UNMEASURED) if live else {}
    if live and scenario.ehr is not None:
        not_measured |= EHR_LIVE_UNMEASURED
    if not fold.tallied:
        not_measured["audit_coverage"] = NO_TALLY
    for name in not_measured:
        tally.measures.pop(name, None)
    groups = fold.profiles if live else fleet_groups(scenario)
    devices = len(fold.profiles) if live else len(groups)
    window = None
    if live and fold.first is not None and fold.last is not None:
        window = (fold.first, fold.last)
    return RunRecord(scenario, seed, transport, JsonlEvents(log, before=before), tally, groups,
                     devices, dict(sorted(not_measured.items())), window,
                     incidents=tuple(fold.incidents.incidents))  # fmt: skip


def _whole_log(path: Path) -> str:
    """The name of the run's log, when it kept every event (``run.json`` says which
    it kept: a log without the allowed decisions cannot be folded into the measures)."""
    data: Any = json.loads(path.read_text(encoding="utf-8"))  # read by _run_file already
    kept = data.get("events", EventsKept.ALL.value)
    if kept != EventsKept.ALL.value:
        raise RecordError(
            f"{path}: events: the run kept {kept!r} events (testbed run --events {kept}), so "
            "its measures cannot be folded again from its log; its report.json is its report"
        )
    name = data.get("log", EVENTS)
    if not isinstance(name, str) or name not in (EVENTS, f"{EVENTS}.gz"):
        raise RecordError(f"{path}: log: expected {EVENTS!r} or '{EVENTS}.gz' (got {name!r})")
    return name


def _run_file(path: Path) -> tuple[Transport, int, Fidelity | None]:
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RecordError(f"{path}: expected {_WHAT} (no {RUN} in it)") from None
    except (OSError, ValueError) as error:
        raise RecordError(f"{path}: expected a JSON object ({error})") from None
    if not isinstance(data, dict):
        raise RecordError(f"{path}: expected a JSON object with transport and seed")
    try:
        transport = Transport(str(data.get("transport")))
    except ValueError:
        known = " or ".join(t.value for t in Transport)
        raise RecordError(f"{path}: transport: expected {known}") from None
    seed = data.get("seed")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise RecordError(f"{path}: seed: expected an integer (got {seed!r})")
    level = data.get("fidelity")  # absent in directories written before it was kept
    if level is None:
        return transport, seed, None
    try:
        return transport, seed, Fidelity(str(level))
    except ValueError:
        known = " or ".join(f.value for f in Fidelity)
        raise RecordError(f"{path}: fidelity: expected {known} (got {level!r})") from None


def _scenario(directory: Path, seed: int) -> Scenario:
    path = directory / SCENARIO
    if not path.is_file():
        raise RecordError(f"{path}: expected the run's scenario (no such file)")
    return load_scenario(path, seed=seed, profiles=directory / PROFILES)
