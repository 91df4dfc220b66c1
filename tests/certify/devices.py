"""The shipped devices' adapter commands, the scenarios the kit's tests serve, and how
the device tests judge a certification run."""

from __future__ import annotations

import json
import shlex
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from testbed.certify.adapter import Adapter
from testbed.certify.evidence import AuditTrail
from testbed.certify.hospital import KitHospital
from testbed.certify.registry import all_checks, select
from testbed.certify.runner import Certification, certify, profile_of
from testbed.verdicts import Verdict

REPO = Path(__file__).resolve().parents[2]
PILOT = REPO / "scenarios" / "two-site-pilot.yaml"
CERTIFY_EHR = REPO / "fixtures" / "devices" / "certify-ehr.yaml"
PROFILE = "ct-ai-onbox"
BEDSIDE = "bedside-monitor-gateway"  # writes Observations to the EHR; sends no studies
REFERENCE = f"{shlex.quote(sys.executable)} {REPO / 'fixtures/devices/reference/device.py'}"
LEGACY = str(REPO / "fixtures" / "devices" / "legacy" / "device.sh")


def faulty(fault: str) -> str:
    """The reference device with one shipped fault."""
    return f"{REFERENCE} --fault {fault}"


def certify_run(hospital: KitHospital, command: str, profile: str, work: Path,
                suites: Sequence[str] = ()) -> Certification:  # fmt: skip
    """Certify the device behind ``command`` as ``profile`` (every suite by default)."""
    return certify(Adapter.parse(command), hospital, profile_of(hospital, profile),
                   select(list(suites)), work=work)  # fmt: skip


def faults_open(events: Path) -> list[tuple[str, str]]:
    """The faults of the audit log started and not healed."""
    balance: Counter[tuple[str, str]] = Counter()
    for line in events.read_text().splitlines():
        event = json.loads(line)
        if event["kind"] in ("fault-started", "fault-healed"):
            key = (event["subject"], event["fault"])
            balance[key] += 1 if event["kind"] == "fault-started" else -1
    return sorted(k for k, n in balance.items() if n)


def judge(done: Certification, hospital: KitHospital, *, failing: frozenset[str],
          not_applicable: frozenset[str] = frozenset(),
          skipped: frozenset[str] = frozenset()) -> None:  # fmt: skip
    """The run failed exactly ``failing``, skipped ``not_applicable`` (not required) and
    ``skipped`` (required: the device does not support them), passed the rest; its
    evidence exists in the audit log; no fault is left open; the hospital answers."""
    verdicts = {r.check.id: r.verdict for r in done.results}
    ran = [c.id for c in all_checks() if c.id in verdicts]
    assert list(verdicts) == ran
    wanted = {i: Verdict.FAIL if i in failing else Verdict.SKIP
              if i in not_applicable | skipped else Verdict.PASS for i in verdicts}  # fmt: skip
    reasons = {r.check.id: r.reason for r in done.results if r.verdict is not wanted[r.check.id]}
    assert verdicts == wanted, reasons
    assert {r.check.id for r in done.results if not r.required} >= not_applicable
    assert done.certified == (not failing and not skipped)
    trail = AuditTrail(hospital.events)
    for result in done.results:
        if result.verdict is Verdict.SKIP:
            continue
        assert result.evidence.events or result.check.id == "EST-02", result.check.id
        for ref in result.evidence.events:
            assert trail.exists(ref), (result.check.id, ref)
        assert result.evidence.exchanges or result.check.id == "KIT-01"
    assert faults_open(hospital.events) == []
    assert hospital.alive()
