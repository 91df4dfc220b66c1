"""The lifecycle suite (seed §6-7): fail safe under faults, offboard cleanly, survive a
trust bundle change.

The faults a device meets are the ones EST shows it (a CA outage, a revoked
certificate, a new issuing CA) and a blocked route to the service its clinical data
goes to, a study to its PACS or an Observation to the EHR (LIFE-01's data-keeping
half, :mod:`testbed.certify.data_kept`: refused, reported, kept, delivered after the
heal).
"""

from __future__ import annotations

from pathlib import Path

from testbed.certify.adapter import Action
from testbed.certify.checks import Check, CheckRun, Finding, NotMet, failed, passed
from testbed.certify.data_kept import data_kept, fail_safe_instance
from testbed.certify.steps import did, enrolled, read_certificate, status

__all__ = ["CHECKS"]

SUITE = "lifecycle"
_CA_OUTAGE = "/faults/ca-outage"


def _same_serial(reported: object, serial: str) -> bool:
    return reported is not None and str(reported).lower().lstrip("0") == serial.lstrip("0")


def fail_safe(run: CheckRun) -> Finding:
    """LIFE-01: refused under a blocked route (data kept), a CA outage and after
    revocation, the device reports it, keeps its data and its still-valid credential,
    and recovers once the fault heals."""
    first, payload = fail_safe_instance(run, "fail-safe")
    device = first.instance.device_id
    session = run.session
    data = data_kept(run, first, payload)
    if data is not None:
        return data
    mark = run.mark()
    session.faults.begin(_CA_OUTAGE)
    run.note("CA outage started (admin API)")
    during = run.call(first.instance, Action.RENEW, **session.renew_request())
    run.events(mark, subject="ca")
    refused = [e for e in run.events(mark, kind="enrollment-refused", subject=device)
               if e.data.get("status") == 503]  # fmt: skip
    if during.succeeded:
        return failed("during the CA outage the device reported a successful renewal")
    if not refused:
        raise NotMet("during the CA outage the device did not ask the hospital")
    state = status(run, first.instance)
    if not state.get("last_error"):
        return failed("the renewal was refused (503, CA outage) but status.last_error is "
                      "empty: the failure is silent")  # fmt: skip
    if not _same_serial(state.get("certificate_serial"), first.serial):
        return failed(f"during the outage the device dropped its valid certificate "
                      f"{first.serial} (status names {state.get('certificate_serial')!r})")
    healed = run.mark()
    session.faults.end(_CA_OUTAGE)
    run.events(healed, subject="ca")
    after = run.call(first.instance, Action.RENEW, **session.renew_request())
    did(after, "after the CA outage healed, renew")
    current = read_certificate((after.response or {})["certificate"])
    serial = "" if current is None else f"{current.serial_number:x}"
    revoked = run.mark()
    session.hospital.admin(f"/devices/{device}/revoke", {"reason": "keyCompromise"})
    run.events(revoked, kind="certificate-revoked", subject=device)
    refused_revoked = run.call(first.instance, Action.RENEW, **session.renew_request())
    if refused_revoked.succeeded:
        return failed("with a revoked certificate the device reported a successful renewal")
    state = status(run, first.instance)
    if not state.get("last_error") or _same_serial(state.get("certificate_serial"), serial):
        return failed("after revocation the device did not report it (status.last_error "
                      f"{state.get('last_error')!r}) or still names the revoked certificate "
                      f"{serial} as current")  # fmt: skip
    kept = "" if payload is None else (
        f"blocked route: {payload.what} refused, reported, kept and delivered after the "
        "heal; ")
    return passed(f"{kept}CA outage: refused, reported, valid certificate kept, recovered "
                  "after the heal; revoked certificate: refused and reported")  # fmt: skip


def _private_keys(workdir: Path) -> list[str]:
    found = []
    for path in sorted(workdir.rglob("*")):
        if path.is_file() and b"PRIVATE KEY" in path.read_bytes():
            found.append(str(path))
    return found


