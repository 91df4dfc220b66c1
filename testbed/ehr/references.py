"""Reference targets: which resource types an element may point to, and whether the
target exists.

``fhir.resources`` does not check reference target types, so the table below lists,
for the elements the testbed relies on, the target types FHIR R4 allows (from each
resource's R4 definition).  A reference there must be a relative literal reference
``Type/id`` to an allowed type; a logical reference (``identifier`` only) passes.  A
target of a type the EHR holds must exist in the store (the EHR is authoritative for
them); targets of other types (Practitioner, Group, ...) are not resolved.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from testbed.decisions import Reason
from testbed.ehr.outcomes import IssueType, Refusal, Refused

__all__ = ["REFERENCE_TARGETS", "references", "split_reference"]

_REQUEST_TYPES = (
    "CarePlan",
    "ImmunizationRecommendation",
    "MedicationRequest",
    "NutritionOrder",
    "ServiceRequest",
)
_AGENTS = ("Practitioner", "PractitionerRole", "RelatedPerson", "Patient", "Device", "Organization")
_SUBJECTS = ("Patient", "Group", "Device", "Location")

REFERENCE_TARGETS: dict[str, dict[str, tuple[str, ...]]] = {
    "Patient": {"managingOrganization": ("Organization",)},
    "Organization": {"partOf": ("Organization",)},
    "Location": {"managingOrganization": ("Organization",), "partOf": ("Location",)},
    "Encounter": {
        "subject": ("Patient", "Group"),
        "location.location": ("Location",),
        "serviceProvider": ("Organization",),
        "basedOn": ("ServiceRequest",),
    },
    "Device": {
        "owner": ("Organization",),
        "location": ("Location",),
        "patient": ("Patient",),
        "parent": ("Device",),
    },
    "Observation": {
        "subject": _SUBJECTS,
        "encounter": ("Encounter",),
        "device": ("Device", "DeviceMetric"),
        "basedOn": (*_REQUEST_TYPES, "DeviceRequest"),
        "derivedFrom": (
            "DocumentReference",
            "ImagingStudy",
            "Media",
            "QuestionnaireResponse",
            "Observation",
            "MolecularSequence",
        ),
        "hasMember": ("Observation", "QuestionnaireResponse", "MolecularSequence"),
    },
    "DiagnosticReport": {
        "subject": _SUBJECTS,
        "encounter": ("Encounter",),
        "basedOn": _REQUEST_TYPES,
        "performer": ("Practitioner", "PractitionerRole", "Organization", "CareTeam"),
        "result": ("Observation",),
        "imagingStudy": ("ImagingStudy",),
    },
    "ServiceRequest": {
        "subject": _SUBJECTS,
        "encounter": ("Encounter",),
        "requester": _AGENTS,
        "performer": (*_AGENTS, "CareTeam", "HealthcareService"),
    },
    "ImagingStudy": {
        "subject": ("Patient", "Device", "Group"),
        "encounter": ("Encounter",),
        "basedOn": ("CarePlan", "ServiceRequest", "Appointment", "AppointmentResponse", "Task"),
        "location": ("Location",),
    },
    "Provenance": {
        "location": ("Location",),
        "agent.who": _AGENTS,
        "agent.onBehalfOf": _AGENTS,
    },
    "AuditEvent": {
        "agent.who": _AGENTS,
        "agent.location": ("Location",),
        "entity.what": (),  # Reference(Any)
    },
}
"""Per resource type, per element path (dots between elements; lists are walked),
the R4 target types allowed (empty: any type)."""

_LITERAL = re.compile(r"(?P<type>[A-Z][A-Za-z]+)/(?P<id>[A-Za-z0-9\-.]{1,64})")


def split_reference(reference: object) -> tuple[str, str] | None:
    """``(type, id)`` of a relative literal reference ``Type/id``; ``None`` otherwise."""
    if not isinstance(reference, str):
        return None
    match = _LITERAL.fullmatch(reference)
    return None if match is None else (match["type"], match["id"])


def references(data: dict[str, Any], path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(expression, Reference object)`` for each reference at ``path`` in ``data``."""
    head, _, rest = path.partition(".")
    value = data.get(head)
    items = value if isinstance(value, list) else [value]
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            continue
        where = f"{head}[{index}]" if isinstance(value, list) else head
        if rest:
            for inner, ref in references(item, rest):
                yield f"{where}.{inner}", ref
        else:
            yield where, item


def check_references(data: dict[str, Any], exists: Callable[[str, str], bool] | None) -> None:
    """:class:`Refused` (422) for a reference to a type its element does not allow, or
    to a resource of a held type that ``exists(type, id)`` says is absent (not checked
    when ``exists`` is None)."""
    for path, allowed in REFERENCE_TARGETS.get(data["resourceType"], {}).items():
        for expression, ref in references(data, path):
            _check_one(ref, expression, allowed, exists)


def _check_one(
    ref: dict[str, Any],
    expression: str,
    allowed: tuple[str, ...],
    exists: Callable[[str, str], bool] | None,
) -> None:
    if "reference" not in ref:
        return  # a logical reference (identifier) or a display only
    target = split_reference(ref["reference"])
    if target is None:
        raise Refused(
            Refusal(
                422,
                Reason.RESOURCE_INVALID,
                IssueType.INVALID,
                f"{expression} must be a relative reference Type/id, got {ref['reference']!r}",
                expression,
            )
        )
    kind, ident = target
    if allowed and kind not in allowed:
        raise Refused(
            Refusal(
                422,
                Reason.RESOURCE_INVALID,
                IssueType.INVALID,
                f"{expression} may reference {', '.join(allowed)}, not {kind}",
                expression,
            )
        )
    if exists is not None and not exists(kind, ident):
        raise Refused(
            Refusal(
                422,
                Reason.REFERENCE_UNRESOLVED,
                IssueType.NOT_FOUND,
                f"{expression} references {kind}/{ident}, which does not exist",
                expression,
            )
        )
