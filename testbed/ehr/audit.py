"""AuditEvents of the FHIR API, after IHE Basic Audit Log Patterns (BALP).

One AuditEvent per accepted write and per refusal (reads and searches that succeed
are recorded as the testbed's events only; BALP would audit them too, at a volume the
simulation does not need).  The fields follow BALP's RESTful pattern:

- ``type`` rest (audit-event-type), ``subtype`` the interaction (restful-interaction:
  create, read, search-type), ``action`` C / R / E, ``recorded``, ``outcome`` 0
  (success), 4 (a refusal: the client's request failed) or 8 (the server failed: a
  full store) with ``outcomeDesc``;
- agents: the client (DICOM 110153 Source Role ID, the Device, requestor, its network
  address), the server (110152 Destination Role ID, the EHR), and the OAuth client
  that the token names (identified by its client_id);
- ``source``: the EHR, type 4 (application server);
- entities: the resource written or read (type 2 system object), the patient (role 1)
  when there is one, the query of a search (base64 of the query string).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from testbed.clock import isoformat

__all__ = ["MAX_OUTCOME_DESC", "MAX_QUERY", "AuditRecord", "audit_event", "clipped"]

_DCM = "http://dicom.nema.org/resources/ontology/DCM"
_TYPE = "http://terminology.hl7.org/CodeSystem/audit-event-type"
_SUBTYPE = "http://hl7.org/fhir/restful-interaction"
_SOURCE_TYPE = "http://terminology.hl7.org/CodeSystem/security-source-type"
_ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
_ACTIONS = {"create": "C", "read": "R", "search-type": "E"}


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """What an AuditEvent says: the interaction, who asked, from where, about what,
    and the outcome (``refused``: ``outcome_desc`` says why)."""

    interaction: str  # create | read | search-type
    device: str  # Device/<id>, or the testbed device id if the EHR does not know it
    client_id: str
    peer: str
    server: str
    entity: str = ""  # Type/id written or read
    patient: str = ""  # Patient/<id>
    query: str = ""
    refused: bool = False
    outcome_desc: str = ""
    serious: bool = False  # the server failed (a 5xx): outcome 8, not 4


MAX_QUERY = 1024
"""The characters of a search's query an AuditEvent keeps (a client chose them: a
refused search must not store kilobytes per request)."""
MAX_OUTCOME_DESC = 512
"""The characters of ``outcomeDesc`` an AuditEvent keeps."""


def clipped(text: str, limit: int) -> str:
    """``text``, or its first ``limit`` characters and how many more there were."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text) - limit} more characters)"


def audit_event(record: AuditRecord, now: datetime) -> dict[str, Any]:
    """A BALP-style AuditEvent (without id) for ``record`` at ``now``."""
    out: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "type": {"system": _TYPE, "code": "rest", "display": "Restful Operation"},
        "subtype": [{"system": _SUBTYPE, "code": record.interaction}],
        "action": _ACTIONS[record.interaction],
        "recorded": isoformat(now),
        "outcome": ("8" if record.serious else "4") if record.refused else "0",
        "agent": _agents(record),
        "source": {
            "observer": {"display": record.server},
            "type": [{"system": _SOURCE_TYPE, "code": "4"}],
        },
    }
    if record.outcome_desc:
        out["outcomeDesc"] = clipped(record.outcome_desc, MAX_OUTCOME_DESC)
    entities = _entities(record)
    if entities:
        out["entity"] = entities
    return out


def _agents(record: AuditRecord) -> list[dict[str, Any]]:
    client: dict[str, Any] = {
        "type": {"coding": [{"system": _DCM, "code": "110153", "display": "Source Role ID"}]},
        "requestor": True,
    }
    if record.device.startswith("Device/"):
        client["who"] = {"reference": record.device}
    else:
        client["who"] = {"identifier": {"system": "urn:testbed:device", "value": record.device}}
    if record.peer:
        client["network"] = {"address": record.peer, "type": "2"}
    agents = [
        client,
        {
            "type": {
                "coding": [{"system": _DCM, "code": "110152", "display": "Destination Role ID"}]
            },
            "who": {"display": record.server},
            "requestor": False,
        },
    ]
    if record.client_id:
        agents.append(
            {
                "type": {"text": "OAuth client"},
                "who": {
                    "identifier": {"system": "urn:testbed:smart-client", "value": record.client_id}
                },
                "requestor": False,
            }
        )
    return agents


def _entities(record: AuditRecord) -> list[dict[str, Any]]:
    entities: list[dict[str, Any]] = []
    if record.entity:
        entities.append(
            {"what": {"reference": record.entity}, "type": {"system": _ENTITY_TYPE, "code": "2"}}
        )
    if record.patient:
        entities.append(
            {"what": {"reference": record.patient}, "role": {"system": _ROLE, "code": "1"}}
        )
    if record.query:
        entities.append(
            {
                "type": {"system": _ENTITY_TYPE, "code": "2"},
                "query": base64.b64encode(clipped(record.query, MAX_QUERY).encode()).decode(),
            }
        )
    return entities
