"""One measured configuration, run in a fresh interpreter so its peak memory is its own.

``python -m benchmarks.worker '<json spec>'`` prints one JSON line (the result) on
stdout; progress goes to stderr.  Modes:

``testbed``  build the benchmark scenario for ``devices`` devices, run it to its
             horizon stepping SimPy ourselves (one ``env.step()`` = one event), then
             build the report.
``bare``     ``processes`` SimPy processes that only ``yield env.timeout(...)``,
             stepped by the same loop until ``events`` events have been processed.
``fleet_floor`` the least work of a steady device-day at ``devices`` devices, with
             the fleet kept as objects (scattered or adjacent in memory) and as
             arrays (:mod:`benchmarks.fleet_floor`).
``issuance`` ``count`` issuances' cryptography alone, in one process, with the
             functions a renewal runs: the device's key and CSR, the CA's check of
             the CSR, the leaf built and signed, its path validated under a bundle
             (the machine's speed for this work, measured in the same run); then
             ``count`` test issuances: a leaf built and signed for a key the device
             already has, as the pre-production failure tests get theirs.

Optional: ``profile`` (a path: write cProfile stats of the stepping loop there),
``phases`` (wrap the expensive entry points with wall-clock timers; inclusive times)
and ``fidelity`` (``full``, the default, or ``modeled``).

``outputs`` (testbed mode): write the run's outputs into a temporary directory the
way ``testbed run --out`` does: the log streams ``events.jsonl`` in batches during
the run and keeps in memory only the events the report reads
(:data:`testbed.report.needs.REPORT_EVENTS`), then ``report.json`` and
``report.html`` are written.  ``keep_events`` (default true) keeps events in memory:
every one without ``outputs``, the report's with them; false keeps none.

How the outputs are timed: ``outputs["events.jsonl"]`` is the wall time the sink spent
encoding batches and writing them, or, as ``testbed run --out`` does, handing them to
its background writer (its counter, summed over the run, plus the last flush and closing
the file, which waits for the writer); ``report.json`` and ``report.html`` are timed as
they are written after the run.  ``wall["loop"]`` is the stepping loop's wall as
measured, ``wall["run"]`` the same without the sink's time inside it, so the outputs'
share of the run is ``sum(outputs) / wall["run"]``.  What stays in ``run``: appending
each event to the pending batch and deciding whether to keep it in memory (a few hundred
ns per event, against the whole log kept in memory without outputs).
"""

from __future__ import annotations

import json
import random
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import simpy

__all__ = ["main", "run_bare", "run_fleet_floor", "run_issuance", "run_testbed"]

_PROGRESS_STEPS = 10
_CHECKS = 100  # budget checks per run


def _peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux (bytes on macOS).
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


