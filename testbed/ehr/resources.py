"""FHIR resources the EHR holds, parsed and validated with ``fhir.resources``.

The EHR speaks FHIR R4.  ``fhir.resources`` 8 ships R5 at its top level and 4.3
(R4B) under ``fhir.resources.R4B``, but no R4 models; R4B is the closest, and for the
resources the testbed uses (Patient, Encounter, Location, Organization, Device,
Observation, DiagnosticReport, ServiceRequest, ImagingStudy, Provenance, AuditEvent)
the R4 -> R4B differences do not touch the elements the testbed reads.  So a
resource is validated against its R4B model: unknown elements, wrong types and
missing required elements are refused (``pydantic.ValidationError``).

``fhir.resources`` checks neither reference target types nor coded values, so the
targets of the references the testbed relies on are checked by
:mod:`testbed.ehr.references`.

The stored form of a resource is the JSON object the client sent (already parsed),
with the server's ``id`` and ``meta``: validation decides whether it is accepted, it
does not rewrite it.
"""

from __future__ import annotations

import json
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from testbed.decisions import Reason
from testbed.ehr.outcomes import Issue, IssueType, Refusal, Refused
from testbed.json_nesting import nesting

__all__ = ["CLINICAL_TYPES", "SUPPORTED_TYPES", "parse_body", "validate"]

SUPPORTED_TYPES = frozenset(
    {
        "Patient",
        "Encounter",
        "Location",
        "Organization",
        "Device",
        "Observation",
        "DiagnosticReport",
        "ServiceRequest",
        "ImagingStudy",
        "Provenance",
        "AuditEvent",
    }
)
"""The resource types the EHR holds (Organization: the owners of devices, which
Provenance names)."""

CLINICAL_TYPES = frozenset({"Observation", "DiagnosticReport", "ServiceRequest", "ImagingStudy"})
"""Types a device writes about a patient: bound to patient context (context.py)."""

MAX_ISSUES = 10
"""Validation problems listed in one OperationOutcome at most (the rest are counted)."""

MAX_DEPTH = 32
"""The deepest a request body's JSON may nest (read before it is parsed: Python's
parser recurses per level).  The resources this EHR takes nest about 6 levels."""


def parse_body(body: bytes, resource_type: str) -> dict[str, Any]:
    """The JSON object of a request body, which must name ``resource_type``;
    :class:`Refused` with 400 otherwise."""
    depth = nesting(body)
    if depth > MAX_DEPTH:
        raise Refused(_malformed(f"the body nests {depth} levels deep; a resource here "
                                 f"nests at most {MAX_DEPTH}"))  # fmt: skip
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Refused(_malformed(f"the body is not JSON: {exc}")) from None
    if not isinstance(data, dict):
        raise Refused(_malformed("the body must be a JSON object (a FHIR resource)"))
    found = data.get("resourceType")
    if found != resource_type:
        raise Refused(
            _malformed(
                f"the body's resourceType is {found!r}, the URL names {resource_type!r}",
                "resourceType",
            )
        )
    return data


def _malformed(message: str, expression: str = "") -> Refusal:
    return Refusal(400, Reason.REQUEST_MALFORMED, IssueType.STRUCTURE, message, expression)


def validate(data: dict[str, Any]) -> None:
    """Check ``data`` against its R4B model; :class:`Refused` with 422 listing each
    problem (unknown element, wrong type, missing required element)."""
    model = get_fhir_model_class(data["resourceType"])
    try:
        model.model_validate(data)
    except ValidationError as exc:
        raise Refused(_invalid(exc)) from None


def _invalid(exc: ValidationError) -> Refusal:
    errors = exc.errors()
    issues = [
        Issue(_issue_type(error["type"]), error["msg"], _expression(error["loc"]))
        for error in errors[:MAX_ISSUES]
    ]
    if len(errors) > MAX_ISSUES:
        issues.append(Issue(IssueType.INVALID, f"{len(errors) - MAX_ISSUES} more problems"))
    first, *more = issues
    return Refusal(
        422,
        Reason.RESOURCE_INVALID,
        first.type,
        first.diagnostics,
        first.expression,
        more=tuple(more),
    )


def _issue_type(error_type: str) -> IssueType:
    if error_type == "extra_forbidden":
        return IssueType.STRUCTURE
    if error_type.endswith("missing"):
        return IssueType.REQUIRED
    return IssueType.VALUE


def _expression(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path.lstrip(".")
