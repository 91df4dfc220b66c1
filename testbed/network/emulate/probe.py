"""Real TCP connects from every source to every target port, one agent per zone namespace.

The agents run at once (one process per zone namespace); each connects from its
sources' addresses, a bounded number at a time, each connect bounded in time, so a
probe of ``n`` flows ends within about ``n / parallel * timeout`` seconds at worst
(a refused flow takes milliseconds: the ruleset answers with a TCP reset).
"""

from __future__ import annotations

import json
import subprocess
from enum import StrEnum
from typing import IO, cast

from testbed.errors import EmulationError
from testbed.network.emulate.layout import Flow, Plan
from testbed.network.emulate.listeners import agent_command
from testbed.network.emulate.namespaces import Namespaces

__all__ = ["Outcome", "probe"]


class Outcome(StrEnum):
    """What a TCP connect met in the kernel."""

    OPEN = "open"  # the handshake completed: the listener answered
    REFUSED = "refused"  # a reset: the ruleset refused it
    TIMEOUT = "timeout"  # no answer within the timeout (dropped, or no route)
    ERROR = "error"  # anything else (the agent says which errno)


def probe(
    namespaces: Namespaces, plan: Plan, *, timeout: float, parallel: int
) -> dict[Flow, tuple[Outcome, str]]:
    """The outcome of every flow of ``plan`` (and the agent's word for it)."""
    jobs: list[tuple[list[Flow], subprocess.Popen[str]]] = []
    try:
        for link in plan.links:
            flows = [f for f in plan.flows if f.source.link == link]
            orders = {"flows": [[str(f.source.address), str(f.target.address), f.port]
                                for f in flows],
                      "timeout": timeout, "parallel": parallel}  # fmt: skip
            process = subprocess.Popen(
                agent_command(namespaces.zone(link), "probe"), stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )  # fmt: skip
            jobs.append((flows, process))
            stdin = cast(IO[str], process.stdin)
            stdin.write(json.dumps(orders) + "\n")
            stdin.flush()  # one line is all it reads; communicate() closes it
        results: dict[Flow, tuple[Outcome, str]] = {}
        for flows, process in jobs:
            bound = timeout * (len(flows) / parallel + 1) + 30.0
            out, err = process.communicate(timeout=bound)
            if process.returncode != 0:
                failed = f"the probe agent failed ({process.returncode}): {err.strip()}"
                raise EmulationError(failed)
            for flow, said in zip(flows, json.loads(out), strict=True):
                results[flow] = (_outcome(said), said)
        return results
    finally:
        for _, process in jobs:
            if process.poll() is None:
                process.kill()
                process.communicate()


def _outcome(said: str) -> Outcome:
    try:
        return Outcome(said)
    except ValueError:
        return Outcome.ERROR
