"""Live-mode durability benchmark (issue 10): what the SQLite store costs, and a big restart.

``make bench-live`` (``python -m benchmarks.live_store``) measures, in one run:

1. **The floor**: SQLite commits per second with ``synchronous=FULL`` on this disk
   (one small row each), the cost a durable answer cannot avoid.
2. **Enrollment throughput** over real HTTPS on loopback: 8 concurrent clients (each
   a thread opening a new TLS connection per request, as ``curl`` does) run
   bootstrap enrollments against a live server (``testbed.live.server``) with the
   in-memory store and with the durable store, alternately, ``--rounds`` times; the
   best of each counts.  Reported: enrollments/s of each and durable / memory.
   Target: durability costs at most 30% (ratio >= 0.70).
3. **Restart** of a state directory holding ``--devices`` devices (100,000) and
   ``--certificates`` certificates (1,000,000), built through the store's own API
   (:meth:`~testbed.live.store_records.SqliteRecords.add_der`, the inventory journal)
   with a few real leaves' DER repeated under distinct serials (signing a million
   leaves would take the benchmark's whole budget; nothing at restart parses them):
   wall seconds of a fresh interpreter opening it as ``testbed serve`` does
   (:func:`testbed.live.durable.open_hospital`, then the first CRLs).  Target: < 5 s.
4. **OCSP answers/s** on that hospital (the decision core's answer to a DER request
   for a random serial among the million: look-up, status, signing).

Writes ``benchmarks/results/live-store.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import random
import shutil
import socket
import sqlite3
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from http.client import HTTPConnection, HTTPSConnection
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
SCENARIO = ROOT / "scenarios" / "two-site-pilot.yaml"
CLIENTS = 8
TARGET_RATIO = 0.70
TARGET_RESTART_S = 5.0


# -- 1. the floor ---------------------------------------------------------------------


def commit_floor(directory: Path, commits: int = 300) -> float:
    """Durable commits per second (WAL, synchronous=FULL) on this disk."""
    db = sqlite3.connect(directory / "floor.db", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB)")
    start = time.perf_counter()
    for n in range(commits):
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO t VALUES (?, ?)", (n, b"x" * 600))
        db.execute("COMMIT")
    elapsed = time.perf_counter() - start
    db.close()
    return commits / elapsed


# -- 2. enrollment throughput ---------------------------------------------------------


def _server(state: Path, durable: bool, ready: Any, stop: Any) -> None:
    """A live server in this process (a child): memory or durable store."""
    from testbed.live.durable import open_hospital
    from testbed.live.hospital import LiveHospital
    from testbed.live.server import Ports, run_until
    from testbed.live.state import StateDir

    directory = StateDir(state)
    with directory.claimed(continuing=durable):
        log = directory.audit_log()
        if durable:
            hospital = open_hospital(SCENARIO, state, new=False, log=log).hospital
        else:
            hospital = LiveHospital.from_file(SCENARIO, log=log)

        async def main() -> None:
            event = asyncio.Event()
            loop = asyncio.get_running_loop()
            threading.Thread(target=lambda: (stop.wait(), loop.call_soon_threadsafe(event.set)),
                             daemon=True).start()  # fmt: skip
            task = asyncio.create_task(run_until(hospital, directory, ports=Ports(), stop=event))
            while not directory.endpoints.exists():
                await asyncio.sleep(0.01)
            ready.set()
            await task

        try:
            asyncio.run(main())
        finally:
            log.close()


class _UnixConnection(HTTPConnection):
    """HTTP over the admin API's Unix socket."""

    def __init__(self, path: Path) -> None:
        super().__init__("localhost", timeout=30)
        self.socket_path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(str(self.socket_path))


def _register(state: Path, secret: str, serial: str) -> tuple[str, str]:
    connection = _UnixConnection(state / "admin.sock")
    body = json.dumps({"serial": serial, "site": "north", "zone": "imaging",
                       "profile": "ct-ai-onbox"})  # fmt: skip
    connection.request("POST", "/devices", body=body, headers={
        "Authorization": f"Bearer {secret}", "Content-Type": "application/json"})
    answer = json.loads(connection.getresponse().read())
    connection.close()
    return answer["device_id"], answer["bootstrap"]["password"]


def _csr(device_id: str) -> bytes:
    from testbed.pki import KeyType, make_csr, new_private_key

    key = new_private_key(KeyType.EC_P256, None)
    return base64.encodebytes(make_csr(key, device_id).public_bytes(Encoding.DER))


def _enroll(est: str, context: ssl.SSLContext, job: tuple[str, str, bytes]) -> int:
    device_id, password, body = job
    address = urlsplit(est)
    connection = HTTPSConnection(address.hostname or "", address.port, context=context,
                                 timeout=30)  # fmt: skip
    basic = base64.b64encode(f"{device_id}:{password}".encode()).decode()
    connection.request("POST", f"{address.path}/simpleenroll", body=body, headers={
        "Authorization": f"Basic {basic}", "Content-Type": "application/pkcs10"})
    status = connection.getresponse().status
    connection.close()
    return status


