"""A device's DICOM TLS sender (pynetdicom): the reference device's, and the kit's own probe.

:func:`send_instances` opens one association over TLS (the device's EST key and
certificate as its client identity, the PACS verified against the trust bundle it was
given, TLS 1.2 or later: DICOM PS3.15 Annex B, BCP 195) with the registered calling
AE title, sends each instance with C-STORE and says which were stored (status 0x0000,
or a warning status: the PACS holds them).  :func:`new_study` makes one small valid CT
instance with fresh UIDs (``2.25`` UUID-derived, PS3.5 B.2).
"""

from __future__ import annotations

import logging
import ssl
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydicom.dataset import Dataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian
from pynetdicom import AE

from testbed.pacs.dataset import minimal_image, part10
from testbed.pacs.echo import VERIFICATION_SOP_CLASS as VERIFICATION

__all__ = ["Sent", "echo", "new_study", "new_uid", "send_instances", "tls_context"]

_TIMEOUT = 15.0


def new_uid() -> str:
    """A fresh UID from a random UUID (PS3.5 B.2: ``2.25.<integer>``)."""
    return f"2.25.{uuid.uuid4().int}"


def new_study(patient: str = "CERT-1") -> Dataset:
    """One CT instance (2x2 pixels) of a new study, series and instance."""
    ds = minimal_image(CTImageStorage)
    ds.StudyInstanceUID = new_uid()
    ds.SeriesInstanceUID = new_uid()
    ds.SOPInstanceUID = new_uid()
    ds.PatientID = patient
    ds.PatientName = "Certification^Patient"
    return part10(ds)


def tls_context(bundle: Path, cert: Path, key: Path, *, verify: bool = True) -> ssl.SSLContext:
    """The device's client context: TLS 1.2 or later, its certificate, the PACS checked
    against ``bundle`` (``verify=False``: any server, the defect a faulty device has)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = False  # loopback peers: an IP address; the chain is checked
    if verify:
        context.load_verify_locations(cafile=str(bundle))
    else:
        context.verify_mode = ssl.CERT_NONE
    context.load_cert_chain(str(cert), str(key))
    return context


@dataclass
class Sent:
    """What one association did: the SOP Instance UIDs stored, and why it stopped."""

    stored: list[str] = field(default_factory=list)
    error: str | None = None


def send_instances(
    host: str,
    port: int,
    *,
    called_ae: str,
    calling_ae: str,
    context: ssl.SSLContext,
    instances: Sequence[Dataset],
    timeout: float = _TIMEOUT,
) -> Sent:
    """C-STORE every instance on one TLS association; what was stored (see the module)."""
    ae = _requester(calling_ae, timeout)
    for uid in sorted({str(ds.SOPClassUID) for ds in instances}):
        ae.add_requested_context(uid, ExplicitVRLittleEndian)
    sent = Sent()
    try:
        assoc = ae.associate(host, port, ae_title=called_ae, tls_args=(context, host))
        if not assoc.is_established:
            sent.error = _why(assoc, host, port)
            return sent
        try:
            for ds in instances:
                status = assoc.send_c_store(ds)
                code = getattr(status, "Status", None)
                if code is None:
                    sent.error = f"no C-STORE answer for {ds.SOPInstanceUID}"
                    break
                if code != 0 and not 0xB000 <= code <= 0xBFFF:
                    sent.error = f"C-STORE of {ds.SOPInstanceUID} answered 0x{code:04X}"
                    break
                sent.stored.append(str(ds.SOPInstanceUID))
        finally:
            if assoc.is_established:
                assoc.release()
    finally:
        ae.shutdown()
    return sent


def echo(host: str, port: int, *, called_ae: str, calling_ae: str, context: ssl.SSLContext,
         timeout: float = _TIMEOUT) -> str | None:  # fmt: skip
    """One C-ECHO over TLS: None when it answered success, else why not."""
    ae = _requester(calling_ae, timeout)
    ae.add_requested_context(VERIFICATION)
    try:
        assoc = ae.associate(host, port, ae_title=called_ae, tls_args=(context, host))
        if not assoc.is_established:
            return _why(assoc, host, port)
        try:
            code = getattr(assoc.send_c_echo(), "Status", None)
        finally:
            if assoc.is_established:
                assoc.release()
    finally:
        ae.shutdown()
    return None if code == 0 else f"C-ECHO answered {code!r}"


def _requester(calling_ae: str, timeout: float) -> AE:
    """An association requester with the calling AE title, every timeout ``timeout``."""
    logging.getLogger("pynetdicom").setLevel(logging.CRITICAL)  # its errors are ours to say
    ae = AE(ae_title=calling_ae)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = timeout
    ae.connection_timeout = timeout
    return ae


def _why(assoc: object, host: str, port: int) -> str:
    if getattr(assoc, "is_rejected", False):
        return f"the PACS at {host}:{port} rejected the association (A-ASSOCIATE-RJ)"
    if getattr(assoc, "is_aborted", False):
        return f"the association with {host}:{port} was aborted"
    return f"no association with {host}:{port} (TLS handshake or connection refused)"
