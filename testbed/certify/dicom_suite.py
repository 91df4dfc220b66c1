"""The DICOM suite (issue 15): DICOM TLS to the hospital's PACS, and store and forward.

Each check enrolls a fresh instance (its EST key and certificate are its DICOM TLS
identity) and has it ``send-study`` to the PACS of its site (``endpoints.json``
``dicom``) with the calling AE title the registration gave it.  Verdicts rest on the
PACS's own audit events: ``dicom-association`` (allowed, reason, TLS version, calling
AE title) and ``dicom-store`` (SOP Instance and Study UIDs, ``duplicate``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from testbed.certify.adapter import Action
from testbed.certify.checks import Check, CheckRun, Finding, NotMet, failed, not_applicable, passed
from testbed.certify.impostor import Impostor
from testbed.certify.session import Instance, Session
from testbed.certify.steps import Enrolled, did, enrolled, status
from testbed.devices import DeviceProfile
from testbed.pacs.ae_title import canonical_ae_title
from testbed.sites import ServiceKind

__all__ = ["CHECKS", "SUITE", "Pacs", "pacs_for", "stored_studies", "study_request"]

SUITE = "dicom"
PACS_OUTAGE = "/faults/pacs-outage"
_TLS_OK = ("tls1.2", "tls1.3")


@dataclass(frozen=True, slots=True)
class Pacs:
    """A PACS the hospital serves (an ``endpoints.json`` ``dicom`` entry)."""

    service: str
    site: str
    host: str
    port: int
    ae_title: str


def pacs_for(session: Session, instance: Instance) -> Pacs:
    """The PACS of the instance's site (else the first one); :class:`NotMet` if none."""
    entries = [Pacs(str(e["service"]), str(e["site"]), str(e["host"]), int(e["port"]),
                    str(e["ae_title"])) for e in session.hospital.endpoints.get("dicom", [])]
    if not entries:
        raise NotMet("precondition: the hospital serves no PACS (no 'dicom' endpoints)")
    return next((p for p in entries if p.site == instance.site), entries[0])


def study_request(session: Session, instance: Instance, pacs: Pacs, *,
                  host: str | None = None, port: int | None = None) -> dict[str, Any]:  # fmt: skip
    """The fields of a ``send-study`` request to ``pacs`` (or to ``host:port``)."""
    return {"host": host or pacs.host, "port": port or pacs.port, "called_ae": pacs.ae_title,
            "calling_ae": instance.ae_title, "ca_bundle": str(session.bundle())}  # fmt: skip


def _dicom_instance(run: CheckRun, label: str) -> tuple[Enrolled, Pacs] | Finding:
    if not sends_studies(run.profile):
        return not_applicable(f"profile {run.profile.id} sends no studies (no PACS service)")
    first = enrolled(run, label)
    if first.instance.ae_title is None:
        return not_applicable(f"profile {run.profile.id} has no DICOM AE title")
    return first, pacs_for(run.session, first.instance)


def sends_studies(profile: DeviceProfile) -> bool:
    """Whether the profile sends studies to a PACS (its DICOM checks are required)."""
    return ServiceKind.PACS in profile.services


def stored_studies(run: CheckRun, mark: Any, device: str) -> dict[str, set[str]]:
    """Study UID -> SOP Instance UIDs the PACS stored for ``device`` since ``mark``."""
    studies: dict[str, set[str]] = defaultdict(set)
    for event in run.events(mark, kind="dicom-store", subject=device):
        if event.data.get("allowed"):
            studies[str(event.data.get("study_uid"))].add(str(event.data.get("sop_instance_uid")))
    return dict(studies)


def tls_and_identity(run: CheckRun) -> Finding:
    """DICOM-01: a study reaches the PACS over TLS 1.2+ with the registered calling AE
    title, and the device refuses an impostor PACS (certificate from another CA)."""
    found = _dicom_instance(run, "dicom-tls")
    if not isinstance(found, tuple):
        return found
    first, pacs = found
    instance, session = first.instance, run.session
    mark = run.mark()
    sent = run.call(instance, Action.SEND_STUDY, **study_request(session, instance, pacs))
    associations = run.events(mark, kind="dicom-association", subject=instance.device_id)
    did(sent, f"send-study to {pacs.service}")
    allowed = [e for e in associations if e.data.get("allowed")]
    if not allowed:
        reasons = sorted({str(e.data.get("reason")) for e in associations})
        return failed(f"the PACS accepted no association of the device (refused: {reasons})")
    association = allowed[-1].data
    version, calling = association.get("tls_version"), str(association.get("calling_ae"))
    if version not in _TLS_OK:
        return failed(f"the association ran over {version}, not TLS 1.2 or later")
    if canonical_ae_title(calling) != canonical_ae_title(str(instance.ae_title)):
        return failed(f"calling AE title {calling!r} is not the registered {instance.ae_title!r}")
    if not stored_studies(run, mark, instance.device_id):
        return failed("the association was accepted but the PACS stored nothing")
    with Impostor("dicom") as impostor:
        port = impostor.port
        toward = study_request(session, instance, pacs, host="127.0.0.1", port=port)
        fooled = run.call(instance, Action.SEND_STUDY, **toward)
    run.note(f"impostor PACS on 127.0.0.1:{port} (foreign CA): "
             f"{impostor.handshakes_failed} failed handshake(s), "
             f"requests {impostor.requests}")  # fmt: skip
    if impostor.requests:
        return failed(f"the device completed TLS with the impostor PACS and sent "
                      f"{impostor.requests[0]}")  # fmt: skip
    if fooled.succeeded:
        return failed("the device reported the study sent to the impostor PACS")
    return passed(f"{version}, calling AE {calling} (the registered one), study stored by "
                  f"{pacs.service}; the impostor PACS got no request")  # fmt: skip


