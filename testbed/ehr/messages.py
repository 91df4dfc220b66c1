"""The EHR's requests and answers, free of any transport.

A transport (the simulation's delivery, or the live HTTPS server) parses what it
received into a :class:`FhirRequest`: the method, the path under the FHIR base
(``Observation`` or ``Observation/<id>``), the query pairs, the body bytes, the headers,
the token checker's verdict and the device the TLS hop identified.  The EHR answers a
:class:`FhirResponse` that the transport writes back as it is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from testbed.decisions import Reason
from testbed.ehr.authorization import TokenCheck

__all__ = ["FHIR_JSON", "FhirRequest", "FhirResponse", "encode"]

FHIR_JSON = "application/fhir+json"


@dataclass(frozen=True, slots=True)
class FhirRequest:
    """One parsed FHIR request (header names are matched case-insensitively)."""

    method: str
    path: str
    token: TokenCheck
    device_id: str
    query: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    peer: str = ""

    def header(self, name: str) -> str | None:
        """The value of header ``name``, or None."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), None)

    @property
    def query_string(self) -> str:
        """The query as ``a=b&c=d`` (for the audit trail)."""
        return "&".join(f"{key}={value}" for key, value in self.query)


@dataclass(frozen=True, slots=True)
class FhirResponse:
    """One answer: status, headers and body bytes (FHIR JSON); ``reason``: the
    testbed's reason (``ok``, or why it was refused), for the transport's accounting,
    never sent."""

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = field(default=())
    reason: Reason = Reason.OK

    def json(self) -> Any:
        """The body, parsed."""
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        """The value of header ``name``, or None."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), None)


def encode(resource: dict[str, Any]) -> bytes:
    """A resource as compact UTF-8 JSON, keys in the resource's own order."""
    return json.dumps(resource, separators=(",", ":"), ensure_ascii=False).encode()
