"""Imaging traffic as DICOM studies, with store and forward (issue 12, point 3).

In a scenario with a ``dicom:`` block, each delivery an imaging device makes to a PACS
is a study: ``instances_per_study`` instances (the profile's) of one series, built
with pydicom as the device's modality makes them (CT, US, or Secondary Capture).  A
device holds its studies in a queue per PACS (the same count as its buffer, so the
profile's ``buffer_capacity`` bounds it) and sends them over one association through
the hospital's DICOM path (:class:`~testbed.dicom.DicomPath`, the one the live
acceptor calls): A-ASSOCIATE, C-STORE of every instance of every study in order,
A-RELEASE.  The PACS core decides everything; this module only plays the device:

- a refused association, or a refused C-STORE, leaves the studies queued (one
  ``study-queued`` event the first time a study waits); what does not fit the
  buffer is lost (``data-lost``), so a device without store and forward (the legacy
  ultrasound) loses every study refused;
- a study leaves the queue only when every instance was answered success
  (``study-stored``, with how long it waited since it was made);
- a C-STORE response lost on the way back (``dicom.lost_answers``): the PACS kept
  the instance, the device did not hear it and aborts; it sends the whole study
  again later and the PACS answers the instances it has without a second copy.

The device's TLS offer is its profile's ``dicom_tls`` versions with forward-secret
AEAD suites, unless a ``firmware-breaks-dicom-tls`` fault made it fall back.  The
endpoint it sends to (called AE title and port) is the one distributed to devices
(:attr:`ImagingSender.configured`): when a PACS moves, devices keep the old one until
the change is distributed.
"""

from __future__ import annotations

import random
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.tag import Tag
from pydicom.uid import (
    CTImageStorage,
    SecondaryCaptureImageStorage,
    UltrasoundImageStorage,
)

from testbed.access import Purpose
from testbed.decisions import Reason
from testbed.devices import DeviceClass
from testbed.events import EventKind, EventLog
from testbed.faults import TlsFallback
from testbed.metrics import DicomCounts, Metrics
from testbed.pacs import AssociationRequest, StoreRequest, TlsOffer
from testbed.pacs.association import Association
from testbed.pacs.dataset import minimal_image
from testbed.sim.traffic import lose

if TYPE_CHECKING:
    from testbed.dicom import DicomPath
    from testbed.scenario import DicomSettings
    from testbed.sim.agent import DeviceAgent

__all__ = ["ImagingSender", "Study", "fallback_offer"]

_SOP_CLASS = {
    DeviceClass.IMAGING_MODALITY: (CTImageStorage, "CT"),
    DeviceClass.ULTRASOUND: (UltrasoundImageStorage, "US"),
}
_SECONDARY = (SecondaryCaptureImageStorage, "OT")
_PATIENTS = 97  # studies cycle through this many patients per device
_LOST = "response-lost"
_UIDS = uuid.UUID("6f1c0f0e-3c1a-5b8e-9d5e-1a2b3c4d5e6f")  # this testbed's name space


def _uid(*parts: object) -> str:
    """A UID derived from a name-based UUID (PS3.5 B.2: ``2.25.`` and the UUID as an
    integer): the same study of the same device has the same UIDs in every run, and a
    resent instance the same SOP Instance UID."""
    return f"2.25.{uuid.uuid5(_UIDS, '/'.join(map(str, parts))).int}"


@dataclass(slots=True)
class Study:
    """One study a device made and holds until every instance is stored."""

    uid: str
    series_uid: str
    number: int  # the device's study number, from 1
    instances: int
    made_at: datetime
    queued: bool = False  # refused (or its answer lost) at least once


def fallback_offer(fallback: TlsFallback) -> TlsOffer:
    """What a device offers after a firmware update broke its DICOM TLS."""
    if fallback is TlsFallback.RSA_ONLY:
        return TlsOffer.of(["tls1.2"], ["rsa"])
    return TlsOffer.of([fallback.value], ["ecdhe-cbc", "rsa"])


