"""DICOM TLS benchmark (issue 12): the testbed's acceptor against dcmtk ``storescp`` and
a stock pynetdicom SCP.

``make bench-dicom`` (``python -m benchmarks.dicom``) runs, with dcmtk ``storescu`` as
the only client (over TLS 1.2+, dcmtk's default non-downgrading BCP 195 profile,
``TCP_NODELAY=1``), against three acceptors on loopback:

- the testbed's: ``testbed serve`` (a subprocess, its audit log and durable store on
  disk, every association decided by the hospital's core and written as events,
  every stored instance fsynced before it is answered), one enrolled device;
- dcmtk's ``storescp`` with TLS (the same server certificate and trust bundle; it
  checks the chain but has no CRL, no allow-list, and does not fsync);
- ``pynetdicom-stock``: pynetdicom's own server deciding nothing
  (:mod:`benchmarks.stock_scp`: the testbed acceptor's TLS context, the same
  SOP classes, every store answered success and kept nowhere), the floor of any
  acceptor built on pynetdicom.

Two measures, on every acceptor in the same run:

1. **associations/s**: ``--associations`` x ``--rounds`` sequential ``storescu`` runs
   per acceptor, one small new CT instance each (a process, a TCP connection, a TLS
   handshake, an association, one C-STORE, a release), alternating between the two
   acceptors run by run; the rate is 1 / the median run time.  Measured twice:
   ``storescu --required`` proposing the one presentation context it needs (as a
   modality sending CT does: the target), and storescu's default proposal of every
   storage SOP class x 3 transfer syntaxes (~120 contexts, a 13 kB A-ASSOCIATE-RQ
   that pynetdicom decodes in ~10 ms of Python, validating each UID);
2. **instances/s on one association**: one ``storescu`` sending ``--instances``
   new instances, once per round and acceptor; the best round counts.

Reported: each rate and the ratios testbed / storescp, pynetdicom-stock / storescp
and testbed / pynetdicom-stock.  Target: associations/s testbed / storescp >= 1.0 (at
least as fast as storescp).  Writes ``benchmarks/results/dicom.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.stock_scp import AE_TITLE
from testbed.live.pacs_check.credentials import Identity, prepare
from testbed.live.process import stop_process
from tests.live.dicom_peer import DCMTK_ENV, STORESCP, STORESCU, ct_instance, dcmtk_missing
from tests.live.ports import free_port

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
TARGET_RATIO = 1.0
STOCK = "pynetdicom-stock"
PEERS = ("testbed", "dcmtk", STOCK)
#: the ratios reported: (numerator, denominator)
RATIOS = (("testbed", "dcmtk"), (STOCK, "dcmtk"), ("testbed", STOCK))
SCENARIO = """\
name: bench-dicom
seed: 1
start: 2026-01-05T00:00:00Z
duration: 1d
trust_domain: bench.example
sites:
  - {name: north, zones: [imaging]}
services:
  - {name: pacs-north, kind: pacs, site: north, zone: imaging}
  - {name: ehr, kind: ehr, site: north, zone: imaging}
network:
  - {from: imaging, to: pacs-north, site: north}
fleet:
  - {profile: ct-ai-onbox, count: 1, site: north, zone: imaging, owner: radiology}
pki:
  lifetime: 30d
