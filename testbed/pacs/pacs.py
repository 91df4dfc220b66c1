"""The PACS service of one site: associations, C-ECHO and C-STORE, decided and recorded.

A plain object (DESIGN: one decision core, two transports): every method takes a
request dataclass and ``now`` and returns a decision; nothing here does I/O or reads
the wall clock.  Every decision writes exactly one event to the injected
:class:`~testbed.events.EventLog`:

- ``dicom-association``: accepted or refused with its reason; a refusal at the TLS
  hop (profile, certificate, identity) carries the audit code 110113/110126
  (Security Alert / Node Authentication, PS3.15 A.5);
- ``dicom-echo`` and ``dicom-store``: a stored instance (new or already there)
  carries 110104 (DICOM Instances Transferred).

Requests on an association (echo, store) are refused while it is not open here
(``no-association``: never accepted, or released) and while the PACS is down
(``service-unavailable``).  An open association keeps the identity it was accepted
with: certificate expiry or revocation bites at the next association (REFERENCES:
DICOM), as in a real acceptor.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from testbed.access import Purpose
from testbed.decisions import Decision, Hop, Reason
from testbed.events import AuditCode, EventKind, EventLog, Value
from testbed.pacs.ae_title import canonical_ae_title
from testbed.pacs.allow_list import AllowList
from testbed.pacs.association import (
    Association,
    AssociationDecision,
    AssociationPolicy,
    AssociationRequest,
)
from testbed.pacs.echo import EchoDecision, EchoRequest
from testbed.pacs.query import FindDecision, FindRequest, matches
from testbed.pacs.store import InstanceStore, StoreDecision, StoreRequest, decide_store

__all__ = ["AssociationListener", "Pacs", "StoreListener"]

AssociationListener = Callable[[AssociationRequest, AssociationDecision, Purpose, datetime], None]
"""Notified after every association decision (the measures)."""
StoreListener = Callable[[StoreRequest, StoreDecision, datetime], None]
"""Notified after every C-STORE decision (the measures, the unauthorized-store oracle)."""

_ASSOCIATION_KEYS = (
    "service", "allowed", "reason", "hop", "purpose", "association", "calling_ae",
    "called_ae", "tls_version", "serial", "audit_code", "detail",
)  # fmt: skip
_ZONED_ASSOCIATION_KEYS = (*_ASSOCIATION_KEYS, "zone_from")  # a live acceptor's
_REQUEST_KEYS = ("service", "allowed", "reason", "association", "status", "detail")
_FIND_KEYS = (
    "service", "allowed", "reason", "association", "status", "matches", "sop_instance_uid",
    "detail",
)  # fmt: skip
_STORE_KEYS = (
    "service", "allowed", "reason", "association", "status", "sop_class_uid",
    "sop_instance_uid", "study_uid", "duplicate", "audit_code", "detail",
)  # fmt: skip


class Pacs:
    """One site's PACS: its association policy, its open associations and its store."""

    def __init__(self, *, policy: AssociationPolicy, store: InstanceStore, log: EventLog) -> None:
        self.policy = policy
        self.store = store
        self.log = log
        self._open: dict[str, Association] = {}
        self._opened = 0
        self._on_association: list[AssociationListener] = []
        self._on_store: list[StoreListener] = []

    def subscribe(
        self,
        *,
        association: AssociationListener | None = None,
        store: StoreListener | None = None,
    ) -> None:
        """Call the listeners after every association or store decision from now on."""
        if association is not None:
            self._on_association.append(association)
        if store is not None:
            self._on_store.append(store)

    @property
    def service(self) -> str:
        """The PACS's service name."""
        return self.policy.endpoint.service

    @property
    def open_associations(self) -> tuple[Association, ...]:
        """The associations open now, oldest first."""
        return tuple(self._open.values())

    def replace_allow_list(self, allow_list: AllowList) -> None:
        """Decide later associations with ``allow_list`` (open ones keep theirs)."""
        if allow_list.service != self.service:
            raise ValueError(f"an allow-list of {allow_list.service!r} given to {self.service!r}")
        self.policy.allow_list = allow_list

    def associate(
        self,
        request: AssociationRequest,
        *,
        now: datetime,
        peer: str | None = None,
        purpose: Purpose = Purpose.TRAFFIC,
    ) -> AssociationDecision:
        """Accept or reject an A-ASSOCIATE request; record the decision.

        The event's subject is the calling AE title's device, else ``peer`` (the device
        the network knows the peer as: its certificate's holder), else the PACS.
        """
        answer = self.policy.decide(request, now=now)
        if answer.decision.allowed and answer.device_id is not None and answer.tls is not None:
            self._opened += 1
            association = Association(
                id=f"{self.service}#{self._opened}",
                service=self.service,
                device_id=answer.device_id,
                calling_ae=canonical_ae_title(request.calling_ae),
                called_ae=self.policy.endpoint.ae_title,
                tls=answer.tls,
                opened_at=now,
                certificate=request.certificate,
                source=request.source,
            )
            self._open[association.id] = association
            answer = AssociationDecision(answer.decision, association, answer.device_id, answer.tls)
        self._record_association(request, answer, now, peer, purpose)
        return answer

    def refuse(
        self,
        request: AssociationRequest,
        decision: Decision,
        *,
        device_id: str | None,
        now: datetime,
        peer: str | None = None,
        purpose: Purpose = Purpose.TRAFFIC,
    ) -> AssociationDecision:
        """Record an A-ASSOCIATE request refused before it reached the PACS (the
        network hop's refusal: :class:`~testbed.dicom.DicomPath`)."""
        if decision.allowed:
            raise ValueError("refuse() records a refusal, not an allowance")
        answer = AssociationDecision(decision, device_id=device_id)
        self._record_association(request, answer, now, peer, purpose)
        return answer

    def release(self, association: Association) -> None:
        """A-RELEASE: later requests on ``association`` are refused (KeyError: not open)."""
        if self._open.pop(association.id, None) is None:
            raise KeyError(f"association {association.id} is not open at {self.service!r}")

    def echo(self, request: EchoRequest, *, now: datetime) -> EchoDecision:
        """C-ECHO: success on an open association of a PACS that is up."""
        answer = EchoDecision(self._session(request.association) or Decision.allow(Hop.SERVICE))
        decision = answer.decision
        values: tuple[Value, ...] = (
            self.service, decision.allowed, decision.reason.value, request.association.id,
            int(answer.status), decision.detail or None,
        )  # fmt: skip
        self.log.record(now, EventKind.DICOM_ECHO, request.association.device_id,
                        _REQUEST_KEYS, values)  # fmt: skip
        return answer

    def store_instance(self, request: StoreRequest, *, now: datetime) -> StoreDecision:
        """C-STORE: keep a valid instance once; record the decision."""
        refused = self._session(request.association)
        if refused is not None:
            answer = StoreDecision(refused)
        else:
            answer = decide_store(request, store=self.store, now=now)
        self._record_store(request, answer, now)
        for listener in self._on_store:
            listener(request, answer, now)
        return answer

    def find(self, request: FindRequest, *, now: datetime) -> FindDecision:
        """C-FIND (IMAGE level): the instances this association's device sent that
        match (:mod:`.query`); record the decision and how many matched."""
        refused = self._session(request.association)
        if refused is not None:
            answer = FindDecision(refused)
        else:
            answer = FindDecision(Decision.allow(Hop.SERVICE), matches(request, self.store))
        decision = answer.decision
        values: tuple[Value, ...] = (
            self.service, decision.allowed, decision.reason.value, request.association.id,
            int(answer.status), len(answer.found), request.sop_instance_uid,
            decision.detail or None,
        )  # fmt: skip
        self.log.record(now, EventKind.DICOM_FIND, request.association.device_id,
                        _FIND_KEYS, values)  # fmt: skip
        return answer

    def _session(self, association: Association) -> Decision | None:
        """Why a request on ``association`` is refused now, or None."""
        if self._open.get(association.id) != association:
            detail = f"association {association.id} is not open at {self.service!r}"
            return Decision.deny(Reason.NO_ASSOCIATION, Hop.APPLICATION, detail)
        if self.service in self.policy.outages:
            return Decision.deny(Reason.SERVICE_UNAVAILABLE, Hop.SERVICE, self.service)
        return None

    def _record_association(
        self,
        request: AssociationRequest,
        answer: AssociationDecision,
        now: datetime,
        peer: str | None,
        purpose: Purpose,
    ) -> None:
        decision, association = answer.decision, answer.association
        certificate = request.certificate
        audit = AuditCode.NODE_AUTHENTICATION.value if _node_auth_failure(decision) else None
        values: tuple[Value, ...] = (
            self.service,
            decision.allowed,
            decision.reason.value,
            decision.hop.value,
            purpose.value,
            None if association is None else association.id,
            request.calling_ae,
            request.called_ae,
            None if answer.tls is None else answer.tls.version.value,
            None if certificate is None else f"{certificate.serial_number:x}",
            audit,
            decision.detail or None,
        )
        keys: tuple[str, ...] = _ASSOCIATION_KEYS
        if request.zone_from is not None:
            keys, values = _ZONED_ASSOCIATION_KEYS, (*values, request.zone_from.value)
        subject = answer.device_id or peer or self.service
        self.log.record(now, EventKind.DICOM_ASSOCIATION, subject, keys, values)
        for listener in self._on_association:
            listener(request, answer, purpose, now)

    def _record_store(self, request: StoreRequest, answer: StoreDecision, now: datetime) -> None:
        decision, dataset = answer.decision, request.dataset
        instance = answer.instance
        audit = AuditCode.INSTANCES_TRANSFERRED.value if answer.stored else None
        values: tuple[Value, ...] = (
            self.service,
            decision.allowed,
            decision.reason.value,
            request.association.id,
            int(answer.status),
            instance.sop_class_uid if instance else _text(dataset.get("SOPClassUID")),
            instance.sop_instance_uid if instance else _text(dataset.get("SOPInstanceUID")),
            instance.study_uid if instance else _text(dataset.get("StudyInstanceUID")),
            answer.duplicate,
            audit,
            decision.detail or None,
        )
        subject = request.association.device_id
        self.log.record(now, EventKind.DICOM_STORE, subject, _STORE_KEYS, values)


def _node_auth_failure(decision: Decision) -> bool:
    """A refusal of the peer's TLS or certificate (an IHE ATNA node-authentication failure)."""
    return not decision.allowed and decision.hop is Hop.TLS


def _text(value: object) -> str | None:
    return None if value is None else str(value)