def _cpu_seconds(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def _step_until(
    env: simpy.Environment, until: float, label: str, budget: float | None = None
) -> tuple[int, float]:
    """Process every event scheduled before ``until`` (or until ``budget`` wall seconds).

    Returns the number of events processed and the simulation time reached.
    """
    step = env.step
    peek = env.peek
    n = 0
    started = time.perf_counter()
    reached = 0.0
    for i in range(1, _CHECKS + 1):
        mark = until * i / _CHECKS
        while peek() < mark:
            step()
            n += 1
        reached = mark
        elapsed = time.perf_counter() - started
        if i % (_CHECKS // _PROGRESS_STEPS) == 0:
            print(f"  [{label}] {i / _CHECKS:4.0%} sim, {n:,} events, {elapsed:7.1f} s",
                  file=sys.stderr, flush=True)
        if budget is not None and elapsed > budget and i < _CHECKS:
            print(f"  [{label}] wall budget {budget:.0f} s spent at {i / _CHECKS:.0%} of the "
                  "simulated time; stopping (the year is extrapolated)",
                  file=sys.stderr, flush=True)
            break
    return n, reached


def _step_count(env: simpy.Environment, events: int) -> int:
    """Process exactly ``events`` events (or until the queue is empty)."""
    step = env.step
    peek = env.peek
    n = 0
    infinity = float("inf")
    while n < events and peek() < infinity:
        step()
        n += 1
    return n


class _Timers:
    """Inclusive wall-clock time and call count per wrapped entry point."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}

    def wrap(self, name: str, func: Callable[..., Any]) -> Callable[..., Any]:
        self.seconds.setdefault(name, 0.0)
        self.calls.setdefault(name, 0)
        clock = time.perf_counter
        seconds = self.seconds
        calls = self.calls

        def timed(*args: Any, **kwargs: Any) -> Any:
            t = clock()
            try:
                return func(*args, **kwargs)
            finally:
                seconds[name] += clock() - t
                calls[name] += 1

        return timed

    def report(self, total: float) -> dict[str, dict[str, float]]:
        return {
            name: {"seconds": round(s, 3), "calls": self.calls[name],
                   "share": round(s / total, 4) if total else 0.0,
                   "us_per_call": round(1e6 * s / self.calls[name], 1) if self.calls[name] else 0}
            for name, s in sorted(self.seconds.items(), key=lambda kv: -kv[1])
        }


def _install_timers(tb: Any) -> _Timers:
    """Wrap what we suspect dominates; instance attributes shadow the methods."""
    import testbed.operations as operations
    import testbed.sim.enrollment as enrollment
    import testbed.sim.schedule as schedule

    timers = _Timers()
    hospital = tb.hospital
    hospital.est.simpleenroll = timers.wrap("est.simpleenroll (CSR check + issue)",
                                            hospital.est.simpleenroll)
    hospital.est.simplereenroll = timers.wrap("est.simplereenroll (CSR check + issue)",
                                              hospital.est.simplereenroll)
    hospital.ca.issue = timers.wrap("ca.issue (build + sign leaf)", hospital.ca.issue)
    enrollment._csr_body = timers.wrap(  # type: ignore[attr-defined]
        "device keygen + CSR", enrollment._csr_body)
    hospital.access.decide = timers.wrap("access.decide (all hops + audit event)",
                                         hospital.access.decide)
    hospital.access.again = timers.wrap(  # a steady turn: a device's allowances, together
        "access.again (steady turn: events + counts)", hospital.access.again)
    hospital.verifier.verify = timers.wrap("verifier.verify (TLS hop)", hospital.verifier.verify)
    tb.log.emit = timers.wrap("log.emit", tb.log.emit)
    operations.publish_crl = timers.wrap(  # type: ignore[attr-defined]
        "publish_crl (CRL build + sign)", operations.publish_crl)
    schedule.drift_scan = timers.wrap(  # type: ignore[attr-defined]
        "drift_scan (daily inventory vs CA)", schedule.drift_scan)
    return timers


def run_testbed(spec: dict[str, Any]) -> dict[str, Any]:
    """Build, run and report the benchmark scenario; time each phase."""
    if not spec.get("outputs"):
        return _run_testbed(spec, None)
    if spec.get("out_dir"):  # kept, to compare two versions' outputs byte for byte
        out = Path(spec["out_dir"])
        out.mkdir(parents=True, exist_ok=True)
        return _run_testbed(spec, out)
    with tempfile.TemporaryDirectory() as directory:
        return _run_testbed(spec, Path(directory))


def _run_testbed(spec: dict[str, Any], out: Path | None) -> dict[str, Any]:
    from benchmarks.scenarios import build_scenario
    from testbed.core import Testbed
    from testbed.event_sink import JsonlSink
    from testbed.events import EventLog
    from testbed.memory import collection_paused
    from testbed.report.build import build_report
    from testbed.report.needs import REPORT_EVENTS
    from testbed.report.record import record_from_testbed

    keep_events = spec.get("keep_events", True)
    rss_imports = _peak_rss_mb()
    t0 = time.perf_counter()
    scenario = build_scenario(spec["devices"], interval=spec.get("interval", "1d"),
                              duration=spec.get("duration", "365d"),
                              fidelity=spec.get("fidelity", "full"))
    t1 = time.perf_counter()
    sink = None if out is None else JsonlSink(out / "events.jsonl", background=True)  # as runs
    if sink is None:
        tb = Testbed(scenario, keep_events=keep_events)
    else:  # as `testbed run --out` streams its log
        tb = Testbed(scenario, log=EventLog(keep=REPORT_EVENTS if keep_events else False,
                                            sink=sink))
    t2 = time.perf_counter()
    timers = _install_timers(tb) if spec.get("phases") else None
    tb.start()
    t3 = time.perf_counter()
    label = f"testbed {spec['devices']}"
    budget = spec.get("budget")
    try:
        with collection_paused():  # as Testbed.run does
            if spec.get("profile"):
                import cProfile

                profiler = cProfile.Profile()
                profiler.enable()
                events, reached = _step_until(tb.env, tb.horizon, label, budget)
                profiler.disable()
                profiler.dump_stats(spec["profile"])
            else:
                events, reached = _step_until(tb.env, tb.horizon, label, budget)
    finally:
        t4 = time.perf_counter()
        streamed = 0.0 if sink is None else sink.seconds  # the sink's time inside the loop
        tb.log.close()
    main_cpu = _cpu_seconds(resource.RUSAGE_SELF)
    rss_run = _peak_rss_mb()  # before the report is built and written
    t5 = time.perf_counter()
    record = record_from_testbed(tb)
    report = build_report(record)
    t6 = time.perf_counter()
    outputs = None if out is None or sink is None else _write_outputs(out, sink, record, report)
    run = t4 - t3 - streamed
    counts = report.data["counts"]
    result: dict[str, Any] = {
        "mode": "testbed",
        "devices": spec["devices"],
        "interval": spec.get("interval", "1d"),
        "keep_events": keep_events,
        "fidelity": scenario.fidelity.value,
        "events": events,
        # the per-device model's events: one SimPy event per traffic turn (the engine
        # runs turns between events instead; its own wake-ups are not turns)
        "model_events": events - tb.traffic.wakes + tb.traffic.steps,
        "traffic_turns": tb.traffic.steps,
        "sim_seconds": tb.horizon,
        "sim_reached": reached,
        "completed": reached >= tb.horizon,
        "wall": {
            "scenario": round(t1 - t0, 3),
            "build": round(t2 - t1, 3),
            "start": round(t3 - t2, 3),
            "loop": round(t4 - t3, 3),
            "run": round(run, 3),
            "report": round(t6 - t5, 3),
            "total": round(t6 - t0, 3),
        },
        # per event of the per-device model, so that bare/testbed rates are a wall ratio
        "events_per_second": round((events - tb.traffic.wakes + tb.traffic.steps) / run, 1),
        # CPU seconds of the whole worker process (build and run)
        "cpu": {"main": round(main_cpu, 1)},
        "peak_rss_mb": round(_peak_rss_mb(), 1),
        "peak_rss_run_mb": round(rss_run, 1),
        "rss_after_imports_mb": round(rss_imports, 1),
        "log_events": len(tb.log),
        "kept_log_events": tb.log.kept,
        "decisions": counts["decisions"],
        "certificates_issued": counts["certificates_issued"],
        # the pre-production failure tests' own short-lived leaves (issued for the
        # device's enrolled key: no key, no CSR)
        "test_certificates_issued": counts["test_certificates_issued"],
        "certificates_revoked": counts["certificates_revoked"],
        "renewals_done": report.measures["renewals_done"],
        "renewals_missed": report.measures["renewals_missed"],
        "unauthorized_access": report.measures["unauthorized_access"],
        "data_lost": report.measures["data_lost"],
        "clinical_downtime_minutes": report.measures["clinical_downtime_minutes"],
    }
    if spec.get("decision_floor"):
        result["decision_floor"] = _decision_floor(tb, counts["decisions"])
    if timers is not None:
        result["phases"] = timers.report(run)
    if outputs is not None:
        result["outputs"] = outputs
        result["events_jsonl_us_per_event"] = round(1e6 * outputs["events.jsonl"] / len(tb.log), 3)
    return result


def _decision_floor(tb: Any, decisions: int) -> dict[str, Any]:
    """The run's decisions given again in a tight loop, each a standing allowance
    recorded one at a time (its ``access-decision`` event into a log that keeps the
    report's events, the listeners: metrics, the oracle, the CA's use mark): the least
    a design spends deciding and recording every delivery one by one, with no engine,
    no SimPy, no renewals (the run gives most of them together in steady turns).
    Replays the attempts whose allowance still stands at the end of the run, round
    robin, at that time."""
    from testbed.events import EventLog
    from testbed.memory import collection_paused
    from testbed.report.needs import REPORT_EVENTS

    now = tb.clock.at(tb.horizon - 1.0)
    attempts = tb.traffic.standing_attempts(now)
    if not attempts:
        return {"decisions": 0}
    access = tb.hospital.access
    access.log = EventLog(keep=REPORT_EVENTS)  # the run's log is closed
    decide = access.decide
    repeat = max(1, decisions // len(attempts))
    with collection_paused():  # as the run
        started = time.perf_counter()
        for _ in range(repeat):
            for attempt, standing in attempts:
                decide(attempt, now=now, standing=standing)
        seconds = time.perf_counter() - started
    given = repeat * len(attempts)
    us = 1e6 * seconds / given
    return {"decisions": given, "attempts": len(attempts), "us_per_decision": round(us, 3),
            # the run's decisions at this cost
            "seconds": round(us * decisions / 1e6, 2)}


def _write_outputs(out: Path, sink: Any, record: Any, report: Any) -> dict[str, float]:
    """Seconds to write each output into ``out``: ``events.jsonl`` as the sink counted
    them during the run, then ``report.json`` and ``report.html`` written now."""
    from testbed.report.html import write_html

    times: dict[str, float] = {"events.jsonl": round(sink.seconds, 3)}
    started = time.perf_counter()
    (out / "report.json").write_text(report.to_json(), encoding="utf-8")
    times["report.json"] = round(time.perf_counter() - started, 3)
    started = time.perf_counter()
    write_html(report, record, out / "report.html")
    times["report.html"] = round(time.perf_counter() - started, 3)
    return times


def _sleeper(env: simpy.Environment, rng: random.Random, count: int, mean: float) -> Generator[
        simpy.Event, Any, None]:
    for _ in range(count):
        yield env.timeout(rng.uniform(0.5 * mean, 1.5 * mean))


def run_bare(spec: dict[str, Any]) -> dict[str, Any]:
    """The same number of events from processes that only sleep."""
    events = int(spec["events"])
    processes = max(int(spec["processes"]), 1)
    horizon = float(spec.get("sim_seconds", 368 * 86400.0))
    rss_imports = _peak_rss_mb()
    t0 = time.perf_counter()
    env = simpy.Environment()
    rng = random.Random(1)
    # Each process costs its Initialize event, its timeouts and its own end event.
    per, rest = divmod(max(events - 2 * processes, processes), processes)
    for i in range(processes):
        count = per + (1 if i < rest else 0)
        env.process(_sleeper(env, rng, count, horizon / max(count, 1)))
    t1 = time.perf_counter()
    n = _step_count(env, events)
    t2 = time.perf_counter()
    return {
        "mode": "bare",
        "processes": processes,
        "events": n,
        "wall": {"build": round(t1 - t0, 3), "run": round(t2 - t1, 3),
                 "total": round(t2 - t0, 3)},
        "events_per_second": round(n / (t2 - t1), 1),
        "peak_rss_mb": round(_peak_rss_mb(), 1),
        "rss_after_imports_mb": round(rss_imports, 1),
    }


def run_issuance(spec: dict[str, Any]) -> dict[str, Any]:
    """The cryptography of ``count`` issuances, nothing else (see the module docstring)."""
    from datetime import UTC, datetime, timedelta

    from testbed.pki.ca import CertificateAuthority
    from testbed.pki.chain import bundle_index, derive_facts
    from testbed.pki.keys import KeyType, ec_key, new_key_scalar, request_and_check
    from testbed.pki.leaf_profile import authority_key_id, build_leaf, leaf_sans, leaf_subject

    count = max(int(spec["count"]), 1)
    rng = random.Random(2)
    now = datetime(2026, 1, 5, tzinfo=UTC)
    ca = CertificateAuthority(name="Bench", trust_domain="bench.example", sites=["a"],
                              issuing="central", now=now, rng=rng)  # fmt: skip
    issuing = ca.issuing_ca_for("a", now=now)
    index = bundle_index((ca.root, issuing.certificate))
    aki = authority_key_id(issuing.key)
    scalars = [new_key_scalar(KeyType.EC_P256, rng) for _ in range(count)]
    started = time.perf_counter()
    for i, scalar in enumerate(scalars):
        device = f"device-{i}"
        key = ec_key(KeyType.EC_P256, scalar)
        _, check = request_and_check(key, device)
        valid = check.valid
        if not valid:
            raise RuntimeError("a CSR made here failed the CA's signature check")
        leaf = build_leaf(
            issuer=issuing.certificate.subject,
            issuing_key=issuing.key,
            authority_key=aki,
            subject=leaf_subject(device, "bench.example"),
            sans=leaf_sans("bench.example", "a", device),
            public=key.public_key(),
            serial=1000 + i,
            not_before=now,
            not_after=now + timedelta(days=30),
        )
        error = derive_facts(leaf, index).chain_error
        if error is not None:
            raise RuntimeError(f"a leaf signed here failed path validation: {error}")
    wall = time.perf_counter() - started
    publics = [ec_key(KeyType.EC_P256, scalar).public_key() for scalar in scalars]
    started = time.perf_counter()
    for i, public in enumerate(publics):
        device = f"device-{i}"
        build_leaf(
            issuer=issuing.certificate.subject,
            issuing_key=issuing.key,
            authority_key=aki,
            subject=leaf_subject(device, "bench.example"),
            sans=leaf_sans("bench.example", "a", device),
            public=public,
            serial=100_000 + i,
            not_before=now,
            not_after=now + timedelta(hours=1),
        )
    test_wall = time.perf_counter() - started
    return {"mode": "issuance", "count": count, "wall": round(wall, 3),
            "us_per_issuance": round(1e6 * wall / count, 1),
            "test_wall": round(test_wall, 3),
            "us_per_test_issuance": round(1e6 * test_wall / count, 1)}


def run_fleet_floor(spec: dict[str, Any]) -> dict[str, Any]:
    """The least a steady device-day costs at ``devices`` devices, in each layout of
    :mod:`benchmarks.fleet_floor`."""
    from benchmarks.fleet_floor import DEVICE_DAYS, measure

    result = measure(int(spec["devices"]), device_days=int(spec.get("device_days", DEVICE_DAYS)))
    return {"mode": "fleet_floor", **result, "peak_rss_mb": round(_peak_rss_mb(), 1)}


def main(argv: list[str] | None = None) -> int:
    """Run the configuration given as a JSON argument and print its result as JSON."""
    args = sys.argv[1:] if argv is None else argv
    spec = json.loads(args[0])
    modes = {"testbed": run_testbed, "bare": run_bare, "issuance": run_issuance,
             "fleet_floor": run_fleet_floor}
    result = modes[spec["mode"]](spec)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
