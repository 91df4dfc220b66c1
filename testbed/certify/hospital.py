"""The hospital a certification runs against: started live on loopback, or a running one.

:meth:`KitHospital.start` runs ``testbed serve SCENARIO`` in a child process (as the
live tests do) on a new state directory, with a short ``--retry-after`` so a device
that honours a 202 or 503 retries within the run, and waits (bounded) for
``endpoints.json``.  :meth:`KitHospital.attach` uses a hospital already served from
``--state-dir D``.  The kit acts on it only as an operator would: through the admin
API on ``D/admin.sock`` (:func:`testbed.live.admin_client.admin_request`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from testbed.crosscheck import profiles_for
from testbed.devices import DeviceProfile, load_profiles
from testbed.errors import CertifyError, LiveError, ScenarioError
from testbed.live.admin_client import admin_request
from testbed.live.process import stop_process
from testbed.scenario import Scenario, load_scenario

__all__ = ["RETRY_AFTER", "START_TIMEOUT", "KitHospital", "load_inputs"]

START_TIMEOUT = 60.0
"""Seconds ``testbed serve`` may take to listen."""
RETRY_AFTER = 1
"""Seconds of Retry-After the kit's own hospital asks devices to wait."""


@dataclass
class KitHospital:
    """A live hospital the kit drives: its state directory, scenario and endpoints."""

    state: Path
    scenario: Scenario
    profiles: Mapping[str, DeviceProfile]
    endpoints: Mapping[str, Any]
    process: subprocess.Popen[bytes] | None = None  # None: a running hospital (attached)

    @classmethod
    def start(cls, scenario_path: Path, state: Path) -> KitHospital:
        """Serve ``scenario_path`` live on a new state directory ``state``."""
        scenario, profiles = load_inputs(scenario_path)
        state.mkdir(mode=0o700, parents=True, exist_ok=True)
        log = state.parent / f"{state.name}-serve.log"
        command = [sys.executable, "-m", "testbed.cli", "serve", str(scenario_path),
                   "--state-dir", str(state), "--retry-after", str(RETRY_AFTER)]  # fmt: skip
        with log.open("wb") as output:
            process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT,
                                       env={**os.environ, "PYTHONUNBUFFERED": "1"})  # fmt: skip
        endpoints = state / "endpoints.json"
        deadline = time.monotonic() + START_TIMEOUT
        while not endpoints.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                stop_process(process)
                raise CertifyError(f"testbed serve {scenario_path} did not start: "
                                   f"{log.read_text(errors='replace').strip()[-800:]}")
            time.sleep(0.05)
        return cls(state, scenario, profiles, json.loads(endpoints.read_text()), process)

    @classmethod
    def attach(cls, state: Path) -> KitHospital:
        """The hospital ``testbed serve`` is serving from ``state``."""
        endpoints = state / "endpoints.json"
        if not endpoints.is_file():
            raise CertifyError(f"--state-dir {state}: no endpoints.json there; is `testbed "
                               "serve SCENARIO --state-dir` running on it?")  # fmt: skip
        kept = state / "profiles"  # testbed serve keeps the scenario's profiles there
        scenario, profiles = load_inputs(state / "scenario.yaml", kept if kept.is_dir() else None)
        return cls(state, scenario, profiles, json.loads(endpoints.read_text()))

    @property
    def bundle(self) -> Path:
        """The hospital's trust bundle (root and issuing CAs)."""
        return self.state / "ca-bundle.pem"

    @property
    def events(self) -> Path:
        """The audit log."""
        return self.state / "events.jsonl"

    @property
    def est_url(self) -> str:
        """The EST base URL (``.../.well-known/est``)."""
        return str(self.endpoints["est"])

    def admin(self, path: str, payload: Mapping[str, object] | None = None, *,
              method: str = "POST") -> Any:  # fmt: skip
        """One admin API call; :class:`~testbed.errors.LiveError` with its error."""
        return admin_request(self.state, path, payload, method=method)

    def alive(self) -> bool:
        """Whether the hospital still answers its admin API."""
        try:
            self.admin("/devices", method="GET")
        except LiveError:
            return False
        return True

    def stop(self) -> None:
        """Stop the hospital the kit started (a running one is left running)."""
        if self.process is not None:
            stop_process(self.process)


def load_inputs(
    path: Path, profiles: Path | None = None
) -> tuple[Scenario, dict[str, DeviceProfile]]:
    """A scenario file and its device profiles (``profiles``: that directory instead);
    :class:`CertifyError` naming the file otherwise."""
    try:
        scenario = load_scenario(path, profiles=profiles)
        return scenario, load_profiles(profiles or profiles_for(scenario, path.parent))
    except (ScenarioError, OSError) as error:
        raise CertifyError(f"{path}: {error}") from None