def offboarding(run: CheckRun) -> Finding:
    """LIFE-02: after ``wipe`` and the hospital's offboarding, the device holds no
    credential and every attempt is refused."""
    first = enrolled(run, "offboarding")
    device = first.instance.device_id
    wiped = run.call(first.instance, Action.WIPE)
    did(wiped, "wipe")
    state = status(run, first.instance)
    if state.get("certificate_serial") is not None:
        return failed(f"after wipe, status still names certificate "
                      f"{state['certificate_serial']}")  # fmt: skip
    kept = [p for p in (first.answer["certificate"], first.answer["key"]) if Path(p).exists()]
    keys = _private_keys(first.instance.workdir)
    if kept or keys:
        return failed(f"after wipe the device still holds {sorted(set(kept + keys))}")
    mark = run.mark()
    session = run.session
    session.hospital.admin(f"/devices/{device}/offboard")
    run.events(mark, subject=device)
    tried = run.mark()
    renew = run.call(first.instance, Action.RENEW, **session.renew_request())
    enroll = run.call(first.instance, Action.ENROLL, **session.enroll_request(first.instance))
    granted = [e for e in run.events(tried, subject=device)
               if e.kind in ("certificate-issued", "certificate-renewed")]  # fmt: skip
    if granted or renew.succeeded or enroll.succeeded:
        return failed("after offboarding an attempt succeeded: "
                      f"renew exit {renew.exit}, enroll exit {enroll.exit}, "
                      f"{len(granted)} certificate(s) issued")  # fmt: skip
    return passed("wipe left no certificate or private key; after offboarding renew and "
                  "enroll (old bootstrap secret) were refused, nothing issued")  # fmt: skip


def trust_change(run: CheckRun) -> Finding:
    """LIFE-03: after a new issuing CA and ``set-trust`` with the new bundle, the device
    keeps working (renews from the new issuing CA)."""
    first = enrolled(run, "trust-change")
    session = run.session
    mark = run.mark()
    rotated = session.hospital.admin("/ca/rotate", {"site": first.instance.site,
                                                    "overlap_seconds": 0})  # fmt: skip
    run.events(mark, kind="ca-key-rotated")
    new_ca = str(rotated["issuing_ca"])
    run.note(f"new issuing CA {new_ca} (generation {rotated['generation']})")
    delivered = session.hospital.admin("/trust/deliver")["delivered"]
    run.events(mark, kind="trust-bundle-updated")
    run.note(f"new trust bundle delivered to the sites' servers now: {delivered}")
    bundle = session.bundle()
    did(run.call(first.instance, Action.SET_TRUST, ca_bundle=str(bundle)), "set-trust")
    renewal = run.mark()
    exchange = run.call(first.instance, Action.RENEW, est_url=session.hospital.est_url,
                        ca_bundle=str(bundle))  # fmt: skip
    did(exchange, "renew after the trust bundle change")
    renewed = run.events(renewal, kind="certificate-renewed", subject=first.instance.device_id)
    if not renewed or renewed[-1].data.get("issuer") != new_ca:
        issuers = [e.data.get("issuer") for e in renewed]
        return failed(f"no renewal from the new issuing CA {new_ca} (renewed by {issuers})")
    return passed(f"took the new trust bundle and renewed from the new issuing CA {new_ca}")


CHECKS: tuple[Check, ...] = (
    Check("LIFE-01", "Fail safe, not silent, under the pre-production faults", SUITE,
          ("seed §6", "seed §7 step 3", "RFC 7030 §4.2.3"),
          "An enrolled instance that sends clinical data (a study to its PACS, else an "
          "Observation to the EHR) meets a blocked route to that service (admin API) and "
          "is asked to send: it must not report success, must set status.last_error and "
          "keep the data (status.queued), and flush must deliver it after the heal (the "
          "PACS stores it, the EHR creates it). Then a CA outage and a renewal: it must "
          "not report success, must say why in status.last_error, and must keep its "
          "still-valid certificate; after the heal it must renew. Then its certificate is "
          "revoked: the renewal must be refused and reported.", fail_safe),
    Check("LIFE-02", "Offboarding leaves no credential and every attempt refused", SUITE,
          ("seed §2", "seed §7"),
          "An enrolled instance is wiped (wipe) and offboarded (admin API). Pass: status "
          "names no certificate, the workdir holds no private key and the answered "
          "certificate and key files are gone, and renew and enroll with the old bootstrap "
          "secret both fail with nothing issued.", offboarding),
    Check("LIFE-03", "Keeps working after a trust bundle change (new issuing CA)", SUITE,
          ("seed §6", "RFC 7030 §4.1.3"),
          "The kit rotates the issuing CA (admin API, no overlap), delivers the new bundle "
          "to the sites' servers at once (so the PACSs trust the new issuing CA), hands the "
          "device the new bundle (set-trust) and asks it to renew. Pass: both succeed and "
          "the audit log shows the renewal signed by the new issuing CA.", trust_change),
)  # fmt: skip