class ImagingSender:
    """Plays every imaging device's DICOM client against the hospital's DICOM path."""

    def __init__(
        self,
        *,
        dicom: DicomPath,
        metrics: Metrics,
        counts: DicomCounts,
        log: EventLog,
        settings: DicomSettings,
        seed: int,
    ) -> None:
        self.dicom = dicom
        self.metrics = metrics
        self.counts = counts
        self.log = log
        self.lost_answers = settings.lost_answers
        # its own stream: drawing lost answers moves no other random choice of the run
        self._answers = random.Random(f"{seed}/dicom-answers")
        #: the endpoint (called AE title, port) each PACS was distributed to devices as
        self.configured: dict[str, tuple[str, int]] = {}
        for service in dicom.pacs:
            self.distribute(service)

    def distribute(self, service: str) -> None:
        """Devices learn where PACS ``service`` listens now (its AE title and port)."""
        endpoint, port = self.dicom.endpoint(service)
        self.configured[service] = (endpoint.ae_title, port)

    # -- the device's side ---------------------------------------------------------

    def tick(self, agent: DeviceAgent, now: datetime) -> None:
        """The device makes one study per PACS it sends to."""
        studies = agent.studies
        if studies is None:
            return
        for queue in studies.values():
            agent.studies_made += 1
            number = agent.studies_made
            device = agent.device_id
            queue.append(
                Study(
                    uid=_uid(device, number),
                    series_uid=_uid(device, number, "series"),
                    number=number,
                    instances=agent.profile.instances_per_study,
                    made_at=now,
                )
            )

    def offer(self, agent: DeviceAgent) -> TlsOffer:
        """What the device's TLS offers now."""
        if agent.tls_faults:
            return fallback_offer(agent.tls_faults[-1])
        return TlsOffer.of(agent.profile.dicom_tls or ("tls1.2",))

    def request(self, agent: DeviceAgent, service: str) -> tuple[AssociationRequest, int]:
        """The device's A-ASSOCIATE request to ``service`` and the port it connects to."""
        called, port = self.configured[service]
        record = agent.record
        request = AssociationRequest(
            calling_ae=record.ae_title or "",
            called_ae=called,
            certificate=agent.certificate,
            source=(record.site, record.zone),
            tls=self.offer(agent),
        )
        return request, port

    def deliver(self, agent: DeviceAgent, service: str, now: datetime) -> None:
        """Send every study the device holds for ``service`` over one association."""
        request, port = self.request(agent, service)
        answer = self.dicom.associate(service, request, now=now, port=port)
        association = answer.association
        if association is None:
            self._refused(agent, service, answer.decision.reason, now)
            return
        try:
            queue = agent.studies[service] if agent.studies is not None else deque()
            while queue:
                study = queue[0]
                outcome = self._send(agent, association, study, now)
                if outcome is not None:
                    if outcome == _LOST:
                        self._wait(agent, service, [study], _LOST, now)
                    else:
                        self._refused(agent, service, Reason(outcome), now)
                    return
                queue.popleft()
                agent.buffers[service] -= 1
                self._stored(agent, service, study, now)
        finally:
            self.dicom.release(association)

    def check(self, agent: DeviceAgent, service: str, now: datetime) -> bool:
        """The closing recovery check: an association and a C-ECHO (nothing stored)."""
        request, port = self.request(agent, service)
        answer = self.dicom.associate(
            service, request, now=now, port=port, purpose=Purpose.RECOVERY_CHECK
        )
        association = answer.association
        if association is None:
            return False
        echoed = self.dicom.echo(association, now=now).decision.allowed
        self.dicom.release(association)
        return echoed

    # -- what happens to a study ----------------------------------------------------

    def _send(
        self, agent: DeviceAgent, association: Association, study: Study, now: datetime
    ) -> str | None:
        """C-STORE every instance: None when all were answered success, else the
        refusal's reason (value), or that an answer was lost."""
        for index in range(1, study.instances + 1):
            dataset = _instance(agent, study, index)
            request = StoreRequest(association, dataset, handed_over=True)
            answer = self.dicom.store(request, now=now)
            if not answer.stored:
                return answer.decision.reason.value
            if self.lost_answers and self._answers.random() < self.lost_answers:
                return _LOST
        return None

    def _stored(self, agent: DeviceAgent, service: str, study: Study, now: datetime) -> None:
        waited = (now - study.made_at).total_seconds()
        self.metrics.delivered += 1
        self.counts.study_stored(waited)
        agent.availability.succeeded(service, now)
        self.log.emit(now, EventKind.STUDY_STORED, agent.device_id, service=service,
                      study_uid=study.uid, instances=study.instances,
                      waited_seconds=waited)  # fmt: skip

    def _refused(self, agent: DeviceAgent, service: str, reason: Reason, now: datetime) -> None:
        """Refused: the device keeps what fits its buffer, loses the rest."""
        agent.availability.failed(service, reason, now)
        lose(self.log, self.metrics, agent, service, agent.buffers[service] - agent.capacity,
             reason.value, now)  # fmt: skip
        queue = agent.studies[service] if agent.studies is not None else deque()
        self._wait(agent, service, queue, reason.value, now)

    def _wait(
        self, agent: DeviceAgent, service: str, studies: deque[Study] | list[Study],
        cause: str, now: datetime,
    ) -> None:  # fmt: skip
        """Studies left on the device: one ``study-queued`` the first time each waits."""
        for study in studies:
            if study.queued:
                continue
            study.queued = True
            self.counts.studies_queued += 1
            self.log.emit(now, EventKind.STUDY_QUEUED, agent.device_id, service=service,
                          study_uid=study.uid, instances=study.instances, cause=cause)  # fmt: skip


_TEMPLATES: dict[str, Dataset] = {}
_SOP_INSTANCE, _STUDY, _SERIES = (
    Tag("SOPInstanceUID"),
    Tag("StudyInstanceUID"),
    Tag("SeriesInstanceUID"),
)
_PATIENT, _NUMBER = Tag("PatientID"), Tag("InstanceNumber")


def _instance(agent: DeviceAgent, study: Study, index: int) -> Dataset:
    """Instance ``index`` of ``study`` as the device's modality makes it: the common
    elements shared with a template (nobody changes them: the PACS keeps what it is
    handed), its own UIDs, patient and number."""
    sop_class, modality = _SOP_CLASS.get(agent.profile.device_class, _SECONDARY)
    template = _TEMPLATES.get(sop_class)
    if template is None:
        template = _TEMPLATES[sop_class] = minimal_image(sop_class, modality)
    ds = Dataset(dict(template))
    ds[_SOP_INSTANCE] = DataElement(_SOP_INSTANCE, "UI", _uid(agent.device_id, study.number,
                                                               index))  # fmt: skip
    ds[_STUDY] = DataElement(_STUDY, "UI", study.uid)
    ds[_SERIES] = DataElement(_SERIES, "UI", study.series_uid)
    ds[_PATIENT] = DataElement(_PATIENT, "LO", f"PAT-{study.number % _PATIENTS:04d}")
    ds[_NUMBER] = DataElement(_NUMBER, "IS", index)
    return ds
