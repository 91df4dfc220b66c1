"""The shipped devices against the live hospital: the reference and the legacy shell
device pass every check; each faulty device fails exactly the checks its fault
breaks and passes the others; every verdict's evidence points at audit events that
exist; the hospital is healed after every run."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from testbed.certify.adapter import Adapter
from testbed.certify.evidence import AuditTrail
from testbed.certify.hospital import KitHospital
from testbed.certify.registry import all_checks, select
from testbed.certify.runner import Certification, certify, profile_of
from testbed.verdicts import Verdict
from tests.certify.devices import LEGACY, PROFILE, REFERENCE, faulty

pytestmark = [pytest.mark.live, pytest.mark.slow]

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


def _faults_open(events: Path) -> list[tuple[str, str]]:
    balance: Counter[tuple[str, str]] = Counter()
    for line in events.read_text().splitlines():
        event = json.loads(line)
        if event["kind"] in ("fault-started", "fault-healed"):
            key = (event["subject"], event["fault"])
            balance[key] += 1 if event["kind"] == "fault-started" else -1
    return sorted(k for k, n in balance.items() if n)


def _run(hospital: KitHospital, command: str, work: Path) -> Certification:
    profile = profile_of(hospital, PROFILE)
    return certify(Adapter.parse(command), hospital, profile, select([]), work=work)


@pytest.mark.parametrize("device", list(DEVICES))
def test_each_device_fails_exactly_its_checks(
    device: str, hospital: KitHospital, tmp_path: Path
) -> None:
    command, expected = DEVICES[device]
    done = _run(hospital, command, tmp_path)
    verdicts = {r.check.id: r.verdict for r in done.results}
    assert list(verdicts) == [c.id for c in all_checks()]
    wanted = {i: Verdict.FAIL if i in expected else Verdict.PASS for i in verdicts}
    reasons = {r.check.id: r.reason for r in done.results if r.verdict is not wanted[r.check.id]}
    assert verdicts == wanted, reasons
    assert done.certified == (not expected)
    # evidence: every event a verdict rests on exists in the hospital's audit log
    trail = AuditTrail(hospital.events)
    for result in done.results:
        assert result.evidence.events or result.check.id == "EST-02", result.check.id
        for ref in result.evidence.events:
            assert trail.exists(ref), (result.check.id, ref)
        assert result.evidence.exchanges or result.check.id == "KIT-01"
    # healed: every fault the kit started has ended, and the hospital still answers
    assert _faults_open(hospital.events) == []
    assert hospital.alive()
