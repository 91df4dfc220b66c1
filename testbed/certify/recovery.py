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

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from testbed.certify.checks import Check, CheckRun, Finding, failed, passed
from testbed.certify.dicom_client import echo, tls_context
from testbed.certify.dicom_suite import pacs_for
from testbed.certify.est_client import csr_body, post, read_certificates
from testbed.certify.session import Instance
from testbed.pki.keys import KeyType, PrivateKey, new_private_key

__all__ = ["CHECKS"]

SUITE = "kit"


def hospital_healed(run: CheckRun) -> Finding:
    """KIT-01: faults healed, each start matched by a heal, EST issuing again and the
    PACS answering (a C-ECHO, for a profile that speaks DICOM)."""
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
        certificates = read_certificates(answer.body) if answer.status == 200 else []
        if not certificates or not issued:
            return failed(f"the probe's enrollment was answered {answer.status}: "
                          f"{answer.text}")  # fmt: skip
        pacs = _pacs_answers(run, probe, key, certificates[0], Path(scratch))
    offboarded = run.mark()
    session.hospital.admin(f"/devices/{probe.device_id}/offboard")  # leave nothing active
    run.events(offboarded, subject=probe.device_id)
    if pacs is not None and not pacs[1]:
        return failed(f"the PACS {pacs[0]} refused the probe's C-ECHO: {pacs[2]}")
    healed = sum(1 for e in events if e.kind == "fault-healed")
    echoed = "" if pacs is None else f", {pacs[0]} answered its C-ECHO"
    return passed(f"{healed} fault(s) started and healed; a probe device enrolled (EST "
                  f"issuing again){echoed} and was offboarded")  # fmt: skip


def _pacs_answers(run: CheckRun, probe: Instance, key: PrivateKey,
                  certificate: x509.Certificate,
                  scratch: Path) -> tuple[str, bool, str] | None:  # fmt: skip
    """For a probe with an AE title in a hospital with a PACS: (the PACS of its site,
    whether it answered a C-ECHO over DICOM TLS, why not); else None."""
    entries = run.session.hospital.endpoints.get("dicom")
    if probe.ae_title is None or not entries:
        return None
    pacs = pacs_for(run.session, probe)
    cert_file, key_file = scratch / "probe.pem", scratch / "probe.key"
    cert_file.write_bytes(certificate.public_bytes(Encoding.PEM))
    key_file.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    mark = run.mark()
    context = tls_context(scratch / "bundle.pem", cert_file, key_file)
    why = echo(pacs.host, pacs.port, called_ae=pacs.ae_title, calling_ae=probe.ae_title,
               context=context)  # fmt: skip
    answered = [e for e in run.events(mark, kind="dicom-echo", subject=probe.device_id)
                if e.data.get("allowed")]  # fmt: skip
    return pacs.service, why is None and bool(answered), why or "no dicom-echo event"


CHECKS: tuple[Check, ...] = (
    Check("KIT-01", "The hospital is healed after certification", SUITE,
          ("seed §6: every run ends by healing every fault",),
          "After the device's checks the kit heals every fault it started, requires a "
          "fault-healed event for each fault-started of the run, enrolls a probe device "
          "over EST with its own client and, when the profile speaks DICOM, has the PACS "
          "of its site answer the probe's C-ECHO over DICOM TLS (then offboards it).",
          hospital_healed),
)  # fmt: skip
