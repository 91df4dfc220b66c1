"""C-STORE: the decision on one instance, and the store that keeps what was accepted.

A store request carries its association (the identity it runs under) and a pydicom
dataset.  :func:`decide_store` refuses a SOP class the PACS does not store
(``sop-class-not-supported``), a dataset missing what its SOP class requires or
whose command fields disagree with it (``dataset-invalid``, :mod:`.dataset`), and a
SOP Instance UID already stored as another study, series, SOP class or patient
(``sop-instance-conflict``).  The same instance again, a retry after a lost answer,
is answered with success and *not* stored twice (``duplicate=True``).

:class:`InstanceStore` is the seam for where instances live: :class:`MemoryStore`
here; a store on disk in the state directory for live mode later.  A stored instance
can be found again by study, series or SOP Instance UID (:meth:`InstanceStore.find`).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from pydicom.dataset import Dataset

from testbed.decisions import Decision, Hop, Reason
from testbed.pacs.association import Association
from testbed.pacs.dataset import REQUIREMENTS, dataset_problem
from testbed.pacs.status import Status, status_of

__all__ = [
    "InstanceStore",
    "MemoryStore",
    "StoreDecision",
    "StoreRequest",
    "StoredInstance",
    "decide_store",
]


@dataclass(frozen=True, slots=True)
class StoredInstance:
    """One instance the PACS keeps: its identity, who sent it, when, and the dataset."""

    sop_class_uid: str
    sop_instance_uid: str
    study_uid: str
    series_uid: str
    patient_id: str
    device_id: str
    calling_ae: str
    stored_at: datetime
    dataset: Dataset = field(compare=False, repr=False)

    @property
    def identity(self) -> tuple[str, str, str, str]:
        """What a second copy must repeat to be the same instance: SOP class, study,
        series and patient."""
        return (self.sop_class_uid, self.study_uid, self.series_uid, self.patient_id)


class InstanceStore(Protocol):
    """Where a PACS keeps its instances, by SOP Instance UID."""

    def get(self, sop_instance_uid: str) -> StoredInstance | None:
        """The instance with this UID, or None."""
        ...

    def add(self, instance: StoredInstance) -> None:
        """Keep a new instance (ValueError if its UID is already kept)."""
        ...

    def find(
        self,
        *,
        study_uid: str | None = None,
        series_uid: str | None = None,
        sop_instance_uid: str | None = None,
        device_id: str | None = None,
    ) -> list[StoredInstance]:
        """The instances matching every given UID (and sent by ``device_id``), in the
        order they were stored."""
        ...

    def __len__(self) -> int: ...


class MemoryStore:
    """An :class:`InstanceStore` in memory."""

    def __init__(self) -> None:
        self._by_uid: dict[str, StoredInstance] = {}
        # each device's instances in the order stored: a C-FIND answers only the
        # sender's own, so it looks at no one else's (at the PACS's bound of 100,000
        # instances a scan of all took 25 ms of the hospital's thread per C-FIND)
        self._by_device: dict[str, list[StoredInstance]] = {}

    def get(self, sop_instance_uid: str) -> StoredInstance | None:
        """The instance with this UID, or None."""
        return self._by_uid.get(sop_instance_uid)

    def add(self, instance: StoredInstance) -> None:
        """Keep a new instance (ValueError if its UID is already kept)."""
        uid = instance.sop_instance_uid
        if uid in self._by_uid:
            raise ValueError(f"SOP Instance UID {uid} is already stored")
        self._by_uid[uid] = instance
        self._by_device.setdefault(instance.device_id, []).append(instance)

    def find(
        self,
        *,
        study_uid: str | None = None,
        series_uid: str | None = None,
        sop_instance_uid: str | None = None,
        device_id: str | None = None,
    ) -> list[StoredInstance]:
        """The instances matching every given UID (and sent by ``device_id``), in the
        order they were stored."""
        candidates: list[StoredInstance]
        if sop_instance_uid is not None:
            found = self._by_uid.get(sop_instance_uid)
            candidates = [] if found is None else [found]
        elif device_id is not None:
            candidates = self._by_device.get(device_id, [])
        else:
            candidates = list(self._by_uid.values())
        return [
            i
            for i in candidates
            if study_uid in (None, i.study_uid)
            and series_uid in (None, i.series_uid)
            and device_id in (None, i.device_id)
        ]

    def __iter__(self) -> Iterator[StoredInstance]:
        return iter(self._by_uid.values())

    def __len__(self) -> int:
        return len(self._by_uid)


@dataclass(frozen=True, slots=True)
class StoreRequest:
    """One C-STORE request: the association it comes on, the dataset, and the command's
    Affected SOP Class and Instance UIDs (None: taken from the dataset).

    ``handed_over``: the sender keeps no reference to the dataset and will not change
    it (a simulated device's fresh instance), so the PACS keeps it without a copy.
    """

    association: Association
    dataset: Dataset
    sop_class_uid: str | None = None
    sop_instance_uid: str | None = None
    handed_over: bool = False


@dataclass(frozen=True, slots=True)
class StoreDecision:
    """The answer to a C-STORE: the decision, its DIMSE status, the instance kept (new
    or already there), and whether it was already there."""

    decision: Decision
    instance: StoredInstance | None = None
    duplicate: bool = False

    @property
    def status(self) -> Status:
        """The C-STORE response status."""
        return status_of(self.decision.reason)

    @property
    def stored(self) -> bool:
        """Whether the PACS holds the instance after this answer."""
        return self.decision.allowed


def _refuse(reason: Reason, detail: str) -> StoreDecision:
    return StoreDecision(Decision.deny(reason, Hop.SERVICE, detail))


def _command_mismatch(request: StoreRequest) -> str | None:
    dataset = request.dataset
    for keyword, commanded in (
        ("SOPClassUID", request.sop_class_uid),
        ("SOPInstanceUID", request.sop_instance_uid),
    ):
        if commanded is not None and commanded != str(dataset[keyword].value):
            return f"the command's Affected {keyword} {commanded} is not the dataset's"
    return None


def _instance(request: StoreRequest, now: datetime) -> StoredInstance:
    dataset, association = request.dataset, request.association
    return StoredInstance(
        sop_class_uid=str(dataset.SOPClassUID),
        sop_instance_uid=str(dataset.SOPInstanceUID),
        study_uid=str(dataset.StudyInstanceUID),
        series_uid=str(dataset.SeriesInstanceUID),
        patient_id=str(dataset.PatientID),
        device_id=association.device_id,
        calling_ae=association.calling_ae,
        stored_at=now,
        # the sender's later changes are not the PACS's
        dataset=dataset if request.handed_over else copy.deepcopy(dataset),
    )


def decide_store(request: StoreRequest, *, store: InstanceStore, now: datetime) -> StoreDecision:
    """Validate the dataset, then keep it once (the association was checked already)."""
    dataset = request.dataset
    sop_class = request.sop_class_uid or str(dataset.get("SOPClassUID", ""))
    if sop_class not in REQUIREMENTS:
        return _refuse(Reason.SOP_CLASS_NOT_SUPPORTED, f"SOP class {sop_class!r} is not stored")
    problem = dataset_problem(dataset) or _command_mismatch(request)
    if problem is not None:
        return _refuse(Reason.DATASET_INVALID, problem)
    instance = _instance(request, now)
    held = store.get(instance.sop_instance_uid)
    if held is None:
        store.add(instance)
        return StoreDecision(Decision.allow(Hop.SERVICE), instance)
    if held.identity != instance.identity:
        detail = (
            f"SOP Instance UID {held.sop_instance_uid} is stored as (class, study, series, "
            f"patient) {held.identity}, not {instance.identity}"
        )
        return _refuse(Reason.SOP_INSTANCE_CONFLICT, detail)
    return StoreDecision(Decision.allow(Hop.SERVICE, "already stored"), held, duplicate=True)
