"""DICOM in the simulation (issue 12): studies with store and forward, and each DICOM
fault alone in the small hospital of ``tests/sim/conftest.py`` (two CT scanners at
north/imaging, 4 instances a study, hourly, retry every 10 minutes, 6 days plus 2),
with a ``dicom:`` block."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from testbed.events import Event, EventKind
from testbed.report.html import summary_html
from testbed.runner import RunResult

if TYPE_CHECKING:
    from tests.sim.conftest import Sim

CT_1 = "ct-ai-onbox-north-001"
CT_2 = "ct-ai-onbox-north-002"
US = "legacy-ultrasound-north-001"
INSTANCES = 4  # ct-ai-onbox's instances_per_study


def _run(sim: type[Sim], **changes: Any) -> RunResult:
    changes.setdefault("dicom", {})
    return sim.run(**changes)


def _associations(result: RunResult, device: str, service: str = "pacs-north") -> list[Event]:
    return [
        e for e in result.testbed.log.for_subject(device)
        if e.kind is EventKind.DICOM_ASSOCIATION and e.data["purpose"] == "traffic"
        and e.data["service"] == service
    ]  # fmt: skip


def _between(events: list[Event], start: datetime, end: datetime) -> set[str]:
    return {str(e.data["reason"]) for e in events if start <= e.time < end}


def _studies(result: RunResult, kind: EventKind, device: str | None = None) -> list[Event]:
    return [e for e in result.testbed.log.of_kind(kind) if device in (None, e.subject)]


def _made(result: RunResult, device: str) -> int:
    agent = result.testbed.by_id[device]
    return agent.studies_made


def test_imaging_deliveries_are_studies_stored_instance_by_instance(sim: type[Sim]) -> None:
    result = _run(sim)
    m = result.report.measures
    assert m["studies_stored"] == _made(result, CT_1) + _made(result, CT_2) > 200
    assert m["dicom_instances_stored"] == INSTANCES * m["studies_stored"]
    assert m["duplicates"] == m["studies_queued"] == m["data_lost"] == 0
    assert m["dicom_associations_refused"] == 0 and m["unauthorized_stores"] == 0
    pacs = result.testbed.hospital.pacs["pacs-north"]
    assert len(pacs.store) == m["dicom_instances_stored"]
    # the EHR is not DICOM: its deliveries still go through the access point
    ehr = [e for e in sim.decisions(result, CT_1) if e.data["service"] == "ehr"]
    assert ehr and all(e.data["allowed"] for e in ehr)
    assert not [e for e in sim.decisions(result, CT_1) if e.data["service"] == "pacs-north"]
    assert m["recovered"] == 1


def test_a_scenario_without_dicom_sends_no_dicom(sim: type[Sim]) -> None:
    result = sim.run()
    assert not result.testbed.log.of_kind(EventKind.DICOM_ASSOCIATION)
    assert "duplicates" not in result.report.measures
    assert "dicom_by_reason" not in result.report.data
    assert "DICOM" not in summary_html(result.report)


def test_the_report_shows_dicom_by_reason(sim: type[Sim]) -> None:
    fault = {"kind": "pacs-outage", "target": "service:pacs-north", "start": "2d", "end": "2d1h"}
    result = _run(sim, faults=[fault])
    by_reason = result.report.data["dicom_by_reason"]
    assert by_reason["associations"]["service-unavailable"] == 12  # 2 devices, every 10 min
    assert by_reason["stores"] == {"ok": result.report.measures["dicom_instances_stored"]}
    html = summary_html(result.report)
    assert "DICOM associations by reason" in html and "service-unavailable" in html


def test_store_and_forward_keeps_then_delivers_everything_after_a_pacs_outage(
    sim: type[Sim],
) -> None:
    fault = {"kind": "pacs-outage", "target": "service:pacs-north", "start": "2d", "end": "2d6h"}
    result = _run(sim, faults=[fault])
    traffic = _associations(result, CT_1)
    assert _between(traffic, sim.at("2d"), sim.at("2d6h")) == {"service-unavailable"}
    assert _between(traffic, sim.at("2d6h"), sim.at("8d")) == {"ok"}
    m = result.report.measures
    queued = _studies(result, EventKind.STUDY_QUEUED)
    assert m["studies_queued"] == len(queued) == 12  # 6 hours, 2 devices
    assert {e.data["cause"] for e in queued} == {"service-unavailable"}
    # every study made was stored, none lost, none still held; the first one queued
    # waited the whole outage
    assert m["studies_stored"] == _made(result, CT_1) + _made(result, CT_2)
    assert m["data_lost"] == m["data_held_at_end"] == m["duplicates"] == 0
    assert 5 * 60 < m["study_wait_max_minutes"] <= 6 * 60 + 10
    stored = {e.data["study_uid"] for e in _studies(result, EventKind.STUDY_STORED)}
    assert {e.data["study_uid"] for e in queued} <= stored
    assert result.report.data["incidents_by_category"] == {"service-unavailable": 2}
    assert m["recovered"] == 1


def test_the_legacy_ultrasound_loses_what_is_refused(sim: type[Sim]) -> None:
    fleet = [{"profile": "legacy-ultrasound", "count": 1, "site": "north", "zone": "imaging",
              "owner": "obstetrics"}]  # fmt: skip
    fault = {"kind": "pacs-outage", "target": "service:pacs-north", "start": "3d", "end": "3d3h"}
    result = _run(sim, faults=[fault], fleet=fleet)
    lost = _studies(result, EventKind.DATA_LOST, US)
    assert [(e.time, e.data["items"]) for e in lost] == [
        (sim.at(f"3d{h}h"), 1) for h in range(3)
    ]  # one study an hour, none kept
    m = result.report.measures
    assert m["data_lost"] == 3 and m["studies_queued"] == 0  # nothing waits: it is lost
    assert m["studies_stored"] == _made(result, US) - 3


def test_a_lost_answer_is_resent_without_a_duplicate(sim: type[Sim]) -> None:
    result = _run(sim, dicom={"lost_answers": 0.05})
    m = result.report.measures
    lost = [
        e for e in _studies(result, EventKind.STUDY_QUEUED) if e.data["cause"] == "response-lost"
    ]
    assert lost and m["dicom_retries_answered"] >= len(lost)
    assert m["duplicates"] == 0
    assert m["studies_stored"] == _made(result, CT_1) + _made(result, CT_2)
    pacs = result.testbed.hospital.pacs["pacs-north"]
    assert len(pacs.store) == m["dicom_instances_stored"] == INSTANCES * m["studies_stored"]


def test_an_ae_title_allowed_at_one_site_only(sim: type[Sim]) -> None:
    """Whitelisted at north, not at south (seed §4): south refuses, north accepts."""
    fleet = [
        {
            "profile": "ct-ai-onbox",
            "count": 2,
            "site": "north",
            "zone": "imaging",
            "owner": "radiology",
            "services": ["pacs-north", "pacs-south", "ehr"],
        }
    ]
    network = [{"from": "imaging", "to": "pacs-north"}, {"from": "imaging", "to": "pacs-south"},
               {"from": "imaging", "to": "ehr"}]  # fmt: skip
    fault = {"kind": "ae-title-not-allowed", "target": f"device:{CT_1}", "service": "pacs-south",
             "start": "2d", "end": "3d"}  # fmt: skip
    result = _run(sim, faults=[fault], fleet=fleet, network=network)
    south, north = _associations(result, CT_1, "pacs-south"), _associations(result, CT_1)
    assert _between(south, sim.at("2d"), sim.at("3d")) == {"ae-title-not-allowed"}
    assert _between(south, sim.at("3d"), sim.at("8d")) == {"ok"}
    assert _between(north, sim.at("0d"), sim.at("8d")) == {"ok"}
    assert _between(_associations(result, CT_2, "pacs-south"), sim.at("0d"), sim.at("8d")) == {"ok"}
    assert result.report.data["incidents_by_category"] == {"endpoint-changed": 1}
    assert result.report.measures["data_lost"] == 0 and result.report.measures["recovered"] == 1


def test_a_pacs_that_does_not_trust_the_ca_while_fhir_does(sim: type[Sim]) -> None:
    fault = {"kind": "pacs-trust-missing", "target": "site:north", "start": "2d", "end": "2d12h"}
    result = _run(sim, faults=[fault])
    dicom = _associations(result, CT_1)
    assert _between(dicom, sim.at("2d"), sim.at("2d12h")) == {"cert-untrusted-at-site"}
    assert _between(dicom, sim.at("2d12h"), sim.at("8d")) == {"ok"}
    ehr = [e for e in sim.decisions(result, CT_1) if e.data["service"] == "ehr"]
    assert sim.reasons_between(ehr, sim.at("2d"), sim.at("2d12h")) == {"ok"}  # FHIR trusts it
    refused = [e for e in dicom if not e.data["allowed"]]
    assert all(e.data["audit_code"] == "110113/110126" for e in refused)
    assert result.report.data["incidents_by_category"] == {"certificate-invalid": 2}
    assert result.report.measures["recovered"] == 1


def test_a_moved_called_ae_title_fails_until_distributed(sim: type[Sim]) -> None:
    fault = {"kind": "dicom-endpoint-changed", "target": "service:pacs-north",
             "ae_title": "PACS_NEW", "start": "2d", "end": "2d8h"}  # fmt: skip
    result = _run(sim, faults=[fault])
    traffic = _associations(result, CT_1)
    assert _between(traffic, sim.at("2d"), sim.at("2d8h")) == {"called-ae-unknown"}
    after = [e for e in traffic if e.time >= sim.at("2d8h")]
    assert {e.data["reason"] for e in after} == {"ok"}
    assert {e.data["called_ae"] for e in after} == {"PACS_NEW"}
    assert result.report.data["incidents_by_category"] == {"dicom-endpoint-changed": 2}
    assert result.report.measures["recovered"] == 1


def test_a_moved_port_is_refused_at_the_network_until_distributed(sim: type[Sim]) -> None:
    fault = {"kind": "dicom-endpoint-changed", "target": "service:pacs-north", "port": 11112,
             "start": "2d", "end": "2d8h"}  # fmt: skip
    result = _run(sim, faults=[fault])
    traffic = _associations(result, CT_1)
    refused = [e for e in traffic if sim.at("2d") <= e.time < sim.at("2d8h")]
    assert {(e.data["reason"], e.data["hop"]) for e in refused} == {
        ("dicom-port-closed", "network")
    }
    assert _between(traffic, sim.at("2d8h"), sim.at("8d")) == {"ok"}
    assert result.testbed.hospital.dicom.ports["pacs-north"] == 11112
    assert result.report.data["incidents_by_category"] == {"dicom-endpoint-changed": 2}


def test_firmware_falling_back_to_tls_1_0_is_refused_by_a_bcp195_pacs(sim: type[Sim]) -> None:
    fault = {"kind": "firmware-breaks-dicom-tls", "target": f"device:{CT_1}", "to": "tls1.0",
             "start": "2d", "end": "3d"}  # fmt: skip
    result = _run(sim, faults=[fault])
    traffic = _associations(result, CT_1)
    refused = [e for e in traffic if sim.at("2d") <= e.time < sim.at("3d")]
    assert {(e.data["reason"], e.data["hop"]) for e in refused} == {("tls-profile-refused", "tls")}
    assert _between(traffic, sim.at("3d"), sim.at("8d")) == {"ok"}
    assert _between(_associations(result, CT_2), sim.at("2d"), sim.at("3d")) == {"ok"}
    assert result.report.data["incidents_by_category"] == {"certificate-invalid": 1}


def test_a_legacy_pacs_takes_the_fallen_back_firmware(sim: type[Sim]) -> None:
    fault = {"kind": "firmware-breaks-dicom-tls", "target": f"device:{CT_1}", "to": "rsa-only",
             "start": "2d", "end": "3d"}  # fmt: skip
    sites = [{"name": "north", "zones": ["imaging", "datacenter"], "pacs_tls": "legacy"},
             {"name": "south", "zones": ["imaging", "datacenter"]}]  # fmt: skip
    result = _run(sim, faults=[fault], sites=sites)
    during = [e for e in _associations(result, CT_1) if sim.at("2d") <= e.time < sim.at("3d")]
    assert during and {e.data["reason"] for e in during} == {"ok"}
    assert result.report.measures["dicom_associations_refused"] == 0


def test_an_unauthorized_store_is_measured(sim: type[Sim]) -> None:
    """Revoked at 2d2h, the PACS's CRL says so only at 2d12h: the instances it keeps
    in between are unauthorized stores (ground truth), counted, not assumed away."""
    fault = {"kind": "revoked-certificate", "target": f"device:{CT_1}", "start": "2d2h",
             "end": "3d"}  # fmt: skip
    result = _run(sim, faults=[fault])
    unauthorized = [e for e in result.testbed.log.of_kind(EventKind.UNAUTHORIZED_ACCESS)
                    if "sop_instance_uid" in e.data]  # fmt: skip
    m = result.report.measures
    assert m["unauthorized_stores"] == len(unauthorized) > 0
    assert all(sim.at("2d2h") <= e.time < sim.at("2d12h") for e in unauthorized)
    assert {e.subject for e in unauthorized} == {CT_1}
    assert _between(_associations(result, CT_1), sim.at("2d12h"), sim.at("3d")) == {"cert-revoked"}


def test_the_same_dicom_run_twice_writes_the_same_events(sim: type[Sim]) -> None:
    faults = [{"kind": "pacs-outage", "target": "service:pacs-north", "start": "1d",
               "end": "1d2h"}]  # fmt: skip
    runs = [_run(sim, faults=faults, dicom={"lost_answers": 0.02}) for _ in range(2)]
    first, second = ([e.to_dict() for e in r.testbed.log] for r in runs)
    assert first == second
    assert runs[0].report.to_json() == runs[1].report.to_json()
