"""Allowances that stand: a device's steady-state traffic, decided once per change.

Between two changes of what the hops read, a device's daily deliveries all get the
same allowance.  A :class:`Standing` keeps the allowance one attempt last got, and
the :class:`~testbed.access.AccessPoint` gives it again, without walking the hops,
while all of these hold (every one is checked at every delivery given one at a time,
and once for all of a device's given together, below):

- the device's inventory entry is the same object at the same ``version`` (its
  lifecycle state, current serial and test serials: :class:`~testbed.inventory.Inventory`
  bumps it on every change);
- the hospital's :class:`~testbed.revision.Revision` is unchanged (NAC, route policy,
  service outages, trust distribution and CRL distribution bump it on every change
  that could alter a decision);
- ``now`` is before ``until``, the earliest time at which a hop's pass could change
  with nothing else changing (:meth:`TimedHop.until`: the TLS hop's certificate and
  CA windows, the next trust bundle arriving at the service's site);
- ``now`` is before every *deadline* (:meth:`TimedHop.deadlines`), whose value a
  routine refresh moves later without changing anything else: the nextUpdate of the
  issuer's current CRL (a reissue that lists the same serials and expires later does
  not move the revision; CRLs are published at their thisUpdate).  Since a deadline
  only moves later while the revision stands, the earliest value read (``due``)
  bounds them all: the deadlines are read again only once ``now`` reaches it.

A decision is a function of the attempt, those facts and the time, so the walk would
give the same decision; the event, the listeners (metrics, the oracle, which judges
every allowance afresh) and everything else run as for a walked decision (but a
listener subscribed with ``again=False``: its effect was the establishing walk's, such
as marking the serial used).  Only
allowances stand: a refusal is walked every time.  ``AccessPoint.check_standing``
walks anyway and raises :class:`StandingError` on any difference; the tests run every
shipped scenario and generated ones that way.

A device in steady state gets every one of its services' allowances again at each
turn.  Given one by one, each still looks up the entry, builds a context and calls
every listener: a dozen objects per decision, which lie apart in memory in a large
fleet.  A :class:`Steady` gathers, once, what one device's standing allowances have
in common: its entry and ``version``, the ``revision``, the earliest ``due`` of them
all, each one's event data, and a token from each listener's :class:`SteadyHook`
(nothing for it to do but count while the token holds).
:meth:`AccessPoint.again <testbed.access.AccessPoint.again>` gives them all again
while those terms hold: the same events in the same order, the same counts.  The
traffic engine settles a device's turn after one in which every allowance was
allowed and stands (one just walked too: its deadlines are read then), and decides
each attempt again the moment a term fails.  ``check_standing`` walks
each one given this way too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from testbed.decisions import Decision
from testbed.errors import StandingError
from testbed.events import Value

# imported at run time, not only for type checking: compiled with mypyc
# (benchmarks.compiled), a dataclass's field types must resolve when it is built
from testbed.inventory import InventoryEntry
from testbed.pki.ca import IssuanceRecord
from testbed.pki.leaf import LeafFacts

if TYPE_CHECKING:
    from testbed.access import AccessContext, Attempt

__all__ = [
    "ALWAYS_QUIET",
    "Deadline",
    "Standing",
    "StandingError",
    "Steady",
    "SteadyHook",
    "TimedHop",
]


Deadline = Callable[[], datetime | None]
"""The current value of a deadline that routine refreshes move later (None: none now)."""


class TimedHop(Protocol):
    """A hop whose pass can end with time alone (no state change)."""

    def until(self, context: AccessContext) -> datetime | None:
        """The earliest time at which this hop could decide ``context``'s attempt
        otherwise, nothing changing (None: never by time alone)."""
        ...

    def deadlines(self, context: AccessContext) -> tuple[Deadline, ...]:
        """Deadlines of this hop's pass that a routine refresh (no revision change)
        moves later: the pass holds while ``now`` is before each one's current value."""
        ...


@dataclass(slots=True)
class Standing:
    """One attempt's last allowance and the terms on which it stands.

    ``deserved`` belongs to the ground-truth oracle (:class:`~testbed.oracle.Oracle`):
    the epoch of the facts at which it last found this allowance deserved, -1 when
    it has not since the allowance was established.
    """

    decision: Decision | None = None
    values: tuple[Value, ...] = ()  # its event's data
    entry: InventoryEntry | None = None
    leaf: LeafFacts | None = None
    record: IssuanceRecord | None = None
    version: int = -1
    revision: int = -1
    until: datetime | None = None
    deadlines: tuple[Deadline, ...] = ()
    due: datetime | None = None  # min(until, each deadline's value when last read)
    deserved: int = -1

    def holds(self, entry: InventoryEntry | None, revision: int, now: datetime) -> bool:
        """Whether the allowance stands for ``entry`` at ``revision`` and ``now``."""
        if (
            entry is not self.entry
            or entry is None
            or entry.version != self.version
            or revision != self.revision
        ):
            return False
        due = self.due
        return (due is not None and now < due) or self._read(now)

    def _read(self, now: datetime) -> bool:
        """Whether ``now`` is before ``until`` and every deadline's current value (read
        now, the earliest kept as ``due``)."""
        until = self.until
        if self.decision is None or until is None or now >= until:
            return False
        due = until
        for deadline in self.deadlines:
            current = deadline()
            if current is None or now >= current:
                return False
            due = min(due, current)
        self.due = due
        return True

    def clear(self) -> None:
        """Nothing stands (the attempt was refused)."""
        self.decision = None
        self.due = None


#: a :class:`SteadyHook`'s token that needs no asking: quiet for as long as the terms hold
ALWAYS_QUIET = object()


class SteadyHook(Protocol):
    """A decision listener's part in a :class:`Steady` turn: when hearing allowances
    again changes nothing but its counts, it says so once and is then told how many."""

    def settle(
        self, decided: Sequence[tuple[AccessContext, Decision]]
    ) -> tuple[object, datetime | None] | None:
        """A token for hearing every one of ``decided`` (allowances that stand, each
        with its context) again, and the time from which it may not hold by time
        alone (None: none); None when hearing them again could do more than count.
        :data:`ALWAYS_QUIET`: quiet as long as the other terms hold (never asked)."""
        ...

    def quiet(self, token: object, now: datetime) -> bool:
        """Whether hearing them again at ``now`` (before the time :meth:`settle`
        gave) still only counts."""
        ...

    def heard(self, count: int) -> None:
        """``count`` allowances were given again while :meth:`quiet`."""
        ...


@dataclass(slots=True, eq=False)
class Steady:
    """One device's allowances that all stand, given again together while ``entry``
    stays at ``version``, the revision at ``revision``, ``now`` before ``due`` (the
    earliest of the allowances' ``due`` and the hooks' ``until``), each hook of
    ``asks`` :meth:`~SteadyHook.quiet` with its token, and ``hooks`` are the access
    point's.  Once ``now`` reaches ``due``, the allowances' deadlines are read again
    (as deciding each would) and ``due`` moves to their new earliest.  ``values`` are
    their events' data in the order they are given; ``attempts`` the attempts with
    their standings.  ``entry`` is the inventory's entry of the device for good (an
    :class:`~testbed.inventory.Inventory` never replaces or removes one), so its
    version is all that is read of it."""

    device_id: str
    entry: InventoryEntry
    version: int
    revision: int
    due: datetime
    until: datetime | None
    values: tuple[tuple[Value, ...], ...]
    hooks: tuple[SteadyHook, ...]
    asks: tuple[tuple[SteadyHook, object], ...]
    attempts: tuple[tuple[Attempt, Standing], ...]
