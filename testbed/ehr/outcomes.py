"""Refusals of the FHIR API: an HTTP status, the testbed's reason, an OperationOutcome.

Each class of refusal has one status and one FHIR issue type (R4 ``IssueType``,
http://hl7.org/fhir/R4/valueset-issue-type.html):

===================================================  ======  =====================
refusal                                              status  issue type
===================================================  ======  =====================
body is not JSON, or not the type the URL names      400     ``structure``
unknown search parameter, bad condition              400     ``invalid``
token missing, expired, inactive or foreign          401     ``expired`` / ``login``
scope does not cover the interaction                 403     ``forbidden``
patient not in the device's context, unknown device  403     ``forbidden``
unknown resource type                                404     ``not-supported``
unknown resource id                                  404     ``not-found``
``If-None-Exist`` matches more than one              412     ``multiple-matches``
unknown element                                      422     ``structure``
missing required element                             422     ``required``
wrong type or value, reference to a disallowed type  422     ``value`` / ``invalid``
reference to a resource that does not exist          422     ``not-found``
encounter other than the patient's current one       422     ``business-rule``
===================================================  ======  =====================

A refusal travels as :class:`Refused` from the hop that decides it to the service,
which answers it and audits it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from testbed.decisions import Reason

__all__ = ["IssueType", "Refusal", "Refused", "operation_outcome"]


class IssueType(StrEnum):
    """The FHIR R4 issue types the EHR answers with."""

    STRUCTURE = "structure"
    INVALID = "invalid"
    REQUIRED = "required"
    VALUE = "value"
    BUSINESS_RULE = "business-rule"
    LOGIN = "login"
    EXPIRED = "expired"
    FORBIDDEN = "forbidden"
    TRANSIENT = "transient"  # the EHR is down: try again later
    NO_STORE = "no-store"  # (transient) the store takes nothing more
    TOO_COSTLY = "too-costly"  # a search that would look at too much
    NOT_SUPPORTED = "not-supported"
    NOT_FOUND = "not-found"
    MULTIPLE_MATCHES = "multiple-matches"


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem found: its type, a message, where (a FHIRPath-like expression)."""

    type: IssueType
    diagnostics: str
    expression: str = ""


@dataclass(frozen=True, slots=True)
class Refusal:
    """A refused request: status, reason, and the issues the OperationOutcome lists
    (the first issue is ``issue`` and ``diagnostics``; ``more`` adds others)."""

    status: int
    reason: Reason
    issue: IssueType
    diagnostics: str
    expression: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    more: tuple[Issue, ...] = ()

    def __post_init__(self) -> None:
        if self.reason is Reason.OK or not 400 <= self.status < 600:
            raise ValueError(
                f"a refusal needs a 4xx or 5xx status and a reason other than 'ok' "
                f"(got {self.status}, {self.reason.value!r})"
            )

    @property
    def issues(self) -> tuple[Issue, ...]:
        """Every issue, the first one first."""
        return (Issue(self.issue, self.diagnostics, self.expression), *self.more)


class Refused(Exception):
    """Raised by a hop of the EHR with the :class:`Refusal` it decided."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.diagnostics)
        self.refusal = refusal


def operation_outcome(issues: tuple[Issue, ...]) -> dict[str, Any]:
    """An R4 OperationOutcome with one ``error`` issue per :class:`Issue`."""
    return {
        "resourceType": "OperationOutcome",
        "issue": [_issue(issue) for issue in issues],
    }


def _issue(issue: Issue) -> dict[str, Any]:
    out: dict[str, Any] = {
        "severity": "error",
        "code": issue.type.value,
        "diagnostics": issue.diagnostics,
    }
    if issue.expression:
        out["expression"] = [issue.expression]
    return out
