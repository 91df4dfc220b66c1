"""The EHR faults of issue 11, each alone in a small simulated hospital with an IdP and
an EHR: what it breaks, for whom, from when to when, that nothing is duplicated,
lost or accepted wrongly, and that the run heals it.

The base scenario is ``tests/sim/conftest.py``'s (two ct-ai-onbox devices at
north/imaging, hourly deliveries retried every 10 minutes, six days and a two-day
recovery window) with an ``ehr`` block: one census of three wards and twelve
patients, 5-minute tokens, so every hourly delivery asks for a new one.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import pytest
from pydantic import TypeAdapter, ValidationError

from testbed.errors import ScenarioError
from testbed.events import Event, EventKind
from testbed.faults import FaultSpec
from testbed.runner import RunResult

if TYPE_CHECKING:
    from tests.sim.conftest import Sim

CT_1 = "ct-ai-onbox-north-001"
CT_2 = "ct-ai-onbox-north-002"
EHR = {"census": {"locations": 3, "patients": 12}}


def run(sim: type[Sim], *faults: dict[str, Any], ehr: dict[str, Any] | None = None) -> RunResult:
    return sim.run(ehr={**EHR, **(ehr or {})}, faults=list(faults))


def of(result: RunResult, kind: EventKind, subject: str | None = None) -> list[Event]:
    return [e for e in result.testbed.log.of_kind(kind) if subject in (None, e.subject)]


def reasons(events: list[Event], start: datetime, end: datetime) -> set[str]:
    return {str(e.data["reason"]) for e in events if start <= e.time < end}


def clean(result: RunResult) -> None:
    """Nothing lost, duplicated or accepted wrongly; every device recovered."""
    m = result.report.measures
    assert (m["data_lost"], m["duplicates"], m["unauthorized_writes"]) == (0, 0, 0)
    assert m["unauthorized_access"] == 0 and m["data_held_at_end"] == 0
    assert m["recovered"] == 1


def stored(result: RunResult, kind: str = "Observation") -> int:
    return result.testbed.hospital.ehrs["ehr"].store.count(kind)


def delivered_to_ehr(result: RunResult) -> int:
    return sum(int(str(e.data["delivered"])) for e in of(result, EventKind.FHIR_DELIVERY))


def test_the_base_run_delivers_every_item_as_one_fhir_create(sim: type[Sim]) -> None:
    result = run(sim)
    clean(result)
    m = result.report.measures
    assert m["fhir_writes_refused"] == m["tokens_refused"] == 0
    assert m["clinical_downtime_minutes"] == 0
    # every item is one stored Observation with its Provenance; one token per hourly turn
    delivered = delivered_to_ehr(result)
    assert delivered > 250 and stored(result) == delivered == m["fhir_writes_accepted"]
    assert stored(result, "Provenance") == delivered
    deliveries = of(result, EventKind.FHIR_DELIVERY)
    assert {e.data["reason"] for e in deliveries} == {"ok"}
    assert m["tokens_granted"] == len(deliveries) + 2  # and the two recovery checks
    # the certificate part of the path is the access point's, with purpose fhir-request
    purposes = {e.data["purpose"] for e in of(result, EventKind.ACCESS_DECISION, CT_1)}
    assert "fhir-request" in purposes


def test_token_expired_refuses_cached_tokens_until_healed(sim: type[Sim]) -> None:
    fault = {"kind": "token-expired", "target": f"device:{CT_1}", "start": "1d", "end": "2d"}
    result = run(sim, fault)
    clean(result)
    writes = of(result, EventKind.EHR_WRITE, CT_1)
    assert reasons(writes, sim.at("1d1h"), sim.at("2d")) == {"ok", "token-expired"}
    assert reasons(writes, sim.at("2d1h"), sim.at("6d")) == {"ok"}
    assert reasons(writes, sim.at("0d"), sim.at("1d")) == {"ok"}
    assert reasons(of(result, EventKind.EHR_WRITE, CT_2), sim.at("0d"), sim.at("6d")) == {"ok"}
    # about one refusal per hourly delivery of the day (none right after a renewal: a
    # new certificate makes the device ask for a new token), each its own incident
    refused = result.report.data["fhir_writes_refused_by_reason"]
    assert set(refused) == {"token-expired"} and 20 <= refused["token-expired"] <= 24
    assert result.report.data["incidents_by_category"] == refused


def test_idp_outage_holds_items_until_a_token_is_granted(sim: type[Sim]) -> None:
    result = run(sim, {"kind": "idp-outage", "start": "1d", "end": "1d6h"})
    clean(result)
    granted = [e.time for e in of(result, EventKind.TOKEN_GRANTED)]
    assert not [t for t in granted if sim.at("1d") <= t < sim.at("1d6h")]
    deliveries = of(result, EventKind.FHIR_DELIVERY, CT_1)
    assert reasons(deliveries, sim.at("1d"), sim.at("1d6h")) == {"service-unavailable"}
    after = [e for e in deliveries if e.time >= sim.at("1d6h")]
    assert after[0].data["reason"] == "ok" and after[0].data["delivered"] == 7
    assert result.report.measures["token_grant_latency_max_seconds"] == 6 * 3600
    assert result.report.data["incidents_by_category"] == {"service-unavailable": 2}


def test_idp_key_rotation_with_a_stale_jwks_cache_refuses_new_tokens(sim: type[Sim]) -> None:
    result = run(sim, {"kind": "idp-key-rotation", "start": "1d", "end": "1d6h"})
    clean(result)
    [rotated] = of(result, EventKind.IDP_KEY_ROTATED)
    assert rotated.time == sim.at("1d")
    writes = of(result, EventKind.EHR_WRITE)
    assert reasons(writes, sim.at("1d"), sim.at("1d6h")) == {"token-key-unknown"}
    assert reasons(writes, sim.at("1d6h"), sim.at("6d")) == {"ok"}
    assert result.report.data["incidents_by_category"] == {"token-expired": 2}


def test_ehr_outage_loses_answers_then_refuses_and_retries_make_no_duplicate(
    sim: type[Sim],
) -> None:
    fault = {"kind": "ehr-outage", "target": "service:ehr", "start": "1d", "end": "1d6h",
             "answers_lost": "1h"}  # fmt: skip
    result = run(sim, fault)
    clean(result)
    # answers lost: the EHR stored the item, the device sent it again and was told 200
    again = [e for e in of(result, EventKind.EHR_WRITE) if e.data["status"] == 200]
    assert again and all(e.data["created"] is False for e in again)
    assert all(e.time >= sim.at("1d") for e in again)
    denials = [e for e in of(result, EventKind.ACCESS_DECISION)
               if e.data["reason"] == "service-unavailable"]  # fmt: skip
    assert denials and all(sim.at("1d1h") <= e.time < sim.at("1d6h") for e in denials)
    assert stored(result) == delivered_to_ehr(result)
    assert result.report.measures["fhir_writes_accepted"] == stored(result) + len(again)


def test_patient_moved_refuses_writes_for_the_old_location_and_keeps_them(
    sim: type[Sim],
) -> None:
    fault = {"kind": "patient-moved", "target": f"device:{CT_1}", "start": "1d", "end": "1d6h"}
    result = run(sim, fault)
    clean(result)
    moved = of(result, EventKind.PATIENT_MOVED)
    assert [e.time for e in moved] == [sim.at("1d"), sim.at("1d6h")]
    writes = of(result, EventKind.EHR_WRITE, CT_1)
    assert reasons(writes, sim.at("1d"), sim.at("1d6h")) == {"patient-context-mismatch"}
    assert reasons(of(result, EventKind.EHR_WRITE, CT_2), sim.at("0d"), sim.at("6d")) == {"ok"}
    # kept, then delivered once the patient is back; never accepted for the wrong ward
    after = [e for e in of(result, EventKind.FHIR_DELIVERY, CT_1) if e.time >= sim.at("1d6h")]
    assert after[0].data["delivered"] == 7
    assert result.report.data["fhir_writes_refused_by_reason"] == {"patient-context-mismatch": 36}


def test_scope_drift_is_refused_at_the_token_endpoint_until_rolled_back(sim: type[Sim]) -> None:
    fault = {"kind": "scope-drift", "target": f"device:{CT_1}", "start": "1d", "end": "1d6h"}
    result = run(sim, fault)
    clean(result)
    refused = of(result, EventKind.TOKEN_REFUSED, CT_1)
    assert {e.data["reason"] for e in refused} == {"scope-not-authorized"}
    assert {e.data["error"] for e in refused} == {"invalid_scope"}
    assert all(sim.at("1d") <= e.time < sim.at("1d6h") for e in refused)
    assert not of(result, EventKind.TOKEN_REFUSED, CT_2)


def test_scope_drift_asking_for_more_gets_only_what_is_preauthorized(sim: type[Sim]) -> None:
    fault = {"kind": "scope-drift", "target": f"device:{CT_1}", "start": "1d", "end": "1d6h",
             "scopes": "system/Observation.cruds system/Patient.cruds"}  # fmt: skip
    result = run(sim, fault)
    clean(result)
    granted = [e for e in of(result, EventKind.TOKEN_GRANTED, CT_1)
               if sim.at("1d") <= e.time < sim.at("1d6h")]  # fmt: skip
    assert granted and {e.data["scope"] for e in granted} == {"system/Observation.c"}
    assert result.report.measures["tokens_refused"] == 0


def test_a_leaked_assertion_is_refused_as_a_replay(sim: type[Sim]) -> None:
    fault = {"kind": "client-credential-leaked", "target": f"device:{CT_1}", "start": "1d",
             "end": "1d6h"}  # fmt: skip
    result = run(sim, fault)
    clean(result)
    refused = of(result, EventKind.TOKEN_REFUSED, CT_1)
    assert len(refused) == 6 and {e.data["reason"] for e in refused} == {"token-replayed"}
    assert result.report.measures["clinical_downtime_minutes"] == 0  # the device is unharmed


def test_a_leaked_shared_secret_is_granted_and_counted_as_unauthorized(sim: type[Sim]) -> None:
    fault = {"kind": "client-credential-leaked", "target": f"device:{CT_1}", "start": "1d",
             "end": "1d6h"}  # fmt: skip
    result = run(sim, fault, ehr={"client_auth": "client_secret_basic"})
    m = result.report.measures
    unauthorized = of(result, EventKind.UNAUTHORIZED_ACCESS, CT_1)
    assert m["unauthorized_access"] == len(unauthorized) == 6
    assert {e.data["service"] for e in unauthorized} == {"idp"}
    assert m["unauthorized_writes"] == 0  # the impostor has no device certificate
    assert m["tokens_refused"] == 0


def test_the_flat_design_uses_the_shared_secret(sim: type[Sim]) -> None:
    result = sim.run(ehr=EHR, design="flat-shared-credentials", network=[])
    clinical = result.testbed.hospital.clinical
    assert clinical is not None and clinical.client_auth == "client_secret_basic"
    clean(result)


def test_ehr_faults_need_the_ehr_block(sim: type[Sim], tmp_path: Any) -> None:
    import yaml

    from testbed.scenario import load_scenario

    path = tmp_path / "no-ehr.yaml"
    data = sim.scenario(faults=[{"kind": "idp-outage", "start": "1d", "end": "2d"}])
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"faults\[0\]\.kind"):
        load_scenario(path)


def test_an_ehr_outage_must_lose_answers_for_less_than_its_length() -> None:
    fault = {"kind": "ehr-outage", "target": "service:ehr", "start": "1d", "end": "1d1h",
             "answers_lost": "1h"}  # fmt: skip
    with pytest.raises(ValidationError, match="answers_lost shorter than the fault"):
        TypeAdapter(FaultSpec).validate_python(fault)


def test_the_zero_trust_design_binds_every_token_to_the_device_certificate(
    sim: type[Sim],
) -> None:
    """``certificate_bound_tokens: true`` in zero-trust-microsegmentation: every token
    is granted bound (RFC 8705) and the EHR requires the binding; the devices, which
    ask over mutual TLS, deliver as in the base run.  The scenario's
    ``ehr.certificate_bound: false`` overrides the design."""
    result = sim.run(ehr=EHR, design="zero-trust-microsegmentation", network=[])
    clinical = result.testbed.hospital.clinical
    assert clinical is not None and clinical.idp.settings.certificate_bound
    assert clinical.verifier.require_binding
    clean(result)
    granted = of(result, EventKind.TOKEN_GRANTED)
    assert granted and {e.data["bound"] for e in granted} == {True}
    assert result.report.measures["fhir_writes_accepted"] == delivered_to_ehr(result) > 250
    unbound = sim.run(ehr={**EHR, "certificate_bound": False},
                      design="zero-trust-microsegmentation", network=[])  # fmt: skip
    assert unbound.testbed.hospital.clinical is not None
    assert not unbound.testbed.hospital.clinical.idp.settings.certificate_bound
    assert not unbound.testbed.hospital.clinical.verifier.require_binding


def test_the_daily_drift_scan_compares_the_inventory_with_the_idp_and_the_ehr(
    sim: type[Sim],
) -> None:
    """Half a day in, the IdP and the EHR registry are changed behind the inventory's
    back: a client and an EHR Device for a device nobody registered, one device's
    client widened, the other's client gone.  The first daily scan raises one
    ``drift-detected`` event per disagreement (and never the same one twice); the base
    run raises none."""
    from dataclasses import replace

    from testbed.core import Testbed
    from testbed.scenario import Scenario
    from testbed.smart.scopes import parse_scopes

    clean_run = run(sim)
    assert not of(clean_run, EventKind.DRIFT_DETECTED)
    scenario = TypeAdapter(Scenario).validate_python(sim.scenario(ehr=EHR))
    tb = Testbed(scenario)
    tb.start()
    tb.env.run(until=12 * 3600)
    clinical = tb.hospital.clinical
    assert clinical is not None
    clients = clinical.idp.clients
    own = clients.get(CT_1)
    assert own is not None
    widened = replace(own, scopes=parse_scopes("system/*.cruds"))
    clients.restore((widened,))  # CT_2's client is gone
    clients.register("rogue", device_id="ghost-001", scopes="system/Observation.c",
                     secret="found-on-a-sticky-note")  # fmt: skip
    ward = clinical.enrollments[CT_1].location.split("/")[1]
    clinical.ehrs["ehr"].register_device("ghost-002", owner="nobody", location=ward,
                                         now=tb.now())  # fmt: skip
    tb.env.run(until=3 * 86400)  # three daily scans
    found = tb.log.of_kind(EventKind.DRIFT_DETECTED)
    drifts = sorted((e.subject, str(e.data["drift"])) for e in found)
    assert drifts == [
        (CT_1, "smart-client-scopes-differ"),
        (CT_2, "smart-client-missing"),
        ("ghost-001", "smart-client-for-unknown-device"),
        ("ghost-002", "ehr-device-for-unknown-device"),
    ]
    [scoped] = [e for e in found if e.subject == CT_1]
    assert scoped.time == sim.at("1d") and "system/*.cruds" in str(scoped.data["detail"])
    assert tb.metrics.drift_alerts == 4


def test_a_device_reuses_its_token_until_shortly_before_expiry(sim: type[Sim]) -> None:
    """Deliveries every 2 minutes, tokens living 5 with a 30-second refresh margin: a
    token serves the deliveries of 4.5 minutes (three), and a new one is asked for
    only when a delivery needs it (no refresh timer: every grant is at a delivery)."""
    result = sim.run(ehr={**EHR, "token_lifetime": "300s", "token_refresh_margin": "30s"},
                     workload={"interval": "2m", "retry": "2m"}, duration="1d",
                     recovery_window="1h")  # fmt: skip
    clean(result)
    deliveries = of(result, EventKind.FHIR_DELIVERY, CT_1)
    grants = [e for e in of(result, EventKind.TOKEN_GRANTED, CT_1)
              if e.time < deliveries[-1].time]  # the closing recovery check's left out
    assert len(deliveries) > 600
    assert abs(len(grants) - len(deliveries) / 3) <= 2, (len(grants), len(deliveries))
    delivered_at = {e.time for e in deliveries}
    assert all(g.time in delivered_at for g in grants)
