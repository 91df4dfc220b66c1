"""KIT-01, the kit's own check: the hospital is healed after the run.

Every fault the kit started is healed (the session's ledger is emptied first, so a
check that stopped half-way leaves nothing behind), every ``fault-started`` of the
run has its ``fault-healed``, and a probe device enrolls over EST with the project's
own client: the CA issues again.  Certification needs it to pass: a verdict taken on a
hospital left broken says nothing about the next device.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path

from testbed.certify.checks import Check, CheckRun, Finding, failed, passed
from testbed.certify.est_client import csr_body, post, read_certificates
from testbed.pki.keys import KeyType, new_private_key

__all__ = ["CHECKS"]

SUITE = "kit"


def hospital_healed(run: CheckRun) -> Finding:
    """KIT-01: faults healed, each start matched by a heal, and EST issuing again."""
    session = run.session
    left = session.heal()
    if left:
        run.note(f"healed faults a check left open: {left}")
    events = run.events(session.start, kind="fault-started") + run.events(
        session.start, kind="fault-healed"
    )
    balance: Counter[tuple[str, str]] = Counter()
    for event in events:
        fault = (event.subject, str(event.data.get("fault")))
        balance[fault] += 1 if event.kind == "fault-started" else -1
    open_faults = sorted(k for k, n in balance.items() if n > 0)
    if open_faults:
        return failed(f"faults started and never healed: {open_faults}")
    probe = run.instance("recovery-probe")
    key = new_private_key(KeyType(probe.key_type), None)
    mark = run.mark()
    with tempfile.TemporaryDirectory() as scratch:
        bundle = Path(scratch) / "bundle.pem"
        bundle.write_bytes(session.hospital.bundle.read_bytes())
        answer = post(f"{session.hospital.est_url}/simpleenroll",
                      csr_body(key, probe.device_id), ca_bundle=bundle,
                      basic=(probe.device_id, probe.password))  # fmt: skip
    issued = run.events(mark, kind="certificate-issued", subject=probe.device_id)
    if answer.status != 200 or not read_certificates(answer.body) or not issued:
        return failed(f"the probe's enrollment was answered {answer.status}: {answer.text}")
    offboarded = run.mark()
    session.hospital.admin(f"/devices/{probe.device_id}/offboard")  # leave nothing active
    run.events(offboarded, subject=probe.device_id)
    healed = sum(1 for e in events if e.kind == "fault-healed")
    return passed(f"{healed} fault(s) started and healed; a probe device enrolled "
                  "(EST issuing again) and was offboarded")  # fmt: skip


CHECKS: tuple[Check, ...] = (
    Check("KIT-01", "The hospital is healed after certification", SUITE,
          ("seed §6: every run ends by healing every fault",),
          "After the device's checks the kit heals every fault it started, requires a "
          "fault-healed event for each fault-started of the run, and enrolls a probe "
          "device over EST with its own client (then offboards it).", hospital_healed),
)  # fmt: skip
