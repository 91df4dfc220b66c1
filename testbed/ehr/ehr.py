"""The EHR service: the FHIR API's decision core, one method per interaction.

Each method takes a parsed :class:`~testbed.ehr.messages.FhirRequest` and ``now`` and
returns a :class:`~testbed.ehr.messages.FhirResponse`; nothing here does I/O or reads
a clock.  The hops of a write, each refusing with its own status and reason
(outcomes.py):

    token (401) -> resource type (404) -> scope (403) -> body (400) -> device
    registered (403) -> patient context, clinical types only (403 / 422) ->
    validation (422) -> references (422) -> store (412, or 201 / 200) ->
    Provenance + AuditEvent

Every answer writes one testbed event (``ehr-write`` or ``ehr-read``) with its
reason; every accepted write stores one Provenance and one AuditEvent, every refusal
one AuditEvent.  A conditional create that finds its resource answers 200 with it,
stores an AuditEvent saying nothing was created, and no Provenance.

A bounded store (live mode's, store.py) refuses a write it has no room for (507,
``storage-full``); an accepted write's Provenance and AuditEvent have room kept for
them.  A refusal's AuditEvent (or a matched conditional create's) is stored when there
is room; when there is none, its event says ``audit_kept: false`` (the refusal itself
is in the event log either way: a full store cannot be filled further by refusals).
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from testbed.decisions import Reason
from testbed.ehr.audit import AuditRecord, audit_event
from testbed.ehr.authorization import check_scope, check_token
from testbed.ehr.census import Census, CensusSize, build_census
from testbed.ehr.context import Move, PatientContext
from testbed.ehr.messages import FHIR_JSON, FhirRequest, FhirResponse, encode
from testbed.ehr.outcomes import IssueType, Refusal, Refused, operation_outcome
from testbed.ehr.provenance import provenance
from testbed.ehr.references import check_references
from testbed.ehr.registry import DeviceRegistry
from testbed.ehr.resources import CLINICAL_TYPES, SUPPORTED_TYPES, parse_body, validate
from testbed.ehr.scopes import Interaction
from testbed.ehr.search import Query, parse_query
from testbed.ehr.store import Created, IdSource, ResourceStore
from testbed.events import EventKind, EventLog

__all__ = ["Ehr"]


@dataclass(frozen=True, slots=True)
class _Accepted:
    """What an accepted create leaves for its answer and its audit."""

    created: Created
    patient: str
    encounter: str


class Ehr:
    """One EHR: its store, device registry and patient-context authority.

    ``base``: the FHIR base URL its answers name (``Location``, ``fullUrl``);
    ``name``: the server as audit trails name it; ``seed``: of its resource ids.
    """

    def __init__(
        self,
        *,
        log: EventLog,
        seed: int = 0,
        base: str = "https://ehr.invalid/fhir",
        name: str = "ehr",
    ) -> None:
        self.log = log
        self.base = base.rstrip("/")
        self.name = name
        self.store = ResourceStore(IdSource(seed))
        self.registry = DeviceRegistry(self.store)
        self.context = PatientContext(self.store, self.registry)

    def restore(self, resources: Iterable[dict[str, Any]], *, ids_issued: int) -> None:
        """Continue an EHR a durable transport kept: its resources in creation order
        (the census, devices, writes, audit) and how many ids it had given out."""
        self.store.restore(resources, ids_issued=ids_issued)
        self.registry.reindex()
        self.context = PatientContext(self.store, self.registry)

    # --- operator and setup operations -------------------------------------------

    def admit_census(
        self, site: str, *, size: CensusSize, rng: random.Random, now: datetime
    ) -> Census:
        """Create ``site``'s census (census.py) from the run's generator."""
        return build_census(self.store, site=site, size=size, rng=rng, now=now)

    def register_device(self, device_id: str, *, owner: str, location: str, now: datetime) -> str:
        """Put ``device_id`` in the device registry at ``location``; its Device id."""
        return self.registry.register(device_id, owner=owner, location=location, now=now)

    def move_patient(self, patient: str, to_location: str, now: datetime) -> Move:
        """Move a patient (context.py) and record a ``patient-moved`` event."""
        move = self.context.move_patient(patient, to_location, now)
        self.log.emit(
            now,
            EventKind.PATIENT_MOVED,
            f"Patient/{patient}",
            encounter=move.encounter,
            from_location=move.from_location,
            to_location=move.to_location,
        )
        return move

    # --- the FHIR API ----------------------------------------------------------------

    def handle(self, request: FhirRequest, now: datetime) -> FhirResponse:
        """Dispatch ``request`` to its interaction."""
        parts = request.path.strip("/").split("/")
        if request.method == "POST" and len(parts) == 1:
            return self.create(request, now)
        if request.method == "GET" and len(parts) == 1:
            return self.search(request, now)
        if request.method == "GET" and len(parts) == 2:
            return self.read(request, now)
        refusal = Refusal(
            405,
            Reason.REQUEST_MALFORMED,
            IssueType.NOT_SUPPORTED,
            f"{request.method} {request.path} is not an interaction this EHR "
            "supports (create, read, search)",
        )
        return self._refuse(refusal, request, "create" if request.method == "POST" else "read", now)

    def create(self, request: FhirRequest, now: datetime) -> FhirResponse:
        """FHIR create (``POST [base]/Type``), conditional with ``If-None-Exist``."""
        try:
            accepted = self._create(request, now)
        except Refused as refused:
            return self._refuse(refused.refusal, request, "create", now)
        return self._created(accepted, request, now)

    def read(self, request: FhirRequest, now: datetime) -> FhirResponse:
        """FHIR read (``GET [base]/Type/id``)."""
        kind, _, ident = request.path.strip("/").partition("/")
        try:
            self._authorize(request, kind, Interaction.READ)
            resource = self.store.read(kind, ident)
            if resource is None:
                raise Refused(
                    Refusal(
                        404,
                        Reason.RESOURCE_NOT_FOUND,
                        IssueType.NOT_FOUND,
                        f"no {kind}/{ident} in this EHR",
                    )
                )
        except Refused as refused:
            return self._refuse(refused.refusal, request, "read", now)
        self._event(now, EventKind.EHR_READ, request, "read", kind, 200, id=ident)
        return _answer(200, resource)

    def search(self, request: FhirRequest, now: datetime) -> FhirResponse:
        """FHIR search (``GET [base]/Type?params``): a searchset Bundle."""
        kind = request.path.strip("/")
        try:
            self._authorize(request, kind, Interaction.SEARCH)
            query = parse_query(kind, request.query)
            matches = list(self.store.search(kind, query))
        except Refused as refused:
            return self._refuse(refused.refusal, request, "search-type", now)
        self._event(now, EventKind.EHR_READ, request, "search-type", kind, 200, total=len(matches))
        return _answer(200, self._bundle(request, matches, query))

    # --- the hops ----------------------------------------------------------------------

    def _authorize(self, request: FhirRequest, kind: str, interaction: Interaction) -> None:
        for refusal in (check_token(request.token), _check_type(kind)):
            if refusal is not None:
                raise Refused(refusal)
        refusal = check_scope(request.token, kind, interaction)
        if refusal is not None:
            raise Refused(refusal)

    def _create(self, request: FhirRequest, now: datetime) -> _Accepted:
        kind = request.path.strip("/")
        self._authorize(request, kind, Interaction.CREATE)
        data = parse_body(request.body, kind)
        condition = _condition(request, kind)
        if self.registry.find(request.device_id) is None:
            raise Refused(
                Refusal(
                    403,
                    Reason.NOT_REGISTERED,
                    IssueType.FORBIDDEN,
                    f"device {request.device_id!r} is not in the EHR's device registry",
                )
            )
        encounter = ""
        if kind in CLINICAL_TYPES:
            encounter = self.context.check(request.device_id, data, now)
        validate(data)
        check_references(data, self._exists)
        # room kept for the Provenance and AuditEvent written after it
        created = self.store.create(data, now, condition=condition, room=2)
        patient = data["subject"]["reference"] if kind in CLINICAL_TYPES else ""
        return _Accepted(created, patient, encounter)

    def _exists(self, kind: str, ident: str) -> bool:
        return kind not in SUPPORTED_TYPES or self.store.exists(kind, ident)

    # --- answers, audit and events -------------------------------------------------

    def _created(self, accepted: _Accepted, request: FhirRequest, now: datetime) -> FhirResponse:
        created = accepted.created
        device = f"Device/{self.registry.device(request.device_id)['id']}"
        if created.new:
            owner = self.registry.owner_of(request.device_id)
            self.store.create(
                provenance(
                    created.reference,
                    device=device,
                    owner=owner,
                    now=now,
                    encounter=accepted.encounter,
                ),
                now,
            )
        record = AuditRecord(
            "create",
            device,
            request.token.client_id,
            request.peer,
            self.name,
            entity=created.reference,
            patient=accepted.patient,
            outcome_desc="" if created.new else "If-None-Exist matched it; nothing created",
        )
        audited = self._audit(record, now, checked=not created.new)
        status = 201 if created.new else 200
        kind, ident = created.reference.split("/")
        self._event(
            now, EventKind.EHR_WRITE, request, "create", kind, status, id=ident,
            created=created.new, audit_kept=audited,
        )  # fmt: skip
        location = f"{self.base}/{created.reference}/_history/1"
        return _answer(status, created.resource, (("Location", location), ("ETag", 'W/"1"')))

    def _refuse(
        self, refusal: Refusal, request: FhirRequest, interaction: str, now: datetime
    ) -> FhirResponse:
        known = self.registry.find(request.device_id)
        device = request.device_id if known is None else f"Device/{known['id']}"
        record = AuditRecord(
            interaction,
            device,
            request.token.client_id,
            request.peer,
            self.name,
            query=request.query_string if interaction == "search-type" else "",
            refused=True,
            outcome_desc=f"{refusal.status} {refusal.reason.value}: {refusal.diagnostics}",
            serious=refusal.status >= 500,
        )
        audited = self._audit(record, now, checked=True)
        kind = request.path.strip("/").partition("/")[0]
        write = interaction == "create"
        self._event(
            now,
            EventKind.EHR_WRITE if write else EventKind.EHR_READ,
            request,
            interaction,
            kind,
            refusal.status,
            reason=refusal.reason,
            audit_kept=audited,
        )
        headers = (*refusal.headers,)
        answer = _answer(refusal.status, operation_outcome(refusal.issues), headers)
        return replace(answer, reason=refusal.reason)

    def _audit(self, record: AuditRecord, now: datetime, *, checked: bool) -> bool:
        """Store ``record``'s AuditEvent (``checked``: only if a bounded store has room
        for it; else room was kept for it); False when there was none."""
        try:
            self.store.create(audit_event(record, now), now, room=0 if checked else None)
        except Refused:
            return False
        return True

    def _event(
        self,
        now: datetime,
        kind: EventKind,
        request: FhirRequest,
        interaction: str,
        resource_type: str,
        status: int,
        *,
        reason: Reason = Reason.OK,
        audit_kept: bool = True,
        **data: str | int | bool,
    ) -> None:
        if not audit_kept:  # said only when a bounded store had no room for it
            data["audit_kept"] = False
        self.log.emit(
            now,
            kind,
            request.device_id,
            interaction=interaction,
            resource_type=resource_type,
            status=status,
            allowed=reason is Reason.OK,
            reason=reason.value,
            **data,
        )

    def _bundle(
        self, request: FhirRequest, matches: list[dict[str, Any]], query: Query
    ) -> dict[str, Any]:
        kind = request.path.strip("/")
        self_url = f"{self.base}/{kind}" + (f"?{request.query_string}" if request.query else "")
        return {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": len(matches),
            "link": [{"relation": "self", "url": self_url}],
            "entry": [
                {
                    "fullUrl": f"{self.base}/{kind}/{data['id']}",
                    "resource": data,
                    "search": {"mode": "match"},
                }
                for data in matches[: query.count]
            ],
        }


def _check_type(kind: str) -> Refusal | None:
    if kind in SUPPORTED_TYPES:
        return None
    return Refusal(
        404,
        Reason.RESOURCE_NOT_FOUND,
        IssueType.NOT_SUPPORTED,
        f"this EHR holds no resource type {kind!r} (it holds {', '.join(sorted(SUPPORTED_TYPES))})",
    )


def _condition(request: FhirRequest, kind: str) -> Query | None:
    """The ``If-None-Exist`` search of a create, or None; 400 if it has no criterion."""
    text = request.header("If-None-Exist")
    if text is None:
        return None
    pairs = tuple(
        (key, value) for key, _, value in (part.partition("=") for part in text.split("&"))
    )
    query = parse_query(kind, pairs)
    if not query.criteria:
        raise Refused(
            Refusal(
                400,
                Reason.REQUEST_MALFORMED,
                IssueType.INVALID,
                f"If-None-Exist {text!r} has no search criterion",
            )
        )
    return query


def _answer(
    status: int, resource: dict[str, Any], headers: tuple[tuple[str, str], ...] = ()
) -> FhirResponse:
    return FhirResponse(status, encode(resource), (("Content-Type", FHIR_JSON), *headers))
