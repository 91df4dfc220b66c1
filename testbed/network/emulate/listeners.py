"""TCP listeners on every asset's services, inside the services namespace.

One agent process (:mod:`testbed.network.emulate.agent`) binds every (address,
port) of the plan, says it is ready, and accepts connections until it is stopped or
its time runs out, so a run that dies cannot leave it listening for long.
"""

from __future__ import annotations

import json
import select
import subprocess
import sys
from pathlib import Path
from typing import IO, cast

from testbed.errors import EmulationError
from testbed.network.emulate.layout import Plan

__all__ = ["AGENT", "Listeners", "agent_command"]

AGENT = Path(__file__).with_name("agent.py")
"""The agent script, run by path (standard library only, ``python -I``)."""

#: how long the agent takes to bind its ports at most
READY_TIMEOUT = 10.0


def agent_command(namespace: str, mode: str) -> list[str]:
    """The command that runs the agent in ``mode`` inside ``namespace``."""
    return ["ip", "netns", "exec", namespace, sys.executable, "-I", str(AGENT), mode]


class Listeners:
    """The listening agent of one run."""

    def __init__(self, namespace: str, plan: Plan, *, max_seconds: float) -> None:
        ports = dict.fromkeys((str(f.target.address), f.port) for f in plan.flows)
        self._endpoints: list[tuple[str, int]] = list(ports)
        self._max_seconds = max_seconds
        self._namespace = namespace
        self._process: subprocess.Popen[str] | None = None

    @property
    def count(self) -> int:
        """How many (address, port) it listens on."""
        return len(self._endpoints)

    def start(self) -> None:
        """Start the agent and wait until every port is bound."""
        process = self._process = subprocess.Popen(
            agent_command(self._namespace, "listen"), stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        stdin, stdout = cast(IO[str], process.stdin), cast(IO[str], process.stdout)
        orders = {"endpoints": self._endpoints, "max_seconds": self._max_seconds}
        stdin.write(json.dumps(orders) + "\n")
        stdin.flush()
        ready, _, _ = select.select([stdout], [], [], READY_TIMEOUT)
        line = stdout.readline().strip() if ready else ""
        if line != f"ready {self.count}":
            said = self.stop()
            raise EmulationError(f"the listeners did not start: {line or 'no answer'} {said}")

    def stop(self) -> str:
        """Stop the agent (close its input; kill it if it does not leave); what it said
        on standard error."""
        process, self._process = self._process, None
        if process is None:
            return ""
        try:
            cast(IO[str], process.stdin).close()
            process.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            process.kill()
            process.wait()
        said = cast(IO[str], process.stderr).read().strip()
        cast(IO[str], process.stdout).close()
        cast(IO[str], process.stderr).close()
        return said
