"""The network faults of issue 13, each on its own in a small simulated hospital:
``partition`` (site to site, zone to zone), ``site-outage``, ``policy-drift`` and
``exception-expired``, and the drift alerts of overdue exception reviews.

The base scenario is ``tests/sim/conftest.py``'s (two devices at north/imaging
sending to pacs-north and the EHR at north every hour); these tests add a device at
south/imaging (to pacs-south and the EHR at north), whose service at north a
partition of the sites or an outage of north cuts.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from testbed.events import EventKind

if TYPE_CHECKING:
    from tests.sim.conftest import Sim

CT_1 = "ct-ai-onbox-north-001"
CT_2 = "ct-ai-onbox-north-002"
SOUTH = "ct-ai-onbox-south-001"
FLEET = [
    {"profile": "ct-ai-onbox", "count": 2, "site": "north", "zone": "imaging",
     "owner": "radiology"},
    {"profile": "ct-ai-onbox", "count": 1, "site": "south", "zone": "imaging",
     "owner": "radiology"},
]  # fmt: skip


def _run(sim: type[Sim], *faults: dict[str, Any], **changes: Any) -> Any:
    return sim.run(faults=list(faults), fleet=FLEET, **changes)


def test_the_base_run_with_a_south_device_is_clean(sim: type[Sim]) -> None:
    """The control: every device's every delivery allowed, nothing in drift."""
    result = _run(sim)
    for device in (CT_1, CT_2, SOUTH):
        assert sim.reasons_between(sim.decisions(result, device), sim.at("0d"),
                                   sim.at("8d")) == {"ok"}  # fmt: skip
    assert sim.decisions(result, SOUTH, service="ehr")
    assert result.report.measures["drift_alerts"] == 0


def test_a_partition_of_the_sites_cuts_only_traffic_between_them(sim: type[Sim]) -> None:
    fault = {"kind": "partition", "between": ["site:north", "site:south"],
             "start": "1d3h", "end": "1d9h"}  # fmt: skip
    result = _run(sim, fault)
    south_ehr = sim.decisions(result, SOUTH, service="ehr")  # south -> the EHR at north
    south_pacs = sim.decisions(result, SOUTH, service="pacs-south")
    assert sim.reasons_between(south_ehr, sim.at("1d3h"), sim.at("1d9h")) == {"partitioned"}
    assert sim.reasons_between(south_pacs, sim.at("1d3h"), sim.at("1d9h")) == {"ok"}
    assert sim.reasons_between(sim.decisions(result, CT_1), sim.at("0d"), sim.at("8d")) == {"ok"}
    assert sim.reasons_between(south_ehr, sim.at("1d9h"), sim.at("8d")) == {"ok"}
    forwarded = [e for e in sim.of_kind(result, EventKind.DATA_FORWARDED, SOUTH)
                 if e.data["service"] == "ehr"]  # fmt: skip
    assert forwarded and forwarded[0].time == sim.at("1d9h")
    assert int(forwarded[0].data["items"]) >= 6  # six hourly items held back
    measures = result.report.measures
    assert measures["data_lost"] == 0 and measures["recovered"] == 1


def test_a_partition_of_two_zones_at_one_site(sim: type[Sim]) -> None:
    """imaging and datacenter cut apart at north: the north devices reach neither of
    their services; the south device's traffic starts at south and is not cut."""
    fault = {"kind": "partition", "between": ["zone:imaging", "zone:datacenter"], "site": "north",
             "start": "2d", "end": "2d6h"}  # fmt: skip
    result = _run(sim, fault)
    north = sim.decisions(result, CT_2)
    assert sim.reasons_between(north, sim.at("2d"), sim.at("2d6h")) == {"partitioned"}
    assert {e.data["service"] for e in north if not e.data["allowed"]} == {"pacs-north", "ehr"}
    assert sim.reasons_between(sim.decisions(result, SOUTH), sim.at("0d"), sim.at("8d")) == {"ok"}
    assert sim.reasons_between(north, sim.at("2d6h"), sim.at("8d")) == {"ok"}
    assert result.report.measures["recovered"] == 1


