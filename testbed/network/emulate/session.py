"""One emulation from build to teardown: namespaces, ruleset, listeners, probes, compare.

:func:`emulate` checks the host, builds everything under a fresh name prefix, lets
an optional hook act on the built network (:class:`Built`: a test deletes an
nftables element behind the model's back, or raises), probes every flow, and
removes everything in a ``finally`` that signals cannot interrupt
(:mod:`testbed.network.emulate.signals`).  It times each stage for the benchmark.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise

from testbed.network.catalog import Catalog
from testbed.network.emulate.drift import Comparison, compare
from testbed.network.emulate.host import require, run
from testbed.network.emulate.layout import Plan
from testbed.network.emulate.listeners import Listeners
from testbed.network.emulate.namespaces import Namespaces, new_prefix
from testbed.network.emulate.probe import probe
from testbed.network.emulate.ruleset import Ruleset, compile_ruleset
from testbed.network.emulate.signals import interruptible

__all__ = ["Built", "Emulated", "Timings", "emulate"]

#: how long the listeners live at most if nothing stops them
LISTENER_LIFETIME = 600.0


@dataclass(frozen=True, slots=True)
class Timings:
    """Wall seconds of each stage."""

    namespaces: float
    ruleset: float
    listeners: float
    probe: float
    teardown: float


@dataclass(frozen=True, slots=True)
class Built:
    """The network as built, before the probes (what a hook may act on)."""

    plan: Plan
    ruleset: Ruleset
    namespaces: Namespaces

    def nft(self, command: str) -> str:
        """Run one ``nft`` command in the services namespace (``list ruleset``,
        ``delete element inet testbed allow { ... }``)."""
        return run(["ip", "netns", "exec", self.namespaces.services, "nft",
                    *shlex.split(command)])  # fmt: skip


@dataclass(frozen=True, slots=True)
class Emulated:
    """An emulation's outcome: the comparison, the ruleset loaded, the timings."""

    plan: Plan
    ruleset: Ruleset
    comparison: Comparison
    timings: Timings
    prefix: str


def emulate(
    plan: Plan,
    *,
    timeout: float = 1.0,
    parallel: int = 64,
    catalog: Catalog | None = None,
    before_probe: Callable[[Built], None] | None = None,
) -> Emulated:
    """Build ``plan`` in namespaces, probe every flow, compare, remove everything."""
    require()
    ruleset = compile_ruleset(plan, catalog=catalog)
    namespaces = Namespaces(new_prefix())
    listeners = Listeners(namespaces.services, plan, max_seconds=LISTENER_LIFETIME)
    marks = [time.perf_counter()]
    with interruptible() as guard:
        try:
            namespaces.build(plan)
            marks.append(time.perf_counter())
            run(["ip", "netns", "exec", namespaces.services, "nft", "-f", "-"],
                stdin=ruleset.text())  # fmt: skip
            marks.append(time.perf_counter())
            listeners.start()
            marks.append(time.perf_counter())
            if before_probe is not None:
                before_probe(Built(plan, ruleset, namespaces))
            started = time.perf_counter()
            outcomes = probe(namespaces, plan, timeout=timeout, parallel=parallel)
            marks.append(time.perf_counter())
        finally:
            with guard.cleaning():
                cleaning = time.perf_counter()
                listeners.stop()
                namespaces.remove()
                done = time.perf_counter()
    build, load, listen = (b - a for a, b in pairwise(marks[:4]))
    timings = Timings(build, load, listen, marks[4] - started, done - cleaning)
    return Emulated(plan, ruleset, compare(plan, ruleset, outcomes), timings, namespaces.prefix)
