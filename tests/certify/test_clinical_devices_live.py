"""The shipped devices against a live hospital with an identity provider and an EHR
(fixtures/devices/certify-ehr.yaml, tokens living 5 s), certified as the bedside
gateway (it writes Observations; it sends no studies, so the DICOM checks are skipped
as not applicable): the reference device passes every check; each SMART/FHIR fault
fails exactly its checks; the legacy shell device supports neither (SMART and FHIR
skipped: required, so it is not certified for this profile)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from testbed.certify.hospital import KitHospital
from testbed.certify.registry import SUITES
from tests.certify.devices import (
    BEDSIDE,
    CERTIFY_EHR,
    LEGACY,
    REFERENCE,
    certify_run,
    faulty,
    judge,
)

pytestmark = [pytest.mark.live, pytest.mark.slow]

CLINICAL = frozenset(c.id for s in ("smart", "fhir") for c in SUITES[s])
DICOM = frozenset(c.id for c in SUITES["dicom"])

# the SMART and FHIR suites only (the EST and lifecycle ones run in test_devices_live.py)
DEVICES = {
    # one jti for every assertion: the second token request is a replay
    "reuses-jti": (faulty("reuses-jti"), frozenset({"SMART-01", "SMART-02", "FHIR-02"})),
    # asks for system/*.* (the IdP grants only what is pre-authorized; SMART-03 sees it)
    "asks-system-star": (faulty("asks-system-star"), frozenset({"SMART-03"})),
    # a refused Observation is dropped, not queued
    "drops-data": (faulty("drops-data"), frozenset({"FHIR-02"})),
    # resends what it sent, with a new identifier and no If-None-Exist
    "duplicates-on-retry": (faulty("duplicates-on-retry"), frozenset({"FHIR-02"})),
}  # fmt: skip
# why FHIR-02 fails: the first refusal (401, the token inactive) loses or doubles data
FHIR_02_BECAUSE = {
    "drops-data": "refused 401 invalid_token, the device did not keep the Observation",
    "duplicates-on-retry": "duplicate: 2 Observations sent, 3 created",
}


@pytest.fixture(scope="module")
def ehr_hospital(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KitHospital]:
    """The certification EHR hospital, live on loopback, for this module."""
    started = KitHospital.start(CERTIFY_EHR, tmp_path_factory.mktemp("certify-ehr") / "state")
    yield started
    started.stop()


def test_the_reference_device_passes_every_check(ehr_hospital: KitHospital,
                                                 tmp_path: Path) -> None:  # fmt: skip
    done = certify_run(ehr_hospital, REFERENCE, BEDSIDE, tmp_path)
    judge(done, ehr_hospital, failing=frozenset(), not_applicable=DICOM)
    [kept] = [r for r in done.results if r.check.id == "FHIR-02"]
    refused = {(e.kind, e.data.get("status"), e.data.get("reason"))
               for e in kept.evidence.events if e.data.get("allowed") is False}  # fmt: skip
    # 401: token-inactive (the token it held) and/or token-key-unknown (a new one)
    assert {s for _, s, r in refused if str(r).startswith("token-")} == {401}, refused
    assert {("access-decision", None, "device-suspended"),
            ("access-decision", None, "service-unavailable")} <= refused, refused  # fmt: skip


@pytest.mark.parametrize("device", list(DEVICES))
def test_each_clinical_fault_fails_exactly_its_checks(
    device: str, ehr_hospital: KitHospital, tmp_path: Path
) -> None:
    command, expected = DEVICES[device]
    done = certify_run(ehr_hospital, command, BEDSIDE, tmp_path, ("smart", "fhir"))
    judge(done, ehr_hospital, failing=expected)
    if device in FHIR_02_BECAUSE:
        [kept] = [r for r in done.results if r.check.id == "FHIR-02"]
        assert FHIR_02_BECAUSE[device] in kept.reason, kept.reason


def test_the_legacy_device_skips_smart_and_fhir_unsupported(
    ehr_hospital: KitHospital, tmp_path: Path
) -> None:
    done = certify_run(ehr_hospital, LEGACY, BEDSIDE, tmp_path, ("smart", "fhir"))
    judge(done, ehr_hospital, failing=frozenset(), skipped=CLINICAL)
    assert all("action keys: the device does not support it (exit 3)" in r.reason
               for r in done.results if r.check.id in CLINICAL)  # fmt: skip
