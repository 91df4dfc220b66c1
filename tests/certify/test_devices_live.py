"""The shipped devices against the live two-site pilot (EST, DICOM and lifecycle; it has
no EHR, so the SMART and FHIR checks are skipped as not applicable, and not required):
the reference and the legacy shell device pass every check; each faulty device fails
exactly the checks its fault breaks and passes the others; every verdict's evidence
points at audit events that exist; the hospital is healed after every run.  The SMART
and FHIR suites run against an EHR hospital in test_clinical_devices_live.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from testbed.certify.hospital import KitHospital
from testbed.certify.registry import SUITES
from tests.certify.devices import LEGACY, PROFILE, REFERENCE, certify_run, faulty, judge

pytestmark = [pytest.mark.live, pytest.mark.slow]

NOT_HERE = frozenset(c.id for s in ("smart", "fhir") for c in SUITES[s])
"""No EHR in the pilot: these checks cannot apply (skip, not required)."""

# what each shipped device must fail (docs/certify.md, "Shipped devices")
DEVICES = {
    "reference": (REFERENCE, frozenset()),
    "legacy-shell": (LEGACY, frozenset()),
    # it sends its bootstrap credentials to any server
    "accept-any-server": (faulty("accept-any-server"), frozenset({"EST-02"})),
    # asked to renew it answers with its current certificate: no re-enrollment, no new
    # key, nothing from the new issuing CA, and it never meets the revocation or the
    # CA outage, so it reports success through both (fail-silent)
    "never-renews": (faulty("never-renews"),
                     frozenset({"EST-03", "EST-04", "EST-06", "LIFE-01", "LIFE-03"})),
    # a refused re-enrollment is not reported and the revoked certificate stays current
    "keeps-revoked": (faulty("keeps-revoked"), frozenset({"EST-06", "LIFE-01"})),
    # a study the PACS refused (outage, blocked route) is dropped, not queued
    "drops-data": (faulty("drops-data"), frozenset({"DICOM-02", "LIFE-01"})),
    # keeps what it sent until a flush, and resends it with a new SOP Instance UID
    "duplicates-on-retry": (faulty("duplicates-on-retry"), frozenset({"DICOM-02"})),
}  # fmt: skip


@pytest.mark.parametrize("device", list(DEVICES))
def test_each_device_fails_exactly_its_checks(
    device: str, hospital: KitHospital, tmp_path: Path
) -> None:
    command, expected = DEVICES[device]
    done = certify_run(hospital, command, PROFILE, tmp_path)
    judge(done, hospital, failing=expected, not_applicable=NOT_HERE)
