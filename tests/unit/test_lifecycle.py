"""The device lifecycle table: every allowed row, every refused pair, bad tables."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest

from testbed.errors import LifecycleError
from testbed.lifecycle import (
    ACTIVE_STATES,
    TRANSITIONS,
    DeviceState,
    Lifecycle,
    LifecycleEvent,
    Transition,
)

S, E = DeviceState, LifecycleEvent
Table = dict[tuple[DeviceState, LifecycleEvent], Transition]

ROWS = list(TRANSITIONS.values())
REFUSED = [
    (state, event)
    for state, event in itertools.product(DeviceState, LifecycleEvent)
    if (state, event) not in TRANSITIONS
]


def _label(row: Transition) -> str:
    return f"{row.source.value}-{row.event.value}"


@pytest.mark.parametrize("row", ROWS, ids=_label)
def test_every_row_of_the_table_moves_to_its_target(row: Transition) -> None:
    machine = Lifecycle(row.source)
    assert machine.allows(row.event)
    assert machine.apply(row.event) == row
    assert machine.state is row.target


@pytest.mark.parametrize("row", ROWS, ids=_label)
def test_every_row_cites_a_source(row: Transition) -> None:
    assert row.cites.strip()
    assert TRANSITIONS[(row.source, row.event)] is row


@pytest.mark.parametrize(("state", "event"), REFUSED, ids=lambda v: str(v))
def test_every_pair_outside_the_table_raises(state: DeviceState, event: LifecycleEvent) -> None:
    machine = Lifecycle(state)
    assert not machine.allows(event)
    with pytest.raises(LifecycleError) as raised:
        machine.apply(event)
    message = str(raised.value)
    assert repr(event.value) in message
    assert repr(state.value) in message
    assert machine.state is state  # a refused event changes nothing


def test_the_refusal_lists_what_is_allowed_here() -> None:
    with pytest.raises(LifecycleError, match=r"allowed here: \['enroll', 'offboard'\]"):
        Lifecycle(S.REGISTERED).apply(E.PROMOTE)


def test_retired_is_terminal() -> None:
    assert not [key for key in TRANSITIONS if key[0] is S.RETIRED]
    with pytest.raises(LifecycleError, match="terminal"):
        Lifecycle(S.RETIRED).apply(E.RESUME)


def test_the_happy_path_from_procurement_to_retirement() -> None:
    machine = Lifecycle()
    assert machine.state is S.PROCURED
    path = [E.REGISTER, E.ENROLL, E.VALIDATE, E.PROMOTE, E.SUSPEND, E.RESUME, E.OFFBOARD]
    states = [machine.apply(event).target for event in path]
    assert states == [
        S.REGISTERED, S.ENROLLED, S.VALIDATED, S.PRODUCTION, S.SUSPENDED, S.PRODUCTION, S.RETIRED,
    ]  # fmt: skip


def test_every_state_but_procured_and_retired_can_be_offboarded() -> None:
    can_offboard = {s for s in DeviceState if (s, E.OFFBOARD) in TRANSITIONS}
    assert can_offboard == set(DeviceState) - {S.PROCURED, S.RETIRED}


def test_active_states_hold_an_identity() -> None:
    assert S.SUSPENDED not in ACTIVE_STATES
    assert S.RETIRED not in ACTIVE_STATES
    assert S.PROCURED not in ACTIVE_STATES
    assert S.PRODUCTION in ACTIVE_STATES


# -- tables fed through Lifecycle(table=...) ------------------------------------------

_GOOD_ROW = TRANSITIONS[(S.PROCURED, E.REGISTER)]

BAD_TABLES = {
    "row leaving retired": {
        (S.RETIRED, E.RESUME): Transition(S.RETIRED, E.RESUME, S.PRODUCTION, "wishful thinking"),
    },
    "key does not match the row's source": {
        (S.REGISTERED, E.REGISTER): _GOOD_ROW,
    },
    "key does not match the row's event": {
        (S.PROCURED, E.ENROLL): _GOOD_ROW,
    },
    "row without a citation": {
        (S.PROCURED, E.REGISTER): replace(_GOOD_ROW, cites=""),
    },
    "bad row among good ones": {
        **TRANSITIONS,
        (S.RETIRED, E.REGISTER): Transition(S.RETIRED, E.REGISTER, S.REGISTERED, "re-use"),
    },
}


@pytest.mark.parametrize("table", BAD_TABLES.values(), ids=BAD_TABLES.keys())
def test_a_bad_table_is_refused(table: Table) -> None:
    with pytest.raises(LifecycleError):
        Lifecycle(table=table)


def test_bad_table_messages_name_the_problem() -> None:
    with pytest.raises(LifecycleError, match=r"retired is terminal.*'resume'"):
        Lifecycle(table=BAD_TABLES["row leaving retired"])
    with pytest.raises(LifecycleError, match="cites no source"):
        Lifecycle(table=BAD_TABLES["row without a citation"])
    with pytest.raises(LifecycleError, match="holds row"):
        Lifecycle(table=BAD_TABLES["key does not match the row's source"])


GOOD_TABLES = {
    "the default table": dict(TRANSITIONS),
    "a one-row table": {(S.PROCURED, E.REGISTER): _GOOD_ROW},
    "an empty table": {},
}


@pytest.mark.parametrize("table", GOOD_TABLES.values(), ids=GOOD_TABLES.keys())
def test_a_good_table_is_accepted(table: Table) -> None:
    machine = Lifecycle(table=table)
    assert machine.allows(E.REGISTER) is ((S.PROCURED, E.REGISTER) in table)


def test_a_custom_table_is_the_one_that_decides() -> None:
    machine = Lifecycle(table={(S.PROCURED, E.REGISTER): _GOOD_ROW})
    machine.apply(E.REGISTER)
    with pytest.raises(LifecycleError, match="none \\(terminal state\\)"):
        machine.apply(E.ENROLL)  # allowed by the default table, not by this one


def test_the_default_table_is_read_only() -> None:
    with pytest.raises(TypeError):
        TRANSITIONS[(S.RETIRED, E.RESUME)] = _GOOD_ROW  # type: ignore[index]