def enrollment_rate(durable: bool, enrollments: int, work: Path) -> float:
    """Enrollments per second with :data:`CLIENTS` concurrent HTTPS clients."""
    import multiprocessing

    state = Path(tempfile.mkdtemp(dir=work, prefix="durable-" if durable else "memory-"))
    context = multiprocessing.get_context("fork")
    ready, stop = context.Event(), context.Event()
    process = context.Process(target=_server, args=(state, durable, ready, stop))
    process.start()
    try:
        if not ready.wait(60):
            raise RuntimeError("the server did not start")
        endpoints = json.loads((state / "endpoints.json").read_text())
        secret = (state / "admin.secret").read_text().strip()
        jobs = []
        for n in range(enrollments):
            device_id, password = _register(state, secret, f"B{n}")
            jobs.append((device_id, password, _csr(device_id)))
        tls = ssl.create_default_context(cafile=str(state / "ca-bundle.pem"))
        start = time.perf_counter()
        with ThreadPoolExecutor(CLIENTS) as pool:
            statuses = list(pool.map(lambda job: _enroll(endpoints["est"], tls, job), jobs))
        elapsed = time.perf_counter() - start
        if set(statuses) != {200}:
            raise RuntimeError(f"enrollments answered {sorted(set(statuses))}")
        return enrollments / elapsed
    finally:
        stop.set()
        process.join(30)
        shutil.rmtree(state, ignore_errors=True)


# -- 3. a big state directory, restarted ----------------------------------------------


