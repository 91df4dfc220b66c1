"""The validation lab's CRL view: the hospital's CRL and the lab's revocations as one
set, without copying the hospital's (testbed/sim/preproduction.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from testbed.pki.revocation import PublishedCrl
from testbed.sim.preproduction import _LabCrls, _Listed

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
    # the set operators give plain frozensets, as on the union itself
    assert view | {0} == union | {0} and {0} | view == union | {0}
    assert view & crl == union & crl and view - lab == union - lab and view ^ lab == union ^ lab
    assert isinstance(view | {0}, frozenset)


def test_the_labs_crl_lists_its_revocations_without_copying_the_hospitals() -> None:
    """``_LabCrls.current``: the hospital's CRL with the lab's revocations on it, the
    hospital's serials kept as they are (a copy per failure test made onboarding a
    fleet quadratic); without lab revocations, the hospital's CRL itself."""
    now = datetime(2026, 1, 5, tzinfo=UTC)
    serials = frozenset(range(1, 100_001))  # a fleet's revoked test certificates
    published = PublishedCrl("issuing-north", now, now + timedelta(days=1), serials, None)

    class Hospital:
        def current(self, issuer_name: str) -> PublishedCrl | None:
            return published if issuer_name == "issuing-north" else None

    lab = _LabCrls(Hospital())
    assert lab.current("issuing-north") is published
    lab.revoked = frozenset({200_000})
    crl = lab.current("issuing-north")
    assert crl is not None and crl is not published
    assert isinstance(crl.serials, _Listed) and crl.serials._crl is serials  # not copied
    assert 200_000 in crl.serials and 5 in crl.serials and 0 not in crl.serials
    assert (crl.issuer, crl.this_update, crl.next_update) == ("issuing-north", now,
                                                             now + timedelta(days=1))
    assert lab.current("issuing-south") is None
