"""Refusals below the decision core, counted and written as aggregated audit events.

A flood of refused requests must cost O(1) memory and a bounded audit trail, yet every
refusal must be accounted for.  :class:`Tallies` counts each refusal under its key
(event kind, subject and the fields that say what was refused: listener, source
address, reason, status) and :meth:`Tallies.flush` writes one event per key with the
``count``, the ``first`` and ``last`` times and one example ``detail``; the server
flushes every ``audit_interval`` seconds and when it stops.  At most ``max_keys``
keys are held: beyond them refusals are counted under the source ``(other)``, and
every field but those the server's own closed sets fill (:data:`CLOSED_FIELDS`: the
reason, the status, ...) as ``(other)`` too, so memory does not grow with the number
of addresses an attacker uses, nor with the values it writes into a request (a CRL's
site in the path).

:class:`Refusal` names the refusals of the transport (``request-refused`` events).
Served CRL and OCSP answers are tallied the same way (``requests-served``), and so are
the EST core's answers to unauthenticated clients (:mod:`testbed.live.audit`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from testbed.clock import isoformat
from testbed.events import EventKind, EventLog, Value

__all__ = ["CLOSED_FIELDS", "OTHER_SOURCE", "Refusal", "Tallies"]

OTHER_SOURCE = "(other)"
"""The source refusals are counted under once ``max_keys`` keys are held."""

_DETAIL = 200  # characters of an example detail kept per key

CLOSED_FIELDS = frozenset(
    {"reason", "status", "cause", "endpoint", "ocsp_status", "error", "authenticated",
     "service", "allowed", "hop", "purpose"}
)
"""Fields whose values the server chooses from closed sets (a :class:`Refusal`, a
decision reason, an HTTP status, a handshake cause, an EST endpoint, an OCSP status,
an OAuth error, whether the client authenticated; an access decision's service, hop
and purpose, which the server names):
kept in a key beyond ``max_keys``; any other field there is counted as ``(other)``."""


class Refusal(StrEnum):
    """Why the transport refused a connection or a request (``reason`` of a
    ``request-refused`` event)."""

    CONNECTION_CAP_TOTAL = "connection-cap-total"
    CONNECTION_CAP_LISTENER = "connection-cap-listener"
    CONNECTION_CAP_SOURCE = "connection-cap-source"
    TLS_HANDSHAKE = "tls-handshake-failed"
    HEADER_TIMEOUT = "header-timeout"
    IDLE_TIMEOUT = "idle-timeout"
    REQUEST_TIMEOUT = "request-timeout"
    HEAD_TOO_LARGE = "head-too-large"
    MALFORMED_HTTP = "malformed-http"
    BODY_TOO_LARGE = "body-too-large"
    PDU_TOO_LARGE = "pdu-too-large"
    MESSAGE_TOO_LARGE = "message-too-large"
    MALFORMED_DICOM = "malformed-dicom"
    STORAGE_FULL = "storage-full"
    NOT_FOUND = "not-found"
    METHOD_NOT_ALLOWED = "method-not-allowed"
    UNSUPPORTED_MEDIA_TYPE = "unsupported-media-type"
    UNAUTHORIZED = "unauthorized"
    SERVICE_UNAVAILABLE = "service-unavailable"
    BAD_REQUEST = "bad-request"
    RATE_LIMITED = "rate-limited"
    ADMIN_AUTH_FAILED = "admin-auth-failed"
    CONFLICT = "conflict"
    SERVER_ERROR = "server-error"


Key = tuple[EventKind, str, tuple[tuple[str, Value], ...]]


@dataclass(slots=True)
class _Tally:
    count: int
    first: datetime
    last: datetime
    detail: str


class Tallies:
    """Counts of refusals (and of served CRL/OCSP answers) until the next flush."""

    def __init__(self, log: EventLog, *, max_keys: int = 1024) -> None:
        self.log = log
        self.max_keys = max_keys
        self._tallies: dict[Key, _Tally] = {}
        self.noted = 0
        """Everything tallied since the start (each refusal or answer once)."""

    def note(
        self,
        kind: EventKind,
        subject: str,
        now: datetime,
        *,
        source: str,
        fields: Mapping[str, Value],
        detail: str = "",
    ) -> None:
        """Count one refusal (or served answer) of ``kind`` about ``subject`` from
        ``source``; ``fields`` say what it was (they form its key with the source)."""
        self.noted += 1
        items = tuple(fields.items())
        key: Key = (kind, subject, (("source", source), *items))
        tally = self._tallies.get(key)
        if tally is None:
            if len(self._tallies) >= self.max_keys:  # what a client chose: (other)
                items = tuple((k, v if k in CLOSED_FIELDS else OTHER_SOURCE) for k, v in items)
                key = (kind, subject, (("source", OTHER_SOURCE), *items))
                tally = self._tallies.get(key)
            if tally is None:
                self._tallies[key] = _Tally(1, now, now, detail[:_DETAIL])
                return
        tally.count += 1
        tally.last = now

    def __len__(self) -> int:
        return len(self._tallies)

    def flush(self, now: datetime) -> int:
        """Write one event per key tallied since the last flush; how many were written."""
        tallies, self._tallies = self._tallies, {}
        for (kind, subject, fields), tally in tallies.items():
            self.log.emit(now, kind, subject, **dict(fields), count=tally.count,
                          first=isoformat(tally.first), last=isoformat(tally.last),
                          detail=tally.detail)  # fmt: skip
        return len(tallies)