def build_state(state: Path, *, devices: int, certificates: int, seed: int = 7) -> None:
    """A hospital of ``devices`` devices and ``certificates`` certificates (1% revoked),
    written through the store's API in batches."""
    from testbed.devices import make_record
    from testbed.inventory import InventoryEntry
    from testbed.lifecycle import DeviceState, Lifecycle
    from testbed.live.durable import open_hospital
    from testbed.pki.ca import IssuanceRecord, Revocation
    from testbed.pki.renewal import OnExpiry

    rng = random.Random(seed)
    state.mkdir(parents=True, exist_ok=True)
    opened = open_hospital(SCENARIO, state, new=True)
    hospital, store = opened.hospital, opened.store
    issuing = hospital.ca.issuing_ca_for("north", now=hospital.now())
    leaf = _sample_leaf(hospital)  # one real leaf, its DER repeated under distinct serials
    profile = hospital.profiles["ct-ai-onbox"]
    records = store.sqlite_records
    now = hospital.now()
    per_device = max(1, certificates // devices)
    serial_base = rng.getrandbits(100) << 40
    made = 0
    batch = 20_000
    for first in range(0, devices, batch):
        with store.transaction():
            for n in range(first, min(devices, first + batch)):
                device_id = f"ct-ai-onbox-north-bench{n}"
                record = make_record(profile, hospital.hospital.system, device_id=device_id,
                                     serial=f"BENCH{n}", site="north", zone="imaging",
                                     owner="bench", preferred_key=hospital.scenario.pki.key_type,
                                     ae_title=None)  # fmt: skip
                last = 0
                for _ in range(per_device):
                    last = serial_base + made
                    made += 1
                    records.add_der(IssuanceRecord(
                        last, device_id, "north", issuing.name, f"spiffe://x/{device_id}",
                        "bench", record.intended_services, OnExpiry.RENEW_AUTOMATICALLY.value,
                        now - timedelta(days=1), now + timedelta(days=29), None,
                    ), leaf)  # fmt: skip
                    if made % 100 == 0:
                        records.revoke(Revocation(last, now, x509.ReasonFlags.unspecified))
                entry = InventoryEntry(record, Lifecycle(DeviceState.PRODUCTION),
                                       timedelta(days=30), OnExpiry.RENEW_AUTOMATICALLY,
                                       serial=last, history=[(now, DeviceState.PRODUCTION)])
                store.save(entry)
    store.close()


def _sample_leaf(hospital: Any) -> bytes:
    from testbed.live.hospital import Registration

    bootstrap = hospital.register(Registration("SAMPLE", "north", "imaging", "ct-ai-onbox"))
    answer = hospital.simpleenroll(_csr(bootstrap.device_id), content_type="application/pkcs10",
                                   basic=(bootstrap.username, bootstrap.password),
                                   client_cert=None)  # fmt: skip
    certificate = answer.certificate
    if not isinstance(certificate, x509.Certificate):
        raise RuntimeError(f"the sample enrollment answered {answer.status}")
    return certificate.public_bytes(Encoding.DER)


_RESTART = """
import sys, time
start = time.perf_counter()
from pathlib import Path
from testbed.live.durable import open_hospital
opened = open_hospital(Path(sys.argv[1]), Path(sys.argv[2]), new=False)
opened.hospital.publish_crls()
print(time.perf_counter() - start, len(opened.hospital.inventory), len(opened.hospital.ca.records))
"""


def restart_seconds(state: Path) -> tuple[float, int, int]:
    """Wall seconds for a fresh interpreter to open the kept hospital (imports
    included) and publish its CRLs; the devices and certificates it found."""
    done = subprocess.run([sys.executable, "-c", _RESTART, str(SCENARIO), str(state)],
                          capture_output=True, text=True, check=True, cwd=ROOT)  # fmt: skip
    seconds, devices, certificates = done.stdout.split()
    return float(seconds), int(devices), int(certificates)


def ocsp_rate(state: Path, answers: int = 3000) -> float:
    """OCSP answers per second from the kept hospital for random kept serials."""
    from testbed.live.durable import open_hospital

    opened = open_hospital(SCENARIO, state, new=False)
    hospital = opened.hospital
    issuing = hospital.ca.issuing_ca_for("north", now=hospital.now())
    serials = [int(s, 16) for (s,) in sqlite3.connect(state / "hospital.db").execute(
        "SELECT serial FROM certificates ORDER BY random() LIMIT ?", (answers,))]
    leaf = hospital.ca.certificate(serials[0])
    if not isinstance(leaf, x509.Certificate):
        raise RuntimeError("the kept leaf is not a certificate")
    requests = []
    for serial in serials:
        builder = ocsp.OCSPRequestBuilder().add_certificate_by_hash(
            _name_hash(issuing.certificate), _key_hash(issuing.certificate), serial, hashes.SHA1())
        requests.append(builder.build().public_bytes(Encoding.DER))
    start = time.perf_counter()
    statuses = {ocsp.load_der_ocsp_response(hospital.ocsp(r)).certificate_status
                for r in requests}  # fmt: skip
    elapsed = time.perf_counter() - start
    opened.store.close()
    if ocsp.OCSPCertStatus.UNKNOWN in statuses:
        raise RuntimeError("a kept serial was unknown")
    return len(requests) / elapsed


def _name_hash(issuer: x509.Certificate) -> bytes:
    digest = hashes.Hash(hashes.SHA1())
    digest.update(issuer.subject.public_bytes())
    return digest.finalize()


def _key_hash(issuer: x509.Certificate) -> bytes:
    from cryptography.hazmat.primitives.serialization import PublicFormat

    spki = issuer.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    bits = spki[-65:]  # an uncompressed P-256 point ends the SPKI
    digest = hashes.Hash(hashes.SHA1())
    digest.update(bits)
    return digest.finalize()


# -- main -------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Run the four measurements, print them, write the results file."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--enrollments", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--devices", type=int, default=100_000)
    parser.add_argument("--certificates", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench-live-"))
    try:
        results: dict[str, Any] = {"commits_per_s_floor": commit_floor(work)}
        print(f"floor: {results['commits_per_s_floor']:.0f} durable SQLite commits/s", flush=True)
        memory, durable = [], []
        for _ in range(args.rounds):
            memory.append(enrollment_rate(False, args.enrollments, work))
            durable.append(enrollment_rate(True, args.enrollments, work))
        results["enrollments_per_s_memory"] = max(memory)
        results["enrollments_per_s_durable"] = max(durable)
        ratio = max(durable) / max(memory)
        results["durable_over_memory"] = ratio
        print(f"enrollment, {CLIENTS} clients: memory {max(memory):.0f}/s, durable "
              f"{max(durable):.0f}/s, ratio {ratio:.2f} (target >= {TARGET_RATIO})", flush=True)
        state = work / "big"
        start = time.perf_counter()
        build_state(state, devices=args.devices, certificates=args.certificates)
        results["build_seconds"] = time.perf_counter() - start
        size = sum(p.stat().st_size for p in state.rglob("*") if p.is_file())
        results["state_bytes"] = size
        seconds, devices, certificates = min(restart_seconds(state) for _ in range(3))
        results.update(restart_seconds=seconds, devices=devices, certificates=certificates)
        print(f"restart: {devices} devices, {certificates} certificates ({size / 2**20:.0f} "
              f"MiB) in {seconds:.2f} s (target < {TARGET_RESTART_S} s; built in "
              f"{results['build_seconds']:.0f} s)", flush=True)
        results["ocsp_per_s"] = ocsp_rate(state)
        print(f"OCSP on it: {results['ocsp_per_s']:.0f} answers/s", flush=True)
        results["targets"] = {
            "durable_over_memory": ratio >= TARGET_RATIO,
            "restart_seconds": seconds < TARGET_RESTART_S,
        }
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "live-store.json").write_text(json.dumps(results, indent=2) + "\n")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
