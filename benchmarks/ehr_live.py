"""Live EHR benchmark (issue 11): token endpoint and FHIR create throughput on loopback.

``make bench-ehr-live`` (``python -m benchmarks.ehr_live``) measures, in one run:

0. **The durable floor**: SQLite commits per second with ``synchronous=FULL`` on this
   disk (``benchmarks.live_store.commit_floor``): every token grant and every FHIR
   create is one such commit before its answer leaves, so neither can beat it.
1. **The transport floor**: a minimal aiohttp handler over the same TLS (the live server's own
   certificate, a client certificate presented) that only parses a JSON body and
   answers 201, in a process of its own, driven by the same clients.  Nothing served
   over aiohttp and TLS on this machine can beat it.
2. **Token endpoint**: ``testbed serve`` (durable store, as shipped) answering
   ``client_credentials`` requests with ``private_key_jwt`` assertions (ES384; signed
   before the clock starts, so the clients' signing is not measured): parse the form,
   verify the assertion, the replay cache, sign an access token, commit.
3. **FHIR create**: the same server answering ``POST Observation`` with a bearer
   token: network and TLS hops, the token (signature, introspection), scope, patient
   context, validation with ``fhir.resources``, the store, Provenance and AuditEvent,
   commit.

``--clients`` (N, default 8) devices each own one httpx client (keep-alive, mutual
TLS, from the device zone's loopback address) and send ``--requests`` requests one
after the other; requests/s is all requests over the wall time, latency p50/p95 over
every request.  Reported: each rate and its ratio to the floor.  The device clients are
the PyJWT + httpx client of the live tests (``tests/live/smart_client.py``).

Writes ``benchmarks/results/ehr-live.json``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

from benchmarks.live_store import commit_floor
from testbed.live.process import stop_process

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the device client and scenario of the live tests

from tests.live.ehr_scenario import SCOPE, write_scenario  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
START_TIMEOUT = 60.0

# -- the servers ------------------------------------------------------------------------


def start_testbed(scenario: Path, state: Path) -> subprocess.Popen[bytes]:
    """``testbed serve`` (durable store) until :func:`stop_process`."""
    process = subprocess.Popen(
        [sys.executable, "-m", "testbed.cli", "serve", str(scenario), "--state-dir", str(state)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT,
    )  # fmt: skip
    deadline = time.monotonic() + START_TIMEOUT
    while not (state / "endpoints.json").exists():
        if process.poll() is not None or time.monotonic() > deadline:
            stop_process(process)
            raise RuntimeError("testbed serve did not start")
        time.sleep(0.05)
    return process


def _floor_server(certificate: str, key: str, bundle: str, port: Any, ready: Any) -> None:
    import asyncio

    from aiohttp import web

    async def create(request: web.Request) -> web.Response:
        await request.json()
        return web.Response(status=201)

    async def main() -> None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(certificate, key)
        context.load_verify_locations(cafile=bundle)
        context.verify_mode = ssl.CERT_OPTIONAL
        app = web.Application()
        app.router.add_post("/floor", create)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
        await site.start()
        server = site._server
        assert server is not None and server.sockets
        port.value = server.sockets[0].getsockname()[1]
        ready.set()
        await asyncio.Event().wait()

    asyncio.run(main())


def start_floor(state: Path) -> tuple[multiprocessing.process.BaseProcess, str]:
    """The minimal aiohttp handler in a process of its own; its URL."""
    context = multiprocessing.get_context("spawn")
    port, ready = context.Value("i", 0), context.Event()
    process = context.Process(target=_floor_server, daemon=True, args=(
        str(state / "server.pem"), str(state / "server.key"), str(state / "ca-bundle.pem"),
        port, ready))  # fmt: skip
    process.start()
    if not ready.wait(START_TIMEOUT):
        process.kill()
        raise RuntimeError("the floor server did not start")
    return process, f"https://127.0.0.1:{port.value}/floor"


# -- the devices --------------------------------------------------------------------------


def devices(state: Path, count: int) -> list[tuple[Any, dict[str, Any]]]:
    """``count`` registered, enrolled devices with their clients and a census encounter."""
    from testbed.live.admin_client import admin_request
    from tests.live.smart_client import Device, SigningKey, enroll

    endpoints = json.loads((state / "endpoints.json").read_text())
    made = []
    for n in range(count):
        key = SigningKey(f"bench-{n}")
        answer = admin_request(state, "/devices", {
            "serial": f"B{n}", "site": "north", "zone": "bedside",
            "profile": "bedside-ai-writer", "jwks": key.jwks()})  # fmt: skip
        tls = enroll(endpoints["est"], state / "ca-bundle.pem", state, answer["device_id"],
                     answer["bootstrap"]["password"])  # fmt: skip
        client = Device.connect(answer["smart"]["client_id"], key,
                                bundle=state / "ca-bundle.pem", tls=tls,
                                source=endpoints["zones"]["north/bedside"])  # fmt: skip
        client.discover(endpoints["smart_configuration"])
        token = client.token(SCOPE)["access_token"]
        bundle = client.get(f"{endpoints['fhir']}/Encounter", token, status="in-progress",
                            location=answer["location"].split("/")[1]).json()  # fmt: skip
        encounter = bundle["entry"][0]["resource"]
        made.append((client, {"token": token, "device_id": answer["device_id"],
                              "encounter": encounter, "fhir": endpoints["fhir"]}))  # fmt: skip
    return made


# -- the load --------------------------------------------------------------------------------

Request = Callable[[], int]


def measure(work: list[list[Request]], expected: int) -> dict[str, float]:
    """Run each client's requests in order, the clients at once; rate and latencies."""
    latencies: list[float] = []

    def run(requests: list[Request]) -> list[float]:
        took = []
        for request in requests:
            start = time.perf_counter()
            status = request()
            took.append(time.perf_counter() - start)
            if status != expected:
                raise RuntimeError(f"answered {status}, expected {expected}")
        return took

    start = time.perf_counter()
    with ThreadPoolExecutor(len(work)) as pool:
        for took in pool.map(run, work):
            latencies.extend(took)
    elapsed = time.perf_counter() - start
    quantiles = statistics.quantiles(latencies, n=20)
    return {"requests": len(latencies), "per_second": len(latencies) / elapsed,
            "p50_ms": statistics.median(latencies) * 1000, "p95_ms": quantiles[18] * 1000}


