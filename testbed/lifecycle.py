"""The device lifecycle as a transition table (after pynetdicom's ``fsm``).

States and events are enums; :data:`TRANSITIONS` maps ``(state, event)`` to the next
state, each row citing its source.  An event that the table does not allow in the
current state raises :class:`~testbed.errors.LifecycleError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from testbed.errors import LifecycleError

__all__ = ["TRANSITIONS", "DeviceState", "Lifecycle", "LifecycleEvent", "Transition"]


class DeviceState(StrEnum):
    """Where a device stands, from procurement to retirement."""

    PROCURED = "procured"
    REGISTERED = "registered"
    ENROLLED = "enrolled"
    VALIDATED = "validated"
    PRODUCTION = "production"
    SUSPENDED = "suspended"
    RETIRED = "retired"


class LifecycleEvent(StrEnum):
    """What moves a device between states."""

    REGISTER = "register"
    ENROLL = "enroll"
    VALIDATE = "validate"
    PROMOTE = "promote"
    SUSPEND = "suspend"
    RESUME = "resume"
    OFFBOARD = "offboard"


@dataclass(frozen=True, slots=True)
class Transition:
    """One row of the table: ``source --event--> target``, with where it comes from."""

    source: DeviceState
    event: LifecycleEvent
    target: DeviceState
    cites: str


S, E = DeviceState, LifecycleEvent
_SEED = "seed article §7"

_ROWS: tuple[Transition, ...] = (
    Transition(S.PROCURED, E.REGISTER, S.REGISTERED, f"{_SEED} step 1: register before connection"),
    Transition(S.REGISTERED, E.ENROLL, S.ENROLLED, f"{_SEED} step 2; RFC 7030 §4.2.1 simpleenroll"),
    Transition(S.ENROLLED, E.VALIDATE, S.VALIDATED, f"{_SEED} step 3: validate before production"),
    Transition(S.VALIDATED, E.PROMOTE, S.PRODUCTION, f"{_SEED} step 3: production routing"),
    Transition(S.PRODUCTION, E.SUSPEND, S.SUSPENDED, "seed §8: incident containment"),
    Transition(S.SUSPENDED, E.RESUME, S.PRODUCTION, "seed §8: incident closed"),
    Transition(S.REGISTERED, E.OFFBOARD, S.RETIRED, "seed §2: every onboarding has an offboarding"),
    Transition(S.ENROLLED, E.OFFBOARD, S.RETIRED, "seed §2: offboarding path"),
    Transition(S.VALIDATED, E.OFFBOARD, S.RETIRED, "seed §2: offboarding path"),
    Transition(S.PRODUCTION, E.OFFBOARD, S.RETIRED, "seed §2: offboarding path"),
    Transition(S.SUSPENDED, E.OFFBOARD, S.RETIRED, "seed §2: offboarding path"),
)

TRANSITIONS: Mapping[tuple[DeviceState, LifecycleEvent], Transition] = MappingProxyType(
    {(row.source, row.event): row for row in _ROWS}
)

#: States in which a device holds (or may obtain) an operational identity.
ACTIVE_STATES = frozenset({S.REGISTERED, S.ENROLLED, S.VALIDATED, S.PRODUCTION})


class Lifecycle:
    """A state machine over a transition table (the default table unless given)."""

    def __init__(
        self,
        state: DeviceState = DeviceState.PROCURED,
        *,
        table: Mapping[tuple[DeviceState, LifecycleEvent], Transition] = TRANSITIONS,
    ) -> None:
        if table is not TRANSITIONS:  # the default (read-only) table is checked on import
            _check_table(table)
        self.state = state
        self._table = table

    def allows(self, event: LifecycleEvent) -> bool:
        """Whether ``event`` is allowed in the current state."""
        return (self.state, event) in self._table

    def apply(self, event: LifecycleEvent) -> Transition:
        """Move to the next state, or raise :class:`LifecycleError`."""
        row = self._table.get((self.state, event))
        if row is None:
            allowed = sorted(e.value for (s, e) in self._table if s is self.state)
            raise LifecycleError(
                f"event {event.value!r} is not allowed in state {self.state.value!r}; "
                f"allowed here: {allowed or 'none (terminal state)'}"
            )
        self.state = row.target
        return row


def _check_table(table: Mapping[tuple[DeviceState, LifecycleEvent], Transition]) -> None:
    """Refuse a table whose keys and rows disagree, or that leaves retirement."""
    for (source, event), row in table.items():
        if (row.source, row.event) != (source, event):
            raise LifecycleError(f"table key {(source.value, event.value)} holds row {row}")
        if source is DeviceState.RETIRED:
            raise LifecycleError(f"retired is terminal, but the table leaves it by {event.value!r}")
        if not row.cites:
            raise LifecycleError(f"row {source.value} --{event.value}--> cites no source")


_check_table(TRANSITIONS)
