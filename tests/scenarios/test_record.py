"""Reports from a run record: the fold over ``events.jsonl`` gives exactly what the
simulation counted, and ``testbed report DIR`` rewrites a run's report byte for byte."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from testbed.cli import main
from testbed.report.directory import load_record
from testbed.runner import RunResult, run_scenario, write_outputs

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "scenarios").glob("*.yaml"))
CT_1, LEGACY_1 = "ct-ai-onbox-north-001", "legacy-ultrasound-north-001"

_BASE: dict[str, Any] = {
    "name": "record-small",
    "seed": 11,
    "start": "2026-01-05T00:00:00Z",
    "duration": "6d",
    "recovery_window": "2d",
    "sites": [{"name": "north", "zones": ["imaging", "datacenter"]}],
    "services": [
        {"name": "pacs-north", "kind": "pacs", "site": "north", "zone": "datacenter"},
        {"name": "ehr", "kind": "ehr", "site": "north", "zone": "datacenter"},
    ],
    "network": [{"from": "imaging", "to": "pacs-north"}, {"from": "imaging", "to": "ehr"}],
    "pki": {"lifetime": "2d", "renew_at": 0.5, "jitter": 0.0, "renewal_retry": "1h",
            "crl_interval": "12h", "crl_validity": "2d", "trust_distribution_delay": "1h"},
    "workload": {"interval": "1h", "retry": "10m"},
    "fleet": [
        {"profile": "ct-ai-onbox", "count": 2, "site": "north", "zone": "imaging",
         "owner": "radiology"},
        {"profile": "legacy-ultrasound", "count": 1, "site": "north", "zone": "imaging",
         "owner": "obstetrics"},
    ],
}  # fmt: skip


def _op(at: str, action: str, device: str = CT_1) -> dict[str, str]:
    return {"at": at, "action": action, "target": f"device:{device}"}


#: small hospitals that each exercise what the fold must read: unauthorized access
#: through a stale CRL, an operator enrolling a device without EST through a CA
#: outage, suspension, re-bootstrap, revocation and offboarding by operators, a
#: blocked route (downtime, incidents, data kept and lost), manual approval
SMALL: dict[str, dict[str, Any]] = {
    "revoked-with-stale-crl": {"faults": [
        {"kind": "revoked-certificate", "target": f"device:{CT_1}", "start": "2d2h",
         "end": "3d"}]},
    "ca-outage-with-legacy": {"faults": [{"kind": "ca-outage", "start": "1d20h", "end": "2d8h"}]},
    "operations": {"operations": [
        _op("1d", "suspend"), _op("2d", "resume"), _op("2d6h", "rebootstrap"),
        _op("3d", "revoke", LEGACY_1), _op("4d", "offboard"), _op("4d1h", "offboard")]},
    "blocked-route": {"faults": [
        {"kind": "blocked-route", "from": "imaging", "to": "ehr", "start": "1d",
         "end": "5d"}]},
    "manual-approval": {"pki": {**_BASE["pki"], "manual_approval": True,
                                "approval_delay": "3h"}},
    # the IdP and EHR: tokens refused and granted, FHIR writes refused, lost answers
    # answered again by If-None-Exist, a patient moved, a stale JWKS, a leaked secret
    "ehr-faults": {"ehr": {"census": {"locations": 2, "patients": 6},
                           "client_auth": "client_secret_basic"}, "faults": [
        {"kind": "token-expired", "target": f"device:{CT_1}", "start": "1d", "end": "1d6h"},
        {"kind": "idp-outage", "start": "2d", "end": "2d3h"},
        {"kind": "ehr-outage", "target": "service:ehr", "start": "3d", "end": "3d2h"},
        {"kind": "patient-moved", "target": f"device:{CT_1}", "start": "4d", "end": "4d4h"},
        {"kind": "idp-key-rotation", "start": "5d", "end": "5d2h"},
        {"kind": "client-credential-leaked", "target": f"device:{CT_1}", "start": "5d3h",
         "end": "5d5h"}]},
    # DICOM studies: an unauthorized store through a stale CRL, a PACS outage (studies
    # queued, the legacy ultrasound's lost), lost answers resent (issue 12)
    "dicom": {"dicom": {"lost_answers": 0.05}, "faults": [
        {"kind": "revoked-certificate", "target": f"device:{CT_1}", "start": "2d2h",
         "end": "3d"},
        {"kind": "pacs-outage", "target": "service:pacs-north", "start": "4d", "end": "4d3h"}]},
    # the flat design's shared credential: no certificate, no renewal; a revoked and
    # then offboarded device keeps getting in (unauthorized, stale after offboarding)
    "shared-credentials": {"design": "flat-shared-credentials", "network": [],
                           "operations": [_op("2d", "revoke"), _op("3d", "offboard")]},
    # ... and its remedy: the department's credential rotated after the offboarding,
    # the new one handed by hand to the department's other devices (a step each)
    "shared-rotation": {"design": "flat-shared-credentials", "network": [],
                        "operations": [_op("2d", "revoke"), _op("3d", "offboard"),
                                       _op("3d1m", "rotate-shared-credential")]},
    "still-onboarding": {
        "pki": {**_BASE["pki"], "manual_approval": True, "approval_delay": "5d"},
        "fleet": [{"profile": "ct-ai-onbox", "count": 1, "site": "north", "zone": "imaging",
                   "owner": "radiology", "onboard_at": "5d"}]},
}  # fmt: skip


def _run_small(name: str, tmp_path: Path) -> tuple[RunResult, Path]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    scenario = tmp_path / f"{name}.yaml"
    data = {**_BASE, **SMALL[name], "name": name}
    scenario.write_text(yaml.safe_dump(data), encoding="utf-8")
    return _run(scenario, tmp_path)


def _run(scenario: Path, tmp_path: Path) -> tuple[RunResult, Path]:
    result = run_scenario(scenario)
    out = tmp_path / "run"
    write_outputs(result, out)
    return result, out


def _fold_equals_metrics(result: RunResult, out: Path) -> None:
    folded = load_record(out).tally
    assert folded == result.record.tally
    assert folded.measures == result.report.measures


def _report_is_rewritten(out: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    code = main(["report", str(out), "--out", str(again), "--quiet"])
    assert code == (0 if '"passed": true' in (out / "report.json").read_text() else 1)
    assert (again / "report.json").read_bytes() == (out / "report.json").read_bytes()
    assert (again / "report.html").read_bytes() == (out / "report.html").read_bytes()


@pytest.mark.slow
@pytest.mark.parametrize("scenario", SHIPPED, ids=lambda p: p.stem)
def test_fold_of_a_shipped_scenario_equals_its_metrics(scenario: Path, tmp_path: Path) -> None:
    result, out = _run(scenario, tmp_path)
    _fold_equals_metrics(result, out)
    _report_is_rewritten(out, tmp_path)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_fold_of_a_small_run_equals_its_metrics(name: str, tmp_path: Path) -> None:
    result, out = _run_small(name, tmp_path)
    _fold_equals_metrics(result, out)
    _report_is_rewritten(out, tmp_path)


def test_the_small_runs_exercise_what_the_fold_reads(tmp_path: Path) -> None:
    """Each small run's point is made: otherwise equality above would prove little."""
    measures = {name: _run_small(name, tmp_path / name)[0].report for name in SMALL}
    assert measures["revoked-with-stale-crl"].measures["unauthorized_access"] > 0
    legacy = measures["ca-outage-with-legacy"].measures
    assert legacy["manual_steps"] > 0
    shared = measures["shared-credentials"].measures
    assert shared["stale_access_after_offboarding"] > 0 and shared["renewals_done"] == 0
    assert shared["unauthorized_access"] > shared["stale_access_after_offboarding"]
    ops = measures["operations"]
    assert ops.measures["devices_offboarded"] == 1 and ops.measures["manual_steps"] >= 5
    assert ops.measures["stale_access_after_offboarding"] == 0
    blocked = measures["blocked-route"].measures
    assert blocked["clinical_downtime_minutes"] > 0 and blocked["incidents"] > 0
    assert measures["manual-approval"].data["enrollment_refusals_by_reason"]["pending-approval"]
    ehr = measures["ehr-faults"]
    # the IdP outage's refusals, and only they (counted and audited in the core)
    assert ehr.measures["tokens_refused"] > 0 and ehr.measures["fhir_writes_refused"] > 0
    assert ehr.data["tokens_refused_by_reason"] == {
        "service-unavailable": ehr.measures["tokens_refused"]}
    assert ehr.measures["token_grant_latency_max_seconds"] > 0
    assert ehr.measures["unauthorized_access"] > 0  # the leaked shared secret
    assert ehr.data["fhir_writes_refused_by_reason"]["patient-context-mismatch"] > 0
    dicom = measures["dicom"].measures
    assert dicom["unauthorized_stores"] > 0 and dicom["dicom_retries_answered"] > 0
    assert dicom["studies_queued"] > 0 and dicom["data_lost"] > 0
    assert measures["dicom"].data["dicom_by_reason"]["associations"]["service-unavailable"] > 0
    still = measures["still-onboarding"].measures
    assert still["recovered"] == 0
    assert still["onboarding_minutes_max"] == 4319.983  # registered to the closing: 3 days less 1 s


def test_the_fold_fails_when_an_event_is_missing(tmp_path: Path) -> None:
    """The comparison can fail: drop one renewal from the log and the fold says so."""
    result, out = _run_small("blocked-route", tmp_path)
    log = out / "events.jsonl"
    lines = log.read_text(encoding="utf-8").splitlines(keepends=True)
    renewal = next(i for i, line in enumerate(lines) if '"certificate-renewed"' in line)
    log.write_text("".join(lines[:renewal] + lines[renewal + 1:]), encoding="utf-8")
    folded = load_record(out).tally
    assert folded.measures["renewals_done"] == result.report.measures["renewals_done"] - 1
    assert folded.measures["audit_coverage"] < 1  # the tally counted a decision it lacks
