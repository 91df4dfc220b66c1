"""The registry of fault effects: one per fault kind, looked up by kind."""

from __future__ import annotations

from typing import get_args

import pytest

from testbed.faults import FaultKind, FaultSpec
from testbed.sim.effects import EFFECTS, effect_for


def test_every_fault_kind_has_an_effect() -> None:
    assert set(EFFECTS) == set(FaultKind)


def test_every_fault_spec_has_a_kind_of_its_own() -> None:
    kinds = [spec.__dataclass_fields__["kind"].default for spec in get_args(FaultSpec)]
    assert sorted(kinds) == sorted(FaultKind)


def test_a_kind_is_looked_up_to_its_effect() -> None:
    assert effect_for(FaultKind.CA_OUTAGE) is EFFECTS[FaultKind.CA_OUTAGE]


def test_a_kind_without_an_effect_is_named_with_the_registered_kinds() -> None:
    only = {FaultKind.BLOCKED_ROUTE: EFFECTS[FaultKind.BLOCKED_ROUTE]}
    with pytest.raises(LookupError) as raised:
        effect_for(FaultKind.CLOCK_SKEW, only)
    assert str(raised.value) == (
        "no effect registered for fault kind 'clock-skew'; registered: blocked-route"
    )
