"""The EST suite (RFC 7030): enrollment, server authentication, re-enrollment, approval,
revocation.  Each check works on a fresh instance of the device (its own registration
and workdir) and judges from what the device answered and what the hospital's audit
log says happened.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.x509.oid import NameOID

from testbed.certify.adapter import Action
from testbed.certify.checks import Check, CheckRun, Finding, NotMet, failed, passed, skipped
from testbed.certify.evidence import EventRef
from testbed.certify.impostor import Impostor
from testbed.certify.steps import did, enrolled, public_der, read_certificate, status
from testbed.devices import DeviceProfile
from testbed.pki.keys import key_label

__all__ = ["CHECKS"]

SUITE = "est"
_ISSUED, _RENEWED, _REFUSED = "certificate-issued", "certificate-renewed", "enrollment-refused"


def _cn(certificate: x509.Certificate) -> str:
    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else ""


def _sans(certificate: x509.Certificate) -> object:
    try:
        return certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None


def bootstrap_enrollment(run: CheckRun) -> Finding:
    """EST-01: enroll with the bootstrap secret; the certificate the device holds is the
    one the hospital issued it, for its registered id and key type."""
    instance = run.instance("bootstrap")
    mark = run.mark()
    exchange = run.call(instance, Action.ENROLL, **run.session.enroll_request(instance))
    did(exchange, "enroll")
    answer = exchange.response or {}
    certificate = read_certificate(answer["certificate"])
    if certificate is None:
        return failed(f"the answer's certificate {answer['certificate']!r} holds no PEM "
                      "certificate")  # fmt: skip
    issued = run.events(mark, kind=_ISSUED, subject=instance.device_id)
    serial = f"{certificate.serial_number:x}"
    if serial not in {e.data.get("serial") for e in issued}:
        return failed(f"the device holds certificate {serial}, which the hospital did not "
                      f"issue to {instance.device_id} in this step")  # fmt: skip
    if _cn(certificate) != instance.device_id:
        return failed(f"the certificate's CN is {_cn(certificate)!r}, not the registered "
                      f"id {instance.device_id!r}")  # fmt: skip
    held = key_label(certificate.public_key())
    if held != instance.key_type:
        return failed(f"the certificate carries a {held} key; the device is registered for "
                      f"{instance.key_type}")  # fmt: skip
    return passed(f"enrolled {instance.device_id} with its bootstrap secret: certificate "
                  f"{serial} ({held}), issued by the hospital")  # fmt: skip


def impostor_refused(run: CheckRun) -> Finding:
    """EST-02: the device refuses an EST server its trust anchors do not validate."""
    instance = run.instance("impostor")
    with Impostor() as impostor:
        run.note(f"impostor EST server at {impostor.url} (certificate from a foreign CA)")
        request = run.session.enroll_request(instance, est_url=impostor.url)
        exchange = run.call(instance, Action.ENROLL, **request)
        seen = list(impostor.requests)
        run.note(f"impostor: {impostor.handshakes_failed} handshake(s) refused by the "
                 f"client, {len(seen)} request(s) received {seen}")  # fmt: skip
    if seen:
        return failed(f"the device completed TLS with the impostor and sent {seen[0]!r} "
                      "(its bootstrap credentials went to an unauthenticated server)")
    if exchange.succeeded:
        return failed("the device reported a successful enrollment against the impostor")
    return passed("the device refused the impostor's certificate: no request reached it, "
                  f"and enroll answered exit {exchange.exit}")  # fmt: skip


def reenrollment(run: CheckRun) -> Finding:
    """EST-03: re-enrollment with the current certificate, same subject and SANs."""
    first = enrolled(run, "renewal")
    mark = run.mark()
    exchange = run.call(first.instance, Action.RENEW, **run.session.renew_request())
    did(exchange, "renew")
    renewed = read_certificate((exchange.response or {})["certificate"])
    if renewed is None:
        return failed("the renew answer's certificate holds no PEM certificate")
    serial = f"{renewed.serial_number:x}"
    events = run.events(mark, kind=_RENEWED, subject=first.instance.device_id)
    if serial == first.serial or serial not in {e.data.get("serial") for e in events}:
        return failed(f"no re-enrollment: the device holds {serial} (it had {first.serial}) "
                      f"and the hospital renewed {[e.data.get('serial') for e in events]}")
    if renewed.subject != first.certificate.subject or _sans(renewed) != _sans(
        first.certificate
    ):
        return failed("the renewed certificate's subject or SANs differ from the current one's")
    return passed(f"re-enrolled before expiry: {first.serial} -> {serial}, same subject "
                  "and SANs (simplereenroll, authenticated by the current certificate)")


def key_rotation(run: CheckRun) -> Finding:
    """EST-04: the renewed certificate carries a new key (the profile says it rotates)."""
    if not run.profile.rotates_key_on_renewal:
        return skipped(f"profile {run.profile.id} does not rotate keys on renewal")
    first = enrolled(run, "rotation")
    mark = run.mark()
    exchange = run.call(first.instance, Action.RENEW, **run.session.renew_request())
    did(exchange, "renew")
    renewed = read_certificate((exchange.response or {})["certificate"])
    events = run.events(mark, kind=_RENEWED, subject=first.instance.device_id)
    if renewed is None or not events:
        return failed("no renewal happened, so no key rotated")
    if public_der(renewed) == public_der(first.certificate):
        return failed(f"profile {run.profile.id} rotates keys on renewal, but the renewed "
                      "certificate carries the same public key")  # fmt: skip
    return passed("the renewed certificate carries a new public key")


def _pending(device_id: str, event: EventRef) -> bool:
    return event.kind == _REFUSED and event.subject == device_id and event.data.get(
        "status"
    ) == 202


def approval_retried(run: CheckRun) -> Finding:
    """EST-05: a 202 with Retry-After (manual approval) is retried, not a failure."""
    instance = run.instance("approval")
    session = run.session
    held = run.mark()
    session.hospital.admin(f"/devices/{instance.device_id}/hold")
    mark = run.mark()
    run.events(held, subject=instance.device_id)  # the hold (policy-changed)
    approvals: list[EventRef] = []

    def approve_when_asked() -> None:
        if approvals:
            return
        for event in session.trail.since(mark):
            if _pending(instance.device_id, event):
                session.hospital.admin(f"/devices/{instance.device_id}/approve")
                approvals.append(event)
                return

    exchange = run.call(instance, Action.ENROLL, **session.enroll_request(instance),
                        while_waiting=approve_when_asked)  # fmt: skip
    run.events(mark, subject=instance.device_id)
    if not approvals:
        return failed("the hospital never answered 202: the device did not ask while its "
                      "enrollment waited for approval")  # fmt: skip
    if not exchange.succeeded:
        return failed(f"the device treated the 202 as a failure (exit {exchange.exit}: "
                      f"{exchange.stderr or 'no reason'})")  # fmt: skip
    return passed("the device got 202 + Retry-After, waited, asked again after the "
                  "operator's approval and enrolled")  # fmt: skip


def revocation_reported(run: CheckRun) -> Finding:
    """EST-06: after revocation the device reports the failure and stops using the
    certificate."""
    first = enrolled(run, "revocation")
    device = first.instance.device_id
    mark = run.mark()
    run.session.hospital.admin(f"/devices/{device}/revoke", {"reason": "keyCompromise"})
    run.events(mark, kind="certificate-revoked", subject=device)
    asked = run.mark()
    exchange = run.call(first.instance, Action.RENEW, **run.session.renew_request())
    refused = [e for e in run.events(asked, kind=_REFUSED, subject=device)
               if e.data.get("reason") == "cert-revoked"]  # fmt: skip
    if exchange.succeeded:
        return failed("the device reported a successful renewal with a revoked certificate")
    if not refused:
        raise NotMet("the device did not ask the hospital, so it cannot have learned of "
                     "the revocation (no cert-revoked refusal in the audit log)")
    state = status(run, first.instance)
    if not state.get("last_error"):
        return failed("the renewal was refused (cert-revoked) but status.last_error is empty: "
                      "the failure is silent")  # fmt: skip
    if state.get("certificate_serial") is not None and str(
        state["certificate_serial"]
    ).lower().lstrip("0") == first.serial.lstrip("0"):
        return failed(f"status still names the revoked certificate {first.serial} as current")
    again = run.mark()
    run.call(first.instance, Action.RENEW, **run.session.renew_request())
    presented = [e for e in run.events(again, kind=_REFUSED, subject=device)
                 if e.data.get("reason") == "cert-revoked"]  # fmt: skip
    if presented:
        return failed("asked again, the device presented the revoked certificate again")
    return passed(f"refused (cert-revoked), reported ({state['last_error']!r}), and the "
                  "revoked certificate was not presented again")  # fmt: skip


def _rotates(profile: DeviceProfile) -> bool:
    return profile.rotates_key_on_renewal


CHECKS: tuple[Check, ...] = (
    Check("EST-01", "Bootstrap enrollment with the registered identity and key type", SUITE,
          ("RFC 7030 §4.2.1", "seed §7 step 2"),
          "The kit registers an instance (admin API) and asks it to enroll with its one-time "
          "bootstrap secret. Pass: exit 0, and the certificate the device holds is the one "
          "the audit log shows issued to it (certificate-issued), with CN = the device id "
          "and a key of the registered type.", bootstrap_enrollment),
    Check("EST-02", "Refuses an EST server its trust anchors do not validate", SUITE,
          ("RFC 7030 §3.3.1", "RFC 7030 §3.6.1"),
          "The kit starts an impostor EST server (HTTPS on loopback, certificate from a "
          "foreign CA) and asks a fresh instance to enroll there with the hospital's trust "
          "bundle. Pass: the device aborts the TLS handshake (the impostor receives no "
          "request) and enroll does not report success.", impostor_refused),
    Check("EST-03", "Re-enrollment with the current certificate, same subject and SANs",
          SUITE, ("RFC 7030 §4.2.2",),
          "An enrolled instance is asked to renew. Pass: exit 0 with a new certificate that "
          "the audit log shows renewed (certificate-renewed, simplereenroll), with the "
          "subject and SANs of the previous one.", reenrollment),
    Check("EST-04", "Key rotation on renewal (when the profile rotates keys)", SUITE,
          ("RFC 7030 §4.2.2", "profile: rotates_key_on_renewal"),
          "An enrolled instance is asked to renew. Pass: the renewed certificate carries a "
          "new public key. Required (and run) only for profiles with rotates_key_on_renewal.",
          key_rotation, _rotates),
    Check("EST-05", "A 202 with Retry-After (manual approval) is retried", SUITE,
          ("RFC 7030 §4.2.3", "seed §7 step 2"),
          "The kit holds a fresh instance's enrollment for approval (admin API: hold), "
          "asks it to enroll, and approves once the audit log shows the 202. Pass: enroll "
          "ends with exit 0 (the device waited and asked again).", approval_retried),
    Check("EST-06", "After revocation the device reports it and stops using the certificate",
          SUITE, ("RFC 7030 §4.2.2", "RFC 5280 §3.3", "seed §6"),
          "An enrolled instance's certificate is revoked (admin API) and the device asked to "
          "renew. Pass: the hospital refuses (cert-revoked), the device does not report "
          "success, status.last_error says why, status no longer names the revoked serial, "
          "and asked again it does not present the revoked certificate.",
          revocation_reported),
)  # fmt: skip
