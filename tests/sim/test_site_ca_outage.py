"""An outage of one site's issuing CA (per-site issuing): that site's devices cannot
renew and its CRLs stop, while the other site's devices and CRLs carry on.

The base scenario (``tests/sim/conftest.py``) with one more device, at south, and an
issuing CA per site: 2-day certificates renewed after a day, CRLs every 12 hours.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from testbed.events import EventKind

if TYPE_CHECKING:
    from testbed.runner import RunResult
    from tests.sim.conftest import Sim

CT_1, CT_2 = "ct-ai-onbox-north-001", "ct-ai-onbox-north-002"
CT_SOUTH = "ct-ai-onbox-south-001"
NORTH_CA, SOUTH_CA = "Hospital Issuing CA north-g1", "Hospital Issuing CA south-g1"


def _run(sim: type[Sim], *faults: dict[str, str]) -> RunResult:
    north = {"profile": "ct-ai-onbox", "count": 2, "site": "north", "zone": "imaging",
             "owner": "radiology"}  # fmt: skip
    south = {**north, "count": 1, "site": "south"}
    return sim.run(faults=list(faults), fleet=[north, south], pki={"issuing": "per-site"})


def _crls(sim: type[Sim], result: RunResult, issuer: str) -> list[object]:
    return [e.time for e in sim.of_kind(result, EventKind.CRL_PUBLISHED, issuer)]


def test_renewals_are_missed_at_the_down_site_only(sim: type[Sim]) -> None:
    outage = {"kind": "ca-outage", "target": "site:north", "start": "13h", "end": "3d1h"}
    result = _run(sim, outage)
    expired = sim.of_kind(result, EventKind.CERTIFICATE_EXPIRED)
    assert sorted(e.subject for e in expired) == [CT_1, CT_2]
    assert result.report.measures["renewals_missed"] == 2
    refused = sim.of_kind(result, EventKind.ENROLLMENT_REFUSED)
    assert refused and {e.subject for e in refused} == {CT_1, CT_2}
    assert {(e.data["status"], e.data["reason"]) for e in refused} == {(503, "ca-unavailable")}
    assert all(sim.at("13h") <= e.time < sim.at("3d1h") for e in refused)
    renewed = [e.time for e in sim.of_kind(result, EventKind.CERTIFICATE_RENEWED, CT_SOUTH)]
    assert any(sim.at("13h") <= t < sim.at("3d1h") for t in renewed)  # south carries on
    assert sim.reasons_between(sim.decisions(result, CT_SOUTH), sim.at("0d"), sim.at("6d")) == {
        "ok"
    }
    assert result.report.measures["recovered"] == 1


def test_the_down_sites_crls_stop_and_the_others_go_on(sim: type[Sim]) -> None:
    outage = {"kind": "ca-outage", "target": "site:north", "start": "13h", "end": "3d1h"}
    result = _run(sim, outage)
    north, south = _crls(sim, result, NORTH_CA), _crls(sim, result, SOUTH_CA)
    assert not [t for t in north if sim.at("13h") <= t < sim.at("3d1h")]
    assert sim.at("3d1h") in north  # published as soon as it is back
    during = [t for t in south if sim.at("13h") <= t < sim.at("3d1h")]
    assert during == [sim.at(f"{h}h") for h in range(24, 73, 12)]  # every 12 hours
    assert sim.at("3d1h") not in south  # the heal publishes the site's CRLs only


def test_a_whole_ca_outage_ending_during_a_site_outage_publishes_the_other_sites(
    sim: type[Sim],
) -> None:
    site = {"kind": "ca-outage", "target": "site:north", "start": "13h", "end": "2d1h"}
    whole = {"kind": "ca-outage", "start": "14h", "end": "1d1h"}
    result = _run(sim, site, whole)
    north, south = _crls(sim, result, NORTH_CA), _crls(sim, result, SOUTH_CA)
    assert sim.at("1d1h") in south and sim.at("1d1h") not in north
    assert sim.at("2d1h") in north
    assert not [t for t in north if sim.at("13h") <= t < sim.at("2d1h")]


def test_an_operator_finds_only_the_down_sites_ca_down(sim: type[Sim]) -> None:
    """Devices without EST are renewed by hand: the operator is refused for the north
    device during north's outage, not for the south one."""
    legacy = {"profile": "legacy-ultrasound", "count": 1, "site": "north", "zone": "imaging",
              "owner": "obstetrics"}  # fmt: skip
    fleet = [legacy, {**legacy, "site": "south"}]
    outage = {"kind": "ca-outage", "target": "site:north", "start": "1d20h", "end": "2d8h"}
    result = sim.run(faults=[outage], fleet=fleet, pki={"issuing": "per-site"})
    refused = sim.of_kind(result, EventKind.ENROLLMENT_REFUSED)
    assert [(e.subject, e.data["endpoint"], e.data["status"]) for e in refused] == [
        ("legacy-ultrasound-north-001", "manual", 503)
    ]
