"""The daily drift scan of the network's policy: rules outside change control and
exception reviews overdue (:mod:`testbed.network.register`).

Each finding is one ``drift-detected`` event (and one drift alert) when first found:
a rule outside change control with how long it had been in force
(``exposed_minutes``), an overdue review with how late it is (``overdue_minutes``)
and its lead time (``lead_minutes``: until the exception expires).  A rule removed
and added again is found again.  The scan runs only in scenarios that can have such
drift (a design with exceptions, or a ``policy-drift`` fault), so other runs'
timelines are unchanged.
"""

from __future__ import annotations

from collections.abc import Generator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from testbed.events import EventKind
from testbed.faults import PolicyDrift
from testbed.network.blocks import Route
from testbed.network.policy import DesignPolicy
from testbed.network.register import NetworkDrift, overdue_reviews

if TYPE_CHECKING:
    from testbed.scenario import Scenario
    from testbed.sim.context import SimContext

__all__ = ["network_drift_scans", "scans_network"]


def scans_network(scenario: Scenario) -> bool:
    """Whether a run of ``scenario`` can have network drift to find."""
    return scenario.design is not None or any(isinstance(f, PolicyDrift) for f in scenario.faults)


def network_drift_scans(sim: SimContext, *, every: float) -> Generator[Any, Any, None]:
    """Scan every ``every`` seconds until the horizon."""
    alerted_rules: set[Route] = set()
    alerted_reviews: set[str] = set()
    while sim.env.now + every < sim.horizon:
        yield sim.env.timeout(every)
        found = _rules(sim, alerted_rules) + _reviews(sim, alerted_reviews)
        sim.metrics.drift_alerts += found


def _minutes(since: datetime, now: datetime) -> float:
    return round((now - since).total_seconds() / 60, 3)


def _rules(sim: SimContext, alerted: set[Route]) -> int:
    now = sim.now()
    unapproved = sim.hospital.policy.unapproved
    alerted &= set(unapproved)  # a rule removed and added again is found again
    new = [(route, added) for route, added in unapproved.items() if route not in alerted]
    for (zone, service, site), added in new:
        where = "" if site is None else f"@{site}"
        sim.log.emit(now, EventKind.DRIFT_DETECTED, f"{zone}->{service}{where}",
                    drift=NetworkDrift.RULE_OUTSIDE_CHANGE_CONTROL.value,
                    detail=f"zone {zone!r} may reach {service!r} by a rule no change approved",
                    exposed_minutes=_minutes(added, now))  # fmt: skip
        alerted.add((zone, service, site))
    return len(new)


def _reviews(sim: SimContext, alerted: set[str]) -> int:
    policy = sim.hospital.policy
    if not isinstance(policy, DesignPolicy):
        return 0
    now = sim.now()
    new = [e for e in overdue_reviews(policy.design, now=now, expired=policy.expired)
           if e.id not in alerted]  # fmt: skip
    for exception in new:
        sim.log.emit(now, EventKind.DRIFT_DETECTED, f"exception:{exception.id}",
                    drift=NetworkDrift.EXCEPTION_REVIEW_OVERDUE.value,
                    detail=f"owner {exception.owner}: review due "
                           f"{exception.review:%Y-%m-%d}, expires {exception.expires:%Y-%m-%d}",
                    overdue_minutes=_minutes(exception.review, now),
                    lead_minutes=_minutes(now, exception.expires))  # fmt: skip
        alerted.add(exception.id)
    return len(new)
