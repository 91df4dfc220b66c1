"""C-FIND at the IMAGE level (Study Root, PS3.4 C.6.2): can a device find again what it
stored?

A device (or ``testbed pacs-check``) asks by Study, Series and/or SOP Instance UID
(single-value matching; an absent or empty key matches everything) and is answered
with the matching instances **it sent itself**: a modality has no business reading
other senders' studies, so the PACS answers on the association's identity only
(least privilege; a reading workstation would be a separate role).  The association
checks are the service's (:class:`~testbed.pacs.pacs.Pacs`); this module holds the
request, its answer and the matching.
"""

from __future__ import annotations

from dataclasses import dataclass

from testbed.decisions import Decision
from testbed.pacs.association import Association
from testbed.pacs.status import Status, status_of
from testbed.pacs.store import InstanceStore, StoredInstance

__all__ = ["STUDY_ROOT_FIND", "FindDecision", "FindRequest", "matches"]

STUDY_ROOT_FIND = "1.2.840.10008.5.1.4.1.2.2.1"
"""Study Root Query/Retrieve Information Model - FIND."""


@dataclass(frozen=True, slots=True)
class FindRequest:
    """One C-FIND on an association: the UIDs to match (None: any)."""

    association: Association
    study_uid: str | None = None
    series_uid: str | None = None
    sop_instance_uid: str | None = None


@dataclass(frozen=True, slots=True)
class FindDecision:
    """The answer: the decision and the matching instances (empty when refused)."""

    decision: Decision
    found: tuple[StoredInstance, ...] = ()

    @property
    def status(self) -> Status:
        """The final C-FIND response status."""
        return status_of(self.decision.reason)


def matches(request: FindRequest, store: InstanceStore) -> tuple[StoredInstance, ...]:
    """The instances the association's device sent that match the request's keys."""
    return tuple(store.find(study_uid=request.study_uid or None,
                            series_uid=request.series_uid or None,
                            sop_instance_uid=request.sop_instance_uid or None,
                            device_id=request.association.device_id))  # fmt: skip
