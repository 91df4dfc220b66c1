"""The Provenance of an accepted write: which device wrote it, for which organization.

FHIR R4 Provenance: ``target`` the written resource, ``recorded`` the time, one
``agent`` of type ``device`` (provenance-participant-type) whose ``who`` is the
Device and ``onBehalfOf`` the Organization that owns it, ``activity`` CREATE
(v3-DataOperation).  A DiagnosticReport cannot name a Device as performer, so this is
how an AI device's authorship of one is recorded.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from testbed.clock import isoformat

__all__ = ["provenance"]

_PARTICIPANT = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
_OPERATION = "http://terminology.hl7.org/CodeSystem/v3-DataOperation"


def provenance(
    target: str, *, device: str, owner: str, now: datetime, encounter: str = ""
) -> dict[str, Any]:
    """A Provenance (without id) for ``target`` (``Type/id``) written by ``device``
    (``Device/id``) on behalf of ``owner`` (``Organization/id``)."""
    out: dict[str, Any] = {
        "resourceType": "Provenance",
        "target": [{"reference": target}],
        "recorded": isoformat(now),
        "activity": {"coding": [{"system": _OPERATION, "code": "CREATE", "display": "create"}]},
        "agent": [
            {
                "type": {"coding": [{"system": _PARTICIPANT, "code": "device"}]},
                "who": {"reference": device},
                "onBehalfOf": {"reference": owner},
            }
        ],
    }
    if encounter:
        out["reason"] = [{"text": f"written in the context of {encounter}"}]
    return out
