"""What aiohttp answers by itself reaches the audit log as a refusal, with the peer."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from aiohttp import web
from aiohttp.http_exceptions import BadStatusLine
from aiohttp.test_utils import TestClient, TestServer

from testbed.events import EventLog
from testbed.live.guard import Guard, audit_middleware
from testbed.live.http_errors import AuditingLogger
from testbed.live.limits import Limits
from testbed.live.refusals import Refusal, Tallies

T0 = datetime(2026, 1, 5, tzinfo=UTC)


def _logger() -> tuple[AuditingLogger, list[tuple[Refusal, str, int, str]]]:
    noted: list[tuple[Refusal, str, int, str]] = []
    logger = AuditingLogger(lambda *args: noted.append(args))
    logger.parent = None  # nothing passed on: the test reads what was noted
    return logger, noted


def test_a_handler_timeout_is_a_504_the_audit_middleware_notes_once() -> None:
    """aiohttp answers a handler's TimeoutError 504 and tells only a debug log (off
    unless the loop runs in debug mode): the audit middleware notes it, from the
    request's peer, and the logger sees nothing to count twice."""
    log = EventLog()
    guard = Guard(Limits(), Tallies(log), now=lambda: T0)
    noted: list[tuple[Refusal, str, int, str]] = []
    logger = AuditingLogger(lambda *args: noted.append(args))

    async def slow(request: web.Request) -> web.Response:
        raise TimeoutError("JWKS fetch")

    async def scenario() -> int:
        app = web.Application(middlewares=[audit_middleware(guard, "ehr")])
        app.router.add_get("/slow", slow)
        async with TestServer(app, host="127.0.0.1", access_log=None, logger=logger) as server, \
                TestClient(server) as client:  # fmt: skip
            answer = await client.get("/slow")
            return answer.status

    assert asyncio.run(scenario()) == 504
    guard.tallies.flush(T0)
    assert [(e.subject, e.data["source"], e.data["reason"], e.data["status"], e.data["count"])
            for e in log] == [("ehr", "127.0.0.1", "server-error", 504, 1)]  # fmt: skip
    assert noted == []


def test_a_request_aiohttp_could_not_parse_is_malformed_from_the_address_it_names() -> None:
    logger, noted = _logger()
    logger.exception("Error handling request from %s", "127.0.0.5",
                     exc_info=BadStatusLine("GARBAGE"))  # fmt: skip
    assert [(reason, source, status) for reason, source, status, _ in noted] == [
        (Refusal.MALFORMED_HTTP, "127.0.0.5", 400)]  # fmt: skip


def test_a_handler_error_is_a_500_server_error_and_other_debug_lines_are_not_refusals() -> None:
    logger, noted = _logger()
    logger.exception("Error handling request from %s", "127.0.0.6", exc_info=KeyError("x"))
    logger.debug("Ignored premature client disconnection")
    assert noted == [(Refusal.SERVER_ERROR, "127.0.0.6", 500, "KeyError")]
