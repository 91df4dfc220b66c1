"""HTTP errors aiohttp answers by itself, made refusals the audit log sees.

A request aiohttp's parser cannot read (a malformed request line, a header line too
long, too many headers, a bad method) is answered 400 inside aiohttp, before any
application code or middleware runs; it only tells its ``logger``.  Each server gets
an :class:`AuditingLogger` as that logger: the errors it is told about become
refusals (``malformed-http`` for a request it could not parse, ``server-error`` for
a handler that raised), noted with the peer address aiohttp gives, else the one the
audit middleware set for the request (:data:`~testbed.live.audit.PEER`).  A handler's
timeout, which aiohttp answers 504 and tells only a debug log, is the audit
middleware's (:func:`testbed.live.guard.audit_middleware`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from aiohttp.http_exceptions import HttpProcessingError

from testbed.live.audit import PEER
from testbed.live.refusals import Refusal

__all__ = ["AuditingLogger", "Noted"]

Noted = Callable[[Refusal, str, int, str], None]
"""Notes a refusal: (reason, source address, HTTP status, detail)."""

_ERROR_HANDLING = "Error handling request from %s"


class AuditingLogger(logging.Logger):
    """aiohttp's server logger for one listener: request errors become refusals;
    everything is also passed to the ``aiohttp.server`` logger as before."""

    def __init__(self, noted: Noted) -> None:
        super().__init__("testbed.live.http", logging.DEBUG)
        self.noted = noted
        self.parent = logging.getLogger("aiohttp.server")

    def debug(self, msg: object, *args: object, **kwargs: Any) -> None:
        """aiohttp reports a bad method on a connection's first request here."""
        self._note(msg, args, kwargs)
        if self.parent is not None:
            self.parent.debug(msg, *args, **kwargs)

    def exception(self, msg: object, *args: object, **kwargs: Any) -> None:
        """aiohttp reports other request errors and handler exceptions here."""
        self._note(msg, args, kwargs)
        if self.parent is not None and not self._is_parse_error(kwargs):
            self.parent.exception(msg, *args, **kwargs)  # a parse error is no server fault

    def _note(self, msg: object, args: tuple[object, ...], kwargs: dict[str, Any]) -> None:
        error = kwargs.get("exc_info")
        if not isinstance(error, BaseException):
            return
        source = str(args[0]) if msg == _ERROR_HANDLING and args else PEER.get()
        if isinstance(error, HttpProcessingError):
            detail = f"{type(error).__name__}: {error.message}"
            self.noted(Refusal.MALFORMED_HTTP, source, error.code or 400, detail)
        else:
            self.noted(Refusal.SERVER_ERROR, source, 500, type(error).__name__)

    @staticmethod
    def _is_parse_error(kwargs: dict[str, Any]) -> bool:
        return isinstance(kwargs.get("exc_info"), HttpProcessingError)