def _post_json(client: Any, url: str, body: str) -> int:
    answer = client.http.post(url, content=body, headers={"Content-Type": "application/json"})
    return int(answer.status_code)


def _token(client: Any, assertion: str) -> int:
    return int(client.token_answer(SCOPE, assertion=assertion).status_code)


def _create(client: Any, url: str, token: str, body: dict[str, Any]) -> int:
    return int(client.create(url, token, body).status_code)


def floor_work(made: list[tuple[Any, dict[str, Any]]], url: str, n: int) -> list[list[Request]]:
    """Each client POSTs an Observation-sized JSON body to the floor handler."""
    from tests.live.smart_client import observation

    work = []
    for client, facts in made:
        body = json.dumps(observation("Patient/x", "Encounter/y", facts["device_id"], 1))
        post = partial(_post_json, client, url, body)
        work.append([post for _ in range(n)])
    return work


def token_work(made: list[tuple[Any, dict[str, Any]]], n: int) -> list[list[Request]]:
    """Each client sends token requests with assertions signed beforehand."""
    work = []
    for client, facts in made:
        assertions = [client.key.assertion(facts["device_id"], client.token_url)
                      for _ in range(n)]  # fmt: skip
        work.append([partial(_token, client, a) for a in assertions])
    return work


def create_work(made: list[tuple[Any, dict[str, Any]]], n: int) -> list[list[Request]]:
    """Each client creates Observations for a patient at its location."""
    from tests.live.smart_client import observation

    work = []
    for client, facts in made:
        encounter = facts["encounter"]
        url = f"{facts['fhir']}/Observation"
        bodies = [observation(encounter["subject"]["reference"], f"Encounter/{encounter['id']}",
                              facts["device_id"], value) for value in range(n)]  # fmt: skip
        work.append([partial(_create, client, url, facts["token"], b) for b in bodies])
    return work


def run(clients: int, requests: int, work_dir: Path) -> dict[str, Any]:
    """The three measures in one run (see the module docstring)."""
    state = Path(tempfile.mkdtemp(dir=work_dir, prefix="ehr-state-"))
    os.chmod(state, 0o700)
    scenario = write_scenario(Path(tempfile.mkdtemp(dir=work_dir, prefix="ehr-scenario-")))
    commits = commit_floor(Path(tempfile.mkdtemp(dir=work_dir, prefix="ehr-commit-")))
    server = start_testbed(scenario, state)
    floor_process = None
    made: list[tuple[Any, dict[str, Any]]] = []
    try:
        made = devices(state, clients)
        floor_process, floor_url = start_floor(state)
        floor = measure(floor_work(made, floor_url, requests), 201)
        tokens = measure(token_work(made, requests), 200)
        creates = measure(create_work(made, requests), 201)
    finally:
        for client, _ in made:
            client.http.close()
        if floor_process is not None:
            floor_process.kill()
        stop_process(server)
        shutil.rmtree(state, ignore_errors=True)
    return {
        "clients": clients, "requests_per_client": requests,
        "commits_per_second": commits, "floor": floor, "token": tokens, "fhir_create": creates,
        "token_over_floor": tokens["per_second"] / floor["per_second"],
        "create_over_floor": creates["per_second"] / floor["per_second"],
        "token_over_commits": tokens["per_second"] / commits,
        "create_over_commits": creates["per_second"] / commits,
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and write its JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=100, help="per client and measure")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as work:
        result = run(args.clients, args.requests, Path(work))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "ehr-live.json").write_text(json.dumps(result, indent=2) + "\n")
    for name in ("floor", "token", "fhir_create"):
        m = result[name]
        print(f"{name:12} {m['per_second']:8.1f} req/s  p50 {m['p50_ms']:6.1f} ms  "
              f"p95 {m['p95_ms']:6.1f} ms")
    print(f"durable floor {result['commits_per_second']:8.1f} commits/s; token / commits "
          f"{result['token_over_commits']:.3f}   create / commits "
          f"{result['create_over_commits']:.3f}")
    print(f"token / floor {result['token_over_floor']:.3f}   "
          f"create / floor {result['create_over_floor']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
