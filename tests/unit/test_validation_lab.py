"""The validation lab's CRL view: the hospital's CRL and the lab's revocations as one
set, without copying the hospital's (testbed/sim/preproduction.py)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from testbed.sim.preproduction import _Listed

serials = st.frozensets(st.integers(min_value=1, max_value=2**64), max_size=30)


@given(crl=serials, lab=serials)
def test_the_view_is_the_union_of_both_lists(crl: frozenset[int], lab: frozenset[int]) -> None:
    view = _Listed(crl, lab)
    union = crl | lab
    assert view == union and union == view
    assert hash(view) == hash(union)  # the algorithm frozenset uses
    assert len(view) == len(union)
    assert sorted(view) == sorted(union)
    assert all(serial in view for serial in union)
    assert not any(serial in view for serial in (0, -1, 2**65))


def test_the_view_keeps_the_crl_it_was_given_not_a_copy() -> None:
    crl = frozenset(range(1, 100_001))  # a fleet's revoked test certificates
    view = _Listed(crl, frozenset({200_000}))
    assert view._crl is crl
    assert 200_000 in view and 5 in view and 0 not in view
