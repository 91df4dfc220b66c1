"""What every live listener shares: the limits, the connection gate, the tallies, and
the middleware that audits each answer below the decision core.

:class:`Guard` notes refusals (``request-refused``, tallied per listener, source,
reason and status) and served CRL/OCSP answers (``requests-served``).
:func:`audit_middleware` runs around every request of an app: it sets the request's
source for the audit log (:data:`~testbed.live.audit.PEER`), applies the rate limit
(429 with ``Retry-After``), and notes every answer of 400 or more that no decision
point audited itself (a handler marks those with :func:`audited`): an unknown path,
a body too large (413), a bad admin request.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from aiohttp import web
from aiohttp.typedefs import Middleware

from testbed.events import EventKind, Value
from testbed.live.audit import PEER
from testbed.live.gate import ConnectionGate
from testbed.live.limits import Limits
from testbed.live.ratelimit import RateLimiter
from testbed.live.refusals import Refusal, Tallies

__all__ = ["Guard", "audit_middleware", "audited", "peer_of", "source_of"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_AUDITED: web.RequestKey[bool] = web.RequestKey("testbed.audited", bool)
_BY_STATUS = {
    400: Refusal.BAD_REQUEST,
    401: Refusal.UNAUTHORIZED,
    404: Refusal.NOT_FOUND,
    405: Refusal.METHOD_NOT_ALLOWED,
    409: Refusal.CONFLICT,
    413: Refusal.BODY_TOO_LARGE,
    415: Refusal.UNSUPPORTED_MEDIA_TYPE,
    500: Refusal.SERVER_ERROR,
    503: Refusal.SERVICE_UNAVAILABLE,
    504: Refusal.SERVER_ERROR,
}


@dataclass(slots=True)
class Guard:
    """The live transport's shared limits and audit counters."""

    limits: Limits
    tallies: Tallies
    now: Callable[[], datetime]
    gate: ConnectionGate = field(init=False)
    limiter: RateLimiter | None = field(init=False)

    def __post_init__(self) -> None:
        self.gate = ConnectionGate(self.limits)
        rate = self.limits.rate
        self.limiter = None if rate == 0 else RateLimiter(rate=rate, burst=self.limits.burst)

    def refuse(
        self,
        reason: Refusal,
        *,
        listener: str,
        source: str,
        status: int | None = None,
        detail: str = "",
    ) -> None:
        """Note one refusal by the transport."""
        fields: dict[str, Value] = {"reason": reason.value, "status": status}
        self.tallies.note(EventKind.REQUEST_REFUSED, listener, self.now(), source=source,
                          fields=fields, detail=detail)  # fmt: skip

    def served(self, what: str, *, source: str, status: int, **fields: Value) -> None:
        """Note one CRL or OCSP answer (``what``: ``crl`` or ``ocsp``)."""
        self.tallies.note(EventKind.REQUESTS_SERVED, what, self.now(), source=source,
                          fields={"status": status, **fields})  # fmt: skip


def audited(request: web.Request) -> None:
    """Say that a decision point wrote this answer's event (the middleware adds none)."""
    request[_AUDITED] = True


def source_of(sock: socket.socket, address: object) -> str:
    """A connection's source: its IP address, or ``uid:N`` of a Unix-socket peer."""
    if sock.family == socket.AF_UNIX:
        size = struct.calcsize("3i")
        _, uid, _ = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                                        size))  # fmt: skip
        return f"uid:{uid}"
    if isinstance(address, tuple) and address:
        return str(address[0])
    return "(unknown)"


def peer_of(request: web.Request) -> str:
    """The source of a request's connection (as :func:`source_of` says)."""
    transport = request.transport
    if transport is None:
        return "(unknown)"
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family == socket.AF_UNIX:
        return source_of(sock, None)
    peer = transport.get_extra_info("peername")
    return str(peer[0]) if isinstance(peer, tuple) and peer else "(unknown)"


def audit_middleware(guard: Guard, listener: str, *, rate_limited: bool = True) -> Middleware:
    """The middleware of one listener's app (see the module docstring)."""

    @web.middleware
    async def audit(request: web.Request, handler: Handler) -> web.StreamResponse:
        source = peer_of(request)
        PEER.set(source)
        limiter = guard.limiter if rate_limited else None
        if limiter is not None:
            wait = limiter.take(source, asyncio.get_running_loop().time())
            if wait is not None:
                guard.refuse(Refusal.RATE_LIMITED, listener=listener, source=source, status=429,
                             detail=f"more than {guard.limits.rate:g} requests/s")  # fmt: skip
                return web.Response(status=429, headers={"Retry-After": str(wait)},
                                    text="too many requests; retry later\n")  # fmt: skip
        try:
            response = await handler(request)
        except web.HTTPException as error:
            if error.status >= 400:
                _note(guard, listener, source, error.status, error.text or "")
            raise
        except TimeoutError as error:  # aiohttp would answer 504 and tell only a debug log
            _note(guard, listener, source, 504, f"the handler timed out: {error}")
            raise web.HTTPGatewayTimeout(text="the request timed out\n") from None
        if response.status >= 400 and not request.get(_AUDITED, False):
            text = response.text if isinstance(response, web.Response) else None
            _note(guard, listener, source, response.status, text or "")
        return response

    return audit


def _note(guard: Guard, listener: str, source: str, status: int, detail: str) -> None:
    if status == 401 and listener == "admin":
        reason = Refusal.ADMIN_AUTH_FAILED
    else:
        reason = _BY_STATUS.get(status, Refusal.BAD_REQUEST)
    guard.refuse(reason, listener=listener, source=source, status=status, detail=detail)
