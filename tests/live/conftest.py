"""Live fixtures: ``testbed serve`` as a subprocess, driven only by ``curl`` and ``openssl``.

The server is started with ``sys.executable -m testbed.cli serve``; the fixture waits
(bounded) for ``endpoints.json`` and always terminates the process.  Clients use no
project code: the :class:`Live` helper only runs ``curl``, ``openssl`` and the
``testbed devices`` command, and reads files from the state directory.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pytest

from testbed.live.process import stop_process

REPO = Path(__file__).resolve().parents[2]
PILOT = REPO / "scenarios" / "two-site-pilot.yaml"
START_TIMEOUT = 20.0
POLL = 0.05

SHORT_SCENARIO = """\
name: live-short
seed: 1
start: 2026-01-05T00:00:00Z
duration: 1d
trust_domain: short.example
sites:
  - {name: north, zones: [imaging]}
services:
  - {name: pacs-north, kind: pacs, site: north, zone: imaging}
  - {name: ehr, kind: ehr, site: north, zone: imaging}
fleet:
  - {profile: ct-ai-onbox, count: 1, site: north, zone: imaging, owner: radiology}
pki:
  lifetime: 2s
"""

APPROVAL_SCENARIO = SHORT_SCENARIO.replace("name: live-short", "name: live-approval").replace(
    "  lifetime: 2s\n", "  lifetime: 1d\n  manual_approval: true\n"
)


def _tools() -> None:
    missing = [tool for tool in ("curl", "openssl") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"live tests drive the server with curl and openssl; missing: {missing}")


def run(
    args: list[str], *, data: bytes | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[bytes]:
    """Run a command, capture bytes, never raise on a non-zero exit."""
    return subprocess.run(args, input=data, capture_output=True, cwd=cwd, timeout=30, check=False)


@dataclass
class Live:
    """One running ``testbed serve`` and the client-side files of a test."""

    process: subprocess.Popen[bytes]
    state: Path
    work: Path

    @property
    def endpoints(self) -> dict[str, Any]:
        """The published endpoint URLs."""
        data: dict[str, Any] = json.loads((self.state / "endpoints.json").read_text())
        return data

    @property
    def bundle(self) -> Path:
        """The trust bundle (root first, then the issuing CA)."""
        return self.state / "ca-bundle.pem"

    def split_bundle(self) -> tuple[Path, Path]:
        """``root.pem`` and ``int.pem`` cut from the bundle (text only, no project code)."""
        text = self.bundle.read_text()
        marker = "-----END CERTIFICATE-----\n"
        pems = [block + marker for block in text.split(marker) if block.strip()]
        root, issuing = self.work / "root.pem", self.work / "int.pem"
        root.write_text(pems[0])
        issuing.write_text(pems[1])
        return root, issuing

    @staticmethod
    def run(args: list[str], *, data: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        """Run a client command (see :func:`run`)."""
        return run(args, data=data)

    def stop(self) -> int:
        """Stop the server with SIGTERM (bounded wait); its exit code."""
        return stop(self.process)

    def admin(self, path: str, *args: str) -> tuple[int, bytes]:
        """POST to the admin API over its Unix socket with the bearer secret (curl)."""
        secret = (self.state / "admin.secret").read_text().strip()
        return self.curl(f"http://localhost{path}", "--unix-socket", str(self.state / "admin.sock"),
                         "-X", "POST", "-H", f"Authorization: Bearer {secret}", *args)  # fmt: skip

    def flush_audit(self) -> None:
        """Have the server write its aggregated refusals now."""
        status, body = self.admin("/audit/flush")
        assert status == 200, body

    def events(self) -> list[dict[str, Any]]:
        """Every line of ``events.jsonl`` so far."""
        lines = (self.state / "events.jsonl").read_text().splitlines()
        return [json.loads(line) for line in lines if line]

    def cli(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        """``testbed ARGS...`` in a subprocess."""
        return run([sys.executable, "-m", "testbed.cli", *args])

    def register(self, serial: str, *, profile: str = "ct-ai-onbox") -> tuple[str, str]:
        """Register a device at north/imaging; return ``(device_id, password)``."""
        answer = self.register_answer(serial, profile=profile)
        return answer["device_id"], answer["bootstrap"]["password"]

    def register_answer(self, serial: str, *, profile: str = "ct-ai-onbox") -> dict[str, Any]:
        """Register a device at north/imaging; the command's whole JSON answer."""
        done = self.cli(
            "devices",
            "register",
            "--state-dir",
            str(self.state),
            "--serial",
            serial,
            "--site",
            "north",
            "--zone",
            "imaging",
            "--profile",
            profile,
        )
        assert done.returncode == 0, done.stderr.decode()
        answer: dict[str, Any] = json.loads(done.stdout)
        assert answer["bootstrap"]["username"] == answer["device_id"]
        return answer

    def key(self, name: str) -> Path:
        """A fresh P-256 key made by ``openssl ecparam``."""
        path = self.work / f"{name}.key.pem"
        done = run(["openssl", "ecparam", "-genkey", "-name", "prime256v1", "-out", str(path)])
        assert done.returncode == 0, done.stderr.decode()
        return path

    def csr(self, key: Path, cn: str) -> Path:
        """A base64 DER CSR for ``cn`` made by ``openssl req``."""
        done = run(
            ["openssl", "req", "-new", "-key", str(key), "-subj", f"/CN={cn}", "-outform", "DER"]
        )
        assert done.returncode == 0, done.stderr.decode()
        path = self.work / f"{cn}.{key.stem}.csr.b64"
        path.write_bytes(base64.encodebytes(done.stdout))
        return path

    def curl(self, url: str, *args: str) -> tuple[int, bytes]:
        """``curl`` with the trust bundle; returns ``(http status, body)``."""
        out = self.work / "curl.out"
        done = run(
            [
                "curl",
                "-sS",
                "--cacert",
                str(self.bundle),
                "-o",
                str(out),
                "-w",
                "%{http_code}",
                *args,
                url,
            ]
        )
        assert done.returncode == 0, f"curl exit {done.returncode}: {done.stderr.decode()}"
        return int(done.stdout), out.read_bytes()

    def est(
        self, operation: str, body: Path, *args: str, content_type: str = "application/pkcs10"
    ) -> tuple[int, bytes]:
        """POST ``body`` to an EST operation."""
        url = f"{self.endpoints['est']}/{operation}"
        return self.curl(
            url, "-H", f"Content-Type: {content_type}", "--data-binary", f"@{body}", *args
        )

    def certificate(self, answer: bytes, name: str) -> Path:
        """The PEM certificate in an EST answer (base64 DER PKCS#7, read by openssl)."""
        der = base64.b64decode(answer)
        done = run(["openssl", "pkcs7", "-inform", "DER", "-print_certs"], data=der)
        assert done.returncode == 0, done.stderr.decode()
        path = self.work / f"{name}.pem"
        path.write_bytes(done.stdout)
        return path

    def serial(self, certificate: Path) -> str:
        """The certificate's serial in upper-case hex, as ``openssl x509 -serial`` prints it."""
        done = run(["openssl", "x509", "-in", str(certificate), "-noout", "-serial"])
        return done.stdout.decode().strip().removeprefix("serial=")

    def enroll(self, serial: str, *, name: str | None = None) -> tuple[str, Path, Path]:
        """Register and enroll a device; return ``(device_id, key, certificate)``."""
        device_id, password = self.register(serial)
        key = self.key(name or serial)
        status, body = self.est(
            "simpleenroll", self.csr(key, device_id), "-u", f"{device_id}:{password}"
        )
        assert status == 200, body.decode(errors="replace")
        return device_id, key, self.certificate(body, name or serial)


