"""What aiohttp answers by itself reaches the audit log as a refusal, with the peer."""

from __future__ import annotations

from aiohttp.http_exceptions import BadStatusLine

from testbed.live.audit import PEER
from testbed.live.http_errors import AuditingLogger
from testbed.live.refusals import Refusal


def _logger() -> tuple[AuditingLogger, list[tuple[Refusal, str, int, str]]]:
    noted: list[tuple[Refusal, str, int, str]] = []
    logger = AuditingLogger(lambda *args: noted.append(args))
    logger.parent = None  # nothing passed on: the test reads what was noted
    return logger, noted


def test_a_handler_timeout_is_the_504_aiohttp_answers_from_the_requests_peer() -> None:
    logger, noted = _logger()
    PEER.set("127.0.0.42")  # as the audit middleware sets it for the request
    # aiohttp: log_debug("Request handler timed out.", exc_info=exc), then a 504
    logger.debug("Request handler timed out.", exc_info=TimeoutError("JWKS fetch"))
    assert noted == [(Refusal.SERVER_ERROR, "127.0.0.42", 504,
                      "the handler timed out: JWKS fetch")]  # fmt: skip


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