def test_a_site_outage_takes_down_everything_at_and_to_that_site(sim: type[Sim]) -> None:
    fault = {"kind": "site-outage", "target": "site:north", "start": "3d", "end": "3d12h"}
    result = _run(sim, fault)
    north = sim.decisions(result, CT_1)
    assert sim.reasons_between(north, sim.at("3d"), sim.at("3d12h")) == {"site-down"}
    south_ehr = sim.decisions(result, SOUTH, service="ehr")
    assert sim.reasons_between(south_ehr, sim.at("3d"), sim.at("3d12h")) == {"site-down"}
    south_pacs = sim.decisions(result, SOUTH, service="pacs-south")
    assert sim.reasons_between(south_pacs, sim.at("3d"), sim.at("3d12h")) == {"ok"}
    for device in (CT_1, CT_2, SOUTH):
        assert sim.reasons_between(sim.decisions(result, device), sim.at("3d12h"),
                                   sim.at("8d")) == {"ok"}  # fmt: skip
    measures = result.report.measures
    assert measures["clinical_downtime_minutes"] > 0
    assert measures["data_lost"] == 0 and measures["recovered"] == 1
    categories = result.report.data["incidents_by_category"]
    assert categories == {"service-unavailable": 3}  # one incident per device


def test_policy_drift_is_found_by_the_next_scan_and_its_exposure_recorded(sim: type[Sim]) -> None:
    """A rule no change approved lets north's imaging zone reach pacs-south from 1d2h
    to 3d6h: the daily scan at 2d finds it (in force 22 hours by then) and only once;
    its removal records 52 hours of exposure; afterwards the route is closed again."""
    fault = {"kind": "policy-drift", "from": "imaging", "to": "pacs-south", "site": "north",
             "start": "1d2h", "end": "3d6h"}  # fmt: skip
    result = _run(sim, fault)
    (found,) = sim.of_kind(result, EventKind.DRIFT_DETECTED)
    assert found.subject == "imaging->pacs-south@north"
    assert found.time == sim.at("2d")
    assert found.data["drift"] == "policy-rule-unapproved"
    assert found.data["exposed_minutes"] == 22 * 60
    (exposure,) = sim.of_kind(result, EventKind.POLICY_EXPOSURE)
    assert exposure.time == sim.at("3d6h") and exposure.data["minutes"] == 52 * 60
    assert result.report.measures["drift_alerts"] == 1
    policy = result.testbed.hospital.policy
    closed = policy.decide(site="north", zone="imaging", service="pacs-south")
    assert not closed.allowed and closed.reason == "route-blocked"
    assert result.report.measures["recovered"] == 1


def test_a_rule_outside_change_control_opens_its_route_while_it_lasts(sim: type[Sim]) -> None:
    """What the policy-drift fault does to the policy, checked at its decision."""
    policy = sim.run().testbed.hospital.policy
    assert not policy.decide(site="north", zone="imaging", service="pacs-south").allowed
    policy.add_unapproved(("imaging", "pacs-south", "north"), now=sim.at("1d"))
    assert policy.decide(site="north", zone="imaging", service="pacs-south").allowed
    assert not policy.decide(site="south", zone="datacenter", service="pacs-south").allowed
    policy.add_unapproved(("imaging", "pacs-south", "north"), now=sim.at("2d"))  # nests
    policy.remove_unapproved(("imaging", "pacs-south", "north"), added=sim.at("1d"))
    assert policy.decide(site="north", zone="imaging", service="pacs-south").allowed
    policy.remove_unapproved(("imaging", "pacs-south", "north"), added=sim.at("2d"))
    assert not policy.decide(site="north", zone="imaging", service="pacs-south").allowed


def test_overlapping_policy_drifts_on_one_route_nest(sim: type[Sim]) -> None:
    """Two unapproved rules on one route: the route stays open until the second goes;
    the scan finds the route once, with the first rule's time in force."""
    first = {"kind": "policy-drift", "from": "imaging", "to": "pacs-south",
             "start": "1d2h", "end": "2d6h"}  # fmt: skip
    second = {**first, "start": "1d20h", "end": "3d6h"}
    result = _run(sim, first, second)
    (found,) = sim.of_kind(result, EventKind.DRIFT_DETECTED)
    assert found.time == sim.at("2d") and found.data["exposed_minutes"] == 22 * 60
    exposures = sim.of_kind(result, EventKind.POLICY_EXPOSURE)
    assert [(e.time, e.data["minutes"]) for e in exposures] == [
        (sim.at("2d6h"), 28 * 60), (sim.at("3d6h"), 34 * 60)
    ]
    assert result.testbed.hospital.policy.unapproved == {}