def _wait_for(path: Path, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while not path.exists():
        if process.poll() is not None:
            pytest.fail(f"testbed serve exited with {process.returncode}: {log.read_text()}")
        if time.monotonic() > deadline:
            pytest.fail(f"testbed serve did not write {path} within {START_TIMEOUT} s")
        time.sleep(POLL)


def stop(process: subprocess.Popen[bytes]) -> int:
    """SIGTERM, a bounded wait, then SIGKILL; the exit code."""
    return stop_process(process, timeout=10)


class StartServer(Protocol):
    """Start ``testbed serve SCENARIO [OPTIONS...]`` (on ``state``: a restart; else a
    new directory)."""

    def __call__(self, scenario: Path, *options: str, state: Path | None = None) -> Live: ...


@pytest.fixture(scope="module")
def start_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StartServer]:
    """Start ``testbed serve SCENARIO``; every server started is stopped at module end."""
    _tools()
    started: list[subprocess.Popen[bytes]] = []

    def start(scenario: Path, *options: str, state: Path | None = None) -> Live:
        if state is None:
            state = tmp_path_factory.mktemp("state")
        else:  # a restart: a killed server left its endpoints behind
            (state / "endpoints.json").unlink(missing_ok=True)
        work = tmp_path_factory.mktemp("client")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        log = work / "serve.log"
        with log.open("wb") as output:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "testbed.cli",
                    "serve",
                    str(scenario),
                    "--state-dir",
                    str(state),
                    *options,
                ],
                stdout=output,
                stderr=subprocess.STDOUT,
                env=env,
            )
        started.append(process)
        _wait_for(state / "endpoints.json", process, log)
        return Live(process, state, work)

    yield start
    for process in started:
        stop(process)


@pytest.fixture(scope="module")
def pilot(start_server: StartServer) -> Live:
    """The two-site pilot's hospital, live (shared by one test module)."""
    return start_server(PILOT)


@pytest.fixture(scope="module")
def short_lived(start_server: StartServer, tmp_path_factory: pytest.TempPathFactory) -> Live:
    """A one-site hospital whose certificates live 2 seconds."""
    scenario = tmp_path_factory.mktemp("scenario") / "live-short.yaml"
    scenario.write_text(SHORT_SCENARIO)
    return start_server(scenario)


@pytest.fixture(scope="module")
def approval(start_server: StartServer, tmp_path_factory: pytest.TempPathFactory) -> Live:
    """A one-site hospital whose enrollments wait for an operator's approval."""
    scenario = tmp_path_factory.mktemp("scenario") / "live-approval.yaml"
    scenario.write_text(APPROVAL_SCENARIO)
    return start_server(scenario)
