"""The namespaces of an emulation: built from a plan with ``ip``, removed by name.

Every name starts with the run's prefix (``tb``, or the environment's
``TESTBED_NETNS_PREFIX``, and 8 random hex digits), so two runs never meet and
:meth:`Namespaces.remove` finds whatever a run left, even after a build that failed
half way.  Interfaces and the nftables table live inside the namespaces, so removing
the namespaces removes them too; nothing is created in the host's own namespace.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterable

from testbed.errors import EmulationError
from testbed.network.emulate.host import run
from testbed.network.emulate.layout import Plan, ZoneLink

__all__ = ["PREFIX_VARIABLE", "Namespaces", "new_prefix"]

PREFIX_VARIABLE = "TESTBED_NETNS_PREFIX"
"""The environment variable that names the start of every namespace (default ``tb``):
to tell apart the runs of several users or jobs on one host."""

_PREFIX = re.compile(r"[a-z][a-z0-9]{0,15}")


def new_prefix() -> str:
    """A name prefix no other run uses: the chosen start and 8 random hex digits."""
    start = os.environ.get(PREFIX_VARIABLE, "tb")
    if not _PREFIX.fullmatch(start):
        raise EmulationError(f"{PREFIX_VARIABLE}={start!r}: expected a lowercase letter "
                             "then up to 15 lowercase letters or digits")  # fmt: skip
    return f"{start}{secrets.token_hex(4)}"


class Namespaces:
    """The namespaces of one run (``PREFIX-svc`` and ``PREFIX-z<N>``)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    @property
    def services(self) -> str:
        """The services namespace: every asset, the routing and the filter."""
        return f"{self.prefix}-svc"

    def zone(self, link: ZoneLink) -> str:
        """The namespace of one (site, zone)."""
        return f"{self.prefix}-{link.name}"

    def build(self, plan: Plan) -> None:
        """Create the namespaces, links and addresses of ``plan``."""
        names = [self.services, *(self.zone(link) for link in plan.links)]
        _batch(None, (f"netns add {name}" for name in names))
        services = ["link set lo up"]
        services += [f"addr add {t.address}/32 dev lo" for t in plan.targets]
        for link in plan.links:
            services += [
                f"link add {link.name} type veth peer name eth0 netns {self.zone(link)}",
                f"addr add {link.gateway}/24 dev {link.name}",
                f"link set {link.name} up",
            ]
        _batch(self.services, services)
        for link in plan.links:
            zone = ["link set lo up", f"addr add {link.address}/24 dev eth0"]
            zone += [f"addr add {s.address}/24 dev eth0" for s in plan.sources if s.link == link]
            zone += ["link set eth0 up", f"route add default via {link.gateway}"]
            _batch(self.zone(link), zone)

    def existing(self) -> list[str]:
        """This run's namespaces the kernel holds now."""
        listed = run(["ip", "netns", "list"]).splitlines()
        names = [line.split()[0] for line in listed if line.strip()]
        return [name for name in names if name.startswith(f"{self.prefix}-")]

    def remove(self) -> None:
        """Delete every namespace of this run (their links and rules go with them);
        raise if one stays."""
        for name in self.existing():
            run(["ip", "netns", "delete", name])
        left = self.existing()
        if left:
            raise EmulationError(f"namespaces left behind: {', '.join(left)}")


def _batch(namespace: str | None, commands: Iterable[str]) -> None:
    """Run ``ip`` commands as one batch (in ``namespace``, if given)."""
    argv = ["ip"] if namespace is None else ["ip", "-n", namespace]
    run([*argv, "-batch", "-"], stdin="\n".join(commands) + "\n")