def store_and_forward(run: CheckRun) -> Finding:
    """DICOM-02: a study refused during a PACS outage is kept and delivered after the
    heal, once (no loss, no duplicate), as the PACS's store shows."""
    found = _dicom_instance(run, "store-and-forward")
    if not isinstance(found, tuple):
        return found
    first, pacs = found
    instance, session = first.instance, run.session
    device = instance.device_id
    request = study_request(session, instance, pacs)
    mark = run.mark()
    did(run.call(instance, Action.SEND_STUDY, **request), "send-study with the PACS up")
    outage = run.mark()
    session.faults.begin(PACS_OUTAGE, service=pacs.service)
    run.note(f"PACS outage of {pacs.service} started (admin API)")
    during = run.call(instance, Action.SEND_STUDY, **request)
    refused = [e for e in run.events(outage, kind="dicom-association", subject=device)
               if e.data.get("reason") == "service-unavailable"]  # fmt: skip
    run.events(outage, kind="fault-started", subject=f"service:{pacs.service}")
    if during.succeeded:
        return failed("during the PACS outage the device reported the study delivered")
    if not refused:
        raise NotMet("during the PACS outage the device did not try the PACS")
    held = status(run, instance)
    if not isinstance(held.get("queued"), int) or held["queued"] < 1:
        return failed(f"the refused study is not kept (status.queued {held.get('queued')}): "
                      "data lost")  # fmt: skip
    healed = run.mark()
    session.faults.end(PACS_OUTAGE, service=pacs.service)
    run.events(healed, kind="fault-healed", subject=f"service:{pacs.service}")
    did(run.call(instance, Action.FLUSH), "flush after the PACS outage healed")
    after = status(run, instance)
    studies = stored_studies(run, mark, device)
    twice = {s: sorted(u) for s, u in studies.items() if len(u) > 1}
    if twice:
        return failed(f"duplicate: the PACS stored a study as more than one instance {twice} "
                      "(a resend with a new SOP Instance UID)")  # fmt: skip
    if len(studies) != 2:
        return failed(f"{len(studies)} of the 2 studies reached the PACS: data lost")
    if after.get("queued") != 0:
        return failed(f"after the flush status.queued is {after.get('queued')}, not 0")
    return passed("refused during the outage, kept (queued), delivered by flush after the "
                  "heal: both studies stored once")  # fmt: skip


CHECKS: tuple[Check, ...] = (
    Check("DICOM-01", "DICOM TLS 1.2+, registered calling AE title, refuses an impostor PACS",
          SUITE, ("DICOM PS3.15 Annex B (secure transport connection profiles)", "BCP 195",
                  "seed §4"),
          "An enrolled instance sends a study (send-study) to its site's PACS. Pass: the "
          "PACS's dicom-association event shows TLS 1.2 or later and the registered calling "
          "AE title, the study is stored (dicom-store), and sent toward an impostor PACS "
          "(TLS certificate from a foreign CA) the device aborts the handshake (the "
          "impostor receives no PDU) and does not report success.", tls_and_identity,
          sends_studies),
    Check("DICOM-02", "Store and forward across a PACS outage: no loss, no duplicate", SUITE,
          ("seed §4", "seed §6", "DICOM PS3.4 B.2.3 (SOP Instance UID unique)"),
          "A study is sent with the PACS up, then the kit takes the PACS down (pacs-outage) "
          "and asks for another: the device must not report success and must keep it "
          "(status.queued >= 1); after the heal, flush delivers it. Pass: the PACS's store "
          "holds both studies, each as one instance, and nothing stays queued.",
          store_and_forward, sends_studies),
)  # fmt: skip