"""


def _wait(predicate: Any, what: str, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if process.poll() is not None:
            raise RuntimeError(f"{what}: the process exited with {process.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not ready within {timeout} s")
        time.sleep(0.05)


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _storescu(
    identity: Identity, bundle: Path, port: int, called: str, files: list[Path], *, required: bool
) -> None:
    proposal = ["--required"] if required else []
    args = [STORESCU, *proposal, "+tls", str(identity.key), str(identity.cert), "+cf", str(bundle),
            "-aet", identity.ae_title, "-aec", called, "127.0.0.1", str(port),
            *map(str, files)]  # fmt: skip
    done = subprocess.run(args, capture_output=True, text=True, env=DCMTK_ENV, timeout=120,
                          check=False)  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"storescu to {called} failed: {done.stderr.strip()}")


def association_seconds(
    identity: Identity, bundle: Path, port: int, called: str, file: Path, *, required: bool
) -> float:
    """Wall seconds of one storescu run sending one instance."""
    start = time.perf_counter()
    _storescu(identity, bundle, port, called, [file], required=required)
    return time.perf_counter() - start


def instances_per_second(
    identity: Identity, bundle: Path, port: int, called: str, files: list[Path]
) -> float:
    """One storescu sending every file on one association."""
    start = time.perf_counter()
    _storescu(identity, bundle, port, called, files, required=True)
    return len(files) / (time.perf_counter() - start)


def _files(folder: Path, study: int, count: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return [ct_instance(folder / f"{n}.dcm", study=study, instance=n) for n in range(1, count + 1)]


def run(associations: int, instances: int, rounds: int, work: Path) -> dict[str, Any]:
    """Both acceptors, alternated; the best round of each measure."""
    scenario, state = work / "bench-dicom.yaml", work / "state"
    scenario.write_text(SCENARIO)
    log = (work / "serve.log").open("wb")
    serve = subprocess.Popen([sys.executable, "-m", "testbed.cli", "serve", str(scenario),
                              "--state-dir", str(state)], stdout=log, stderr=subprocess.STDOUT,
                             cwd=ROOT)  # fmt: skip
    storescp: subprocess.Popen[bytes] | None = None
    stock: subprocess.Popen[bytes] | None = None
    try:
        _wait(lambda: (state / "endpoints.json").exists(), "testbed serve", serve)
        pacs = json.loads((state / "endpoints.json").read_text())["dicom"][0]
        identity = prepare(state, site="north", zone="imaging", profile="ct-ai-onbox").good
        bundle = state / "ca-bundle.pem"
        scp_port = free_port()
        (work / "scp").mkdir()
        storescp = subprocess.Popen([STORESCP, "+tls", str(state / "server.key"),
                                     str(state / "server.pem"), "+cf", str(bundle), "-od",
                                     str(work / "scp"), str(scp_port)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                    env=DCMTK_ENV)  # fmt: skip
        _wait(lambda: _listening(scp_port), "storescp", storescp)
        stock_port = free_port()
        stock = subprocess.Popen([sys.executable, "-m", "benchmarks.stock_scp", str(stock_port),
                                  "--cert", str(state / "server.pem"), "--key",
                                  str(state / "server.key"), "--bundle", str(bundle)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                 cwd=ROOT)  # fmt: skip
        _wait(lambda: _listening(stock_port), "pynetdicom-stock", stock)
        peers = {"testbed": (int(pacs["port"]), str(pacs["ae_title"])),
                 "dcmtk": (scp_port, "STORESCP"), STOCK: (stock_port, AE_TITLE)}  # fmt: skip
        modes = {"required": True, "default": False}
        seconds: dict[tuple[str, str], list[float]] = {(p, m): [] for p in peers for m in modes}
        batches: dict[str, float] = {p: 0.0 for p in peers}
        study = 0
        for _ in range(rounds):
            study += 1
            single = iter(_files(work / f"a{study}", study, associations * len(seconds)))
            # one association to each acceptor in turn: load on this shared machine
            # falls on both alike
            for _ in range(associations):
                for name, mode in seconds:
                    port, called = peers[name]
                    seconds[(name, mode)].append(association_seconds(
                        identity, bundle, port, called, next(single),
                        required=modes[mode]))  # fmt: skip
            for name, (port, called) in peers.items():
                study += 1
                batch = _files(work / f"i{study}", study, instances)
                rate = instances_per_second(identity, bundle, port, called, batch)
                batches[name] = max(batches[name], rate)
        best = {name: {
            "associations_per_s": 1.0 / statistics.median(seconds[(name, "required")]),
            "associations_per_s_full_proposal": 1.0 / statistics.median(
                seconds[(name, "default")]),
            "instances_per_s": batches[name]} for name in peers}  # fmt: skip
    finally:
        for process in (storescp, stock):
            if process is not None:
                stop_process(process)
        stop_process(serve)
        log.close()
    ratios = {f"{a}_over_{b}": {m: best[a][m] / best[b][m] for m in best[a]}
              for a, b in RATIOS}  # fmt: skip
    return {
        "associations": associations, "instances": instances, "rounds": rounds,
        **best, "ratios": ratios, "ratio_testbed_over_dcmtk": ratios["testbed_over_dcmtk"],
        "target_associations_ratio": TARGET_RATIO,
        "meets_target": ratios["testbed_over_dcmtk"]["associations_per_s"] >= TARGET_RATIO,
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and write ``benchmarks/results/dicom.json``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--associations", type=int, default=40)
    parser.add_argument("--instances", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS / "dicom.json")
    args = parser.parse_args(argv)
    missing = dcmtk_missing()
    if missing is not None:
        print(f"error: {missing}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="bench-dicom-") as work:
        os.chmod(work, 0o700)
        result = run(args.associations, args.instances, args.rounds, Path(work))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    for name in PEERS:
        rates = result[name]
        print(f"{name:16} {rates['associations_per_s']:7.1f} associations/s "
              f"({rates['associations_per_s_full_proposal']:.1f} with storescu's full "
              f"proposal) {rates['instances_per_s']:8.1f} instances/s (one association)")
    for a, b in RATIOS:
        ratios = result["ratios"][f"{a}_over_{b}"]
        label = f"{a}/{'storescp' if b == 'dcmtk' else b}".replace("dcmtk", "storescp")
        print(f"{label:27} associations {ratios['associations_per_s']:.2f}x, with the full "
              f"proposal {ratios['associations_per_s_full_proposal']:.2f}x, "
              f"instances {ratios['instances_per_s']:.2f}x")
    print(f"target: testbed/storescp associations >= {TARGET_RATIO:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