def test_a_short_policy_drift_between_scans_goes_unseen(sim: type[Sim]) -> None:
    """In force from 1d2h to 1d20h, between two daily scans: no alert, but the exposure
    is still recorded."""
    fault = {"kind": "policy-drift", "from": "imaging", "to": "pacs-south",
             "start": "1d2h", "end": "1d20h"}  # fmt: skip
    result = _run(sim, fault)
    assert sim.of_kind(result, EventKind.DRIFT_DETECTED) == []
    (exposure,) = sim.of_kind(result, EventKind.POLICY_EXPOSURE)
    assert exposure.data["minutes"] == 18 * 60


REVIEW = datetime(2026, 1, 6, 12, tzinfo=UTC)  # 1d12h into the run
EXPIRES = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def legacy_design(tmp_path: Path) -> Path:
    """A sixth design, written as a file: devices reach the servers' FHIR with a
    certificate, and DICOM TLS only through an exception (review at 1d12h)."""
    path = tmp_path / "legacy-dicom.yaml"
    path.write_text(f"""
name: legacy-dicom
credentials: est-automated-renewal
groups:
  - {{name: devices, kinds: [device]}}
  - {{name: servers, kinds: [pacs, ehr, ca, idp]}}
rules:
  - {{from: devices, to: servers, service: fhir, identity: valid-device-certificate}}
exceptions:
  - id: legacy-dicom-tls
    from: devices
    to: servers
    service: dicom-tls
    owner: radiology
    reason: the modality's PACS link is not yet on the design's identity rule
    expires: {EXPIRES.isoformat().replace("+00:00", "Z")}
    review: {REVIEW.isoformat().replace("+00:00", "Z")}
""", encoding="utf-8")
    return path


def test_an_overdue_review_raises_one_drift_alert_with_its_lead_time(
    sim: type[Sim], legacy_design: Path
) -> None:
    result = sim.run(design=str(legacy_design), network=[])
    (alert,) = sim.of_kind(result, EventKind.DRIFT_DETECTED)
    assert alert.subject == "exception:legacy-dicom-tls"
    assert alert.time == sim.at("2d")  # the first daily scan after the review date
    assert alert.data["drift"] == "exception-review-overdue"
    assert alert.data["overdue_minutes"] == 12 * 60
    assert alert.data["lead_minutes"] == (EXPIRES - sim.at("2d")).total_seconds() / 60
    assert result.report.measures["drift_alerts"] == 1
    assert sim.reasons_between(sim.decisions(result, CT_1), sim.at("0d"), sim.at("8d")) == {"ok"}


def test_an_exception_expired_early_closes_its_flows_until_renewed(
    sim: type[Sim], legacy_design: Path
) -> None:
    fault = {"kind": "exception-expired", "target": "exception:legacy-dicom-tls",
             "start": "1d3h", "end": "1d9h"}  # fmt: skip
    result = sim.run(design=str(legacy_design), network=[], faults=[fault])
    pacs = sim.decisions(result, CT_1, service="pacs-north")
    ehr = sim.decisions(result, CT_1, service="ehr")
    assert sim.reasons_between(pacs, sim.at("1d3h"), sim.at("1d9h")) == {"route-blocked"}
    refused = next(e for e in pacs if not e.data["allowed"])
    assert "DENIED_IN" in str(refused.data["detail"])
    assert sim.reasons_between(ehr, sim.at("1d3h"), sim.at("1d9h")) == {"ok"}
    assert sim.reasons_between(pacs, sim.at("1d9h"), sim.at("8d")) == {"ok"}
    assert result.report.measures["data_lost"] == 0
    assert result.report.measures["recovered"] == 1
