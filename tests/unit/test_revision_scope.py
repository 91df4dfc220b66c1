"""A change that only some devices' attempts read lets go of their allowances alone
(testbed/revision.py): NAC admission, a CRL listing other serials, a PACS allow-list.

Each test has an allowance of one device stand, changes a fact, and decides with the
standing allowance again: the devices the change concerns are walked (and refused
where the change says so), the others' allowances stand; ``check_standing`` walks
every standing decision too and would raise on any difference.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from testbed.access import Attempt
from testbed.pki.modeled import ModeledArtefacts
from testbed.pki.revocation import CrlDistribution, PublishedCrl
from testbed.revision import Revision
from testbed.standing import Standing

NOW = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def test_the_counters() -> None:
    revision = Revision()
    revision.bump()
    assert (revision.value, revision.changes) == (1, 1)
    revision.outside_hops()
    assert (revision.value, revision.changes) == (1, 2)
    revision.devices_changed(["a"])  # no scope: everyone's allowances go
    assert (revision.value, revision.changes) == (2, 3)
    touched: list[str] = []
    revision.scope(touched.append)
    revision.devices_changed(["a", "b"])
    assert (revision.value, revision.changes, touched) == (2, 4, ["a", "b"])


class _Journal:
    def __init__(self) -> None:
        self.saved: list[str] = []

    def save(self, entry: Any) -> None:
        self.saved.append(entry.record.device_id)


def test_a_touch_moves_the_entry_version_and_writes_nothing(
    make_hospital: Callable[..., Any],
) -> None:
    """No fact changed: a durable store is not written (a crash-consistency property:
    a live restart admits its kept devices again, outside any answered operation)."""
    hospital = make_hospital(artefacts=ModeledArtefacts())
    hospital.register("ct-1")
    entry = hospital.inventory.entry("ct-1")
    journal = _Journal()
    hospital.inventory._journal = journal
    before = entry.version
    hospital.inventory.touch("ct-1")
    hospital.inventory.touch("nobody")  # unknown: nothing
    assert entry.version == before + 1
    assert journal.saved == []


def _two_standing(make_hospital: Callable[..., Any]) -> tuple[Any, dict[str, Any]]:
    """ct-1 and ct-2 in production, each with an allowance standing at pacs-north."""
    hospital = make_hospital(artefacts=ModeledArtefacts())
    certs = {d: hospital.onboard(d) for d in ("ct-1", "ct-2")}
    hospital.publish_crls(now=NOW)
    hospital.access.check_standing = True
    standings = {d: Standing() for d in certs}
    for device, cert in certs.items():
        attempt = Attempt(device, "pacs-north", cert, ("north", "imaging"))
        assert hospital.access.decide(attempt, now=NOW, standing=standings[device]).allowed
    return hospital, {"certs": certs, "standings": standings}


def _again(hospital: Any, held: dict[str, Any], device: str, now: datetime) -> Any:
    attempt = Attempt(device, "pacs-north", held["certs"][device], ("north", "imaging"))
    return hospital.access.decide(attempt, now=now, standing=held["standings"][device])


def test_taking_a_device_off_the_network_lets_go_of_its_allowances_alone(
    make_hospital: Callable[..., Any],
) -> None:
    hospital, held = _two_standing(make_hospital)
    value = hospital.root.revision.value
    hospital.nac.remove("ct-1")
    assert hospital.root.revision.value == value  # nobody else's decisions read it
    stood = hospital.access.stood
    refused = _again(hospital, held, "ct-1", NOW + HOUR)
    assert not refused.allowed and refused.reason.value == "route-blocked"
    assert _again(hospital, held, "ct-2", NOW + HOUR).allowed
    assert hospital.access.stood == stood + 1  # ct-2's stood; ct-1's was walked


def test_registering_a_device_leaves_the_others_allowances_standing(
    make_hospital: Callable[..., Any],
) -> None:
    hospital, held = _two_standing(make_hospital)
    value, stood = hospital.root.revision.value, hospital.access.stood
    hospital.onboard("ct-3", now=NOW + HOUR)  # NAC admits it; nothing else moves
    assert hospital.root.revision.value == value
    assert _again(hospital, held, "ct-1", NOW + 2 * HOUR).allowed
    assert hospital.access.stood == stood + 1


def test_a_crl_listing_a_revoked_serial_lets_go_of_its_holders_allowances_alone(
    make_hospital: Callable[..., Any],
) -> None:
    hospital, held = _two_standing(make_hospital)
    hospital.ca.revoke(held["certs"]["ct-1"].serial_number, now=NOW + HOUR)
    value, stood = hospital.root.revision.value, hospital.access.stood
    hospital.publish_crls(now=NOW + HOUR)  # the same times ahead: only the serials differ
    assert hospital.root.revision.value == value
    refused = _again(hospital, held, "ct-1", NOW + 2 * HOUR)
    assert not refused.allowed and refused.reason.value == "cert-revoked"
    assert _again(hospital, held, "ct-2", NOW + 2 * HOUR).allowed
    assert hospital.access.stood == stood + 1


def _crl(serials: frozenset[int], *, hours: int = 0, next_update: int = 24) -> PublishedCrl:
    return PublishedCrl("issuing", NOW + hours * HOUR, NOW + next_update * HOUR, serials, None)


@pytest.mark.parametrize(
    ("second", "holders", "value_moves", "touched"),
    [
        (_crl(frozenset({1}), hours=1, next_update=25), {1: "a"}, False, ["a"]),
        (_crl(frozenset({1}), hours=1, next_update=25), {}, True, []),  # nobody's serial
        (_crl(frozenset({1}), hours=1, next_update=20), {1: "a"}, True, []),  # expires sooner
        (_crl(frozenset(), hours=1, next_update=25), {}, False, []),  # routine reissue
    ],
)
def test_what_a_crl_reissue_moves(
    second: PublishedCrl, holders: dict[int, str], value_moves: bool, touched: list[str]
) -> None:
    revision, seen = Revision(), []
    revision.scope(seen.append)
    distribution = CrlDistribution(revision=revision, holder=holders.get)
    distribution.publish(_crl(frozenset()))
    first = revision.value
    distribution.publish(second)
    assert (revision.value > first) is value_moves
    assert seen == touched


def test_without_a_holder_a_crl_listing_other_serials_moves_everyone() -> None:
    revision = Revision()
    revision.scope(lambda device: None)
    distribution = CrlDistribution(revision=revision)
    distribution.publish(_crl(frozenset()))
    first = revision.value
    distribution.publish(_crl(frozenset({7}), hours=1, next_update=25))
    assert revision.value > first
