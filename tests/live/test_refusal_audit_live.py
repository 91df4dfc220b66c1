"""Every refusal in live mode writes one audit event (aggregated, with a count).

Each test refuses from its own source address (``127.0.0.4x``), then asks the server
to write its tallies now (``POST /audit/flush`` on the admin socket) and finds
exactly one event for that source and reason, counting what it did.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from typing import TYPE_CHECKING, Any

import pytest

from tests.live.conftest import PILOT

if TYPE_CHECKING:
    from tests.live.conftest import Live, StartServer

pytestmark = pytest.mark.live

STRICT = ("--header-timeout", "2", "--idle-timeout", "1", "--handshake-timeout", "2",
          "--request-timeout", "3", "--max-body", "4096", "--audit-interval", "600")  # fmt: skip


@pytest.fixture(scope="module")
def strict(start_server: StartServer) -> Live:
    """The pilot with short timeouts and a small body limit."""
    return start_server(PILOT, *STRICT)


@pytest.fixture(scope="module")
def limited(start_server: StartServer) -> Live:
    """The pilot with a rate limit of 1 request a second per source, 2 at once."""
    return start_server(PILOT, "--rate-limit", "1", "--rate-burst", "2", "--audit-interval", "600")


def _port(url: str) -> int:
    return int(url.split("//")[1].split("/")[0].split(":")[1])


def _only(live: Live, kind: str, source: str, **fields: Any) -> dict[str, Any]:
    """The one event of ``kind`` from ``source`` with ``fields`` (after a flush)."""
    live.flush_audit()
    found = [e for e in live.events() if e["kind"] == kind and e.get("source") == source
             and all(e.get(k) == v for k, v in fields.items())]  # fmt: skip
    assert len(found) == 1, found
    return found[0]


def _raw(live: Live, source: str, data: bytes, *, pause: float = 0.0) -> bytes:
    """Send ``data`` to the PKI port from ``source`` (in pieces of one line when
    ``pause``), then read what comes back until the server closes (bounded)."""
    with socket.create_connection(("127.0.0.1", _port(live.endpoints["crl"])), timeout=10,
                                  source_address=(source, 0)) as sock:  # fmt: skip
        pieces = data.split(b"\r\n") if pause else [data]
        try:
            for index, piece in enumerate(pieces):
                sock.sendall(piece + (b"\r\n" if pause and index < len(pieces) - 1 else b""))
                time.sleep(pause)
        except (BrokenPipeError, ConnectionResetError):
            pass
        return _drain(sock)


def _drain(sock: socket.socket) -> bytes:
    """What comes back until the server closes the connection (or resets it)."""
    answer = b""
    try:
        while chunk := sock.recv(4096):
            answer += chunk
    except ConnectionResetError:
        pass
    return answer


def test_a_body_too_large_is_one_event(strict: Live) -> None:
    big = strict.work / "big.csr"
    big.write_bytes(b"A" * 10_000)
    for _ in range(2):
        status, _ = strict.est("simpleenroll", big, "--interface", "127.0.0.41")
        assert status == 413
    event = _only(strict, "request-refused", "127.0.0.41", reason="body-too-large")
    assert event["count"] == 2 and event["status"] == 413 and event["subject"] == "est"


def test_malformed_http_is_one_event(strict: Live) -> None:
    for _ in range(3):
        answer = _raw(strict, "127.0.0.42", b"GARBAGE\r\n\r\n")
        assert answer.split(b"\r\n")[0].endswith(b" 400 Bad Request")
    event = _only(strict, "request-refused", "127.0.0.42", reason="malformed-http")
    assert event["count"] == 3 and event["status"] == 400 and event["subject"] == "pki"


def test_a_request_head_too_large_is_one_event(strict: Live) -> None:
    head = b"GET /crl HTTP/1.1\r\n" + b"".join(b"X-%d: %s\r\n" % (i, b"y" * 4000)
                                               for i in range(10))  # fmt: skip
    assert _raw(strict, "127.0.0.43", head).startswith(b"HTTP/1.1 431")
    event = _only(strict, "request-refused", "127.0.0.43", reason="head-too-large")
    assert event["count"] == 1 and event["subject"] == "pki"


def test_a_head_sent_too_slowly_is_one_event(strict: Live) -> None:
    """Slowloris: a header line every 0.4 s is never idle for 1 s, but the head is
    not whole within 2 s."""
    head = b"GET /crl HTTP/1.1\r\n" + b"X: y\r\n" * 10
    started = time.monotonic()
    assert _raw(strict, "127.0.0.44", head, pause=0.4) == b""
    assert time.monotonic() - started < 6
    event = _only(strict, "request-refused", "127.0.0.44", reason="header-timeout")
    assert event["count"] == 1


def test_an_idle_connection_is_closed_and_is_one_event(strict: Live) -> None:
    started = time.monotonic()
    assert _raw(strict, "127.0.0.45", b"") == b""
    assert 0.9 < time.monotonic() - started < 5
    event = _only(strict, "request-refused", "127.0.0.45", reason="idle-timeout")
    assert event["count"] == 1


def test_a_body_that_stops_coming_is_closed_and_is_one_event(strict: Live) -> None:
    """A head, then 3 of the 4,000 body bytes it announced, then nothing: closed at the
    idle timeout as a refusal (not as a kept-alive connection running out)."""
    head = (b"POST /ocsp HTTP/1.1\r\nHost: x\r\nContent-Type: application/ocsp-request\r\n"
            b"Content-Length: 4000\r\n\r\nabc")  # fmt: skip
    started = time.monotonic()
    assert _raw(strict, "127.0.0.43", head) == b""
    assert 0.9 < time.monotonic() - started < 5
    event = _only(strict, "request-refused", "127.0.0.43", reason="idle-timeout")
    assert event["count"] == 1 and "body stopped" in event["detail"]


def test_a_body_trickled_slower_than_the_request_timeout_is_closed_and_is_one_event(
    strict: Live,
) -> None:
    """A body sent a byte every 0.4 s is never idle for 1 s, so only the request's own
    deadline (3 s from the head's end) closes it: 4,000 bytes so sent would hold the
    connection for half an hour."""
    head = (b"POST /ocsp HTTP/1.1\r\nHost: x\r\nContent-Type: application/ocsp-request\r\n"
            b"Content-Length: 4000\r\n\r\n")  # fmt: skip
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", _port(strict.endpoints["crl"])), timeout=10,
                                  source_address=("127.0.0.50", 0)) as sock:  # fmt: skip
        sock.sendall(head)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            for _ in range(20):  # 8 s at most: the deadline must end it before
                sock.sendall(b"x")
                time.sleep(0.4)
        assert _drain(sock) == b""
    assert 2.9 < time.monotonic() - started < 7
    event = _only(strict, "request-refused", "127.0.0.50", reason="request-timeout")
    assert event["count"] == 1 and "within 3 s of the request head" in event["detail"]


def test_a_refused_tls_handshake_is_one_event_with_openssls_reason(strict: Live) -> None:
    key, cert = strict.work / "rogue.key", strict.work / "rogue.pem"
    made = strict.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                       "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(key),
                       "-out", str(cert), "-subj", "/CN=rogue", "-days", "1"])  # fmt: skip
    assert made.returncode == 0, made.stderr.decode()
    done = strict.run(["curl", "-sS", "--cacert", str(strict.bundle), "--cert", str(cert),
                       "--key", str(key), "--interface", "127.0.0.46",
                       f"{strict.endpoints['est']}/cacerts"])  # fmt: skip
    assert done.returncode != 0  # no HTTP answer: the handshake failed
    event = _only(strict, "request-refused", "127.0.0.46", reason="tls-handshake-failed")
    assert event["count"] == 1 and event["subject"] == "est"
    assert "certificate verify failed" in event["detail"]
    assert "self-signed certificate" in event["detail"] or "(18)" in event["detail"]


def test_failed_admin_authentication_is_one_event(strict: Live) -> None:
    for secret in ("wrong", "", "x" * 50):
        status, _ = strict.curl("http://localhost/devices", "--unix-socket",
                                str(strict.state / "admin.sock"), "-H",
                                f"Authorization: Bearer {secret}")  # fmt: skip
        assert status == 401
    event = _only(strict, "request-refused", f"uid:{os.geteuid()}", reason="admin-auth-failed")
    assert event["count"] == 3 and event["subject"] == "admin"


def test_an_unknown_path_is_one_event(strict: Live) -> None:
    status, _ = strict.curl(f"{strict.endpoints['est']}/nothing", "--interface", "127.0.0.50")
    assert status == 404
    event = _only(strict, "request-refused", "127.0.0.50", reason="not-found")
    assert event["count"] == 1


def test_unauthenticated_enrollment_refusals_are_one_event(strict: Live) -> None:
    csr = strict.csr(strict.key("anon"), "nobody")
    for _ in range(3):
        status, _ = strict.est("simpleenroll", csr, "-u", "nobody:guess",
                               "--interface", "127.0.0.49")  # fmt: skip
        assert status == 401
    event = _only(strict, "enrollment-refused", "127.0.0.49")
    assert event["count"] == 3 and event["reason"] == "bootstrap-auth-failed"


def test_access_refused_to_peers_with_no_certificate_is_one_event(strict: Live) -> None:
    """A request with no client certificate names its device only by a claim (the
    ``X-Device-Id`` header, or nothing): its refused access decision is tallied under
    ``(unauthenticated)`` per source, reason and claim, with the peer's address; before,
    each wrote its own ``access-decision`` event, with the claim as its subject and no
    source."""
    url = f"{strict.endpoints['services']}/pacs-north/ping"
    for claim in ("", "", "", "pacs-intruder"):
        header = ("-H", f"X-Device-Id: {claim}") if claim else ()
        status, _ = strict.curl(url, *header, "--interface", "127.0.0.51")
        assert status == 403
    strict.flush_audit()
    found = [e for e in strict.events()
             if e["kind"] == "access-decision" and e.get("source") == "127.0.0.51"]  # fmt: skip
    assert sorted((e["subject"], e["claimed"], e["reason"], e["count"]) for e in found) == [
        ("(unauthenticated)", "", "not-registered", 3),
        ("(unauthenticated)", "pacs-intruder", "not-registered", 1),
    ]
    assert not [e for e in strict.events()
                if e["kind"] == "access-decision" and e["subject"] in ("", "pacs-intruder")]


def test_served_crl_and_ocsp_answers_are_aggregated_access_events(strict: Live) -> None:
    for _ in range(3):
        assert strict.curl(strict.endpoints["crl"], "--interface", "127.0.0.47")[0] == 200
    status, _ = strict.curl(strict.endpoints["ocsp"], "--interface", "127.0.0.47",
                            "-H", "Content-Type: application/ocsp-request",
                            "--data-binary", "not DER")  # fmt: skip
    assert status == 200  # an OCSP error travels inside a successful HTTP answer
    crl = _only(strict, "requests-served", "127.0.0.47", subject="crl")
    assert crl["count"] == 3 and crl["status"] == 200
    ocsp = _only(strict, "requests-served", "127.0.0.47", subject="ocsp")
    assert ocsp["count"] == 1 and ocsp["ocsp_status"] == "malformed_request"


def test_refused_crl_and_ocsp_requests_are_refusals_with_a_reason(strict: Live) -> None:
    """An unknown CRL site (404) and a wrong OCSP content type (415) are refused, not
    served: ``request-refused`` with the reason."""
    status, _ = strict.curl(strict.endpoints["crl"] + "/nowhere", "--interface", "127.0.0.46")
    assert status == 404
    status, _ = strict.curl(strict.endpoints["ocsp"], "--interface", "127.0.0.46",
                            "-H", "Content-Type: text/plain", "--data-binary", "x")  # fmt: skip
    assert status == 415
    not_found = _only(strict, "request-refused", "127.0.0.46", reason="not-found")
    assert not_found["count"] == 1 and not_found["status"] == 404
    media = _only(strict, "request-refused", "127.0.0.46", reason="unsupported-media-type")
    assert media["count"] == 1 and media["status"] == 415
    strict.flush_audit()
    assert not [e for e in strict.events()
                if e["kind"] == "requests-served" and e.get("source") == "127.0.0.46"]


def test_requests_beyond_the_rate_limit_get_429_with_retry_after_and_one_event(
    limited: Live,
) -> None:
    url = f"{limited.endpoints['est']}/cacerts"
    headers = limited.work / "rate.headers"
    statuses = []
    for _ in range(5):
        status, _ = limited.curl(url, "--interface", "127.0.0.48", "-D", str(headers))
        statuses.append(status)
    assert statuses[:2] == [200, 200] and statuses[2:] == [429, 429, 429]
    assert "retry-after: 1" in headers.read_text().lower()
    assert limited.curl(url, "--interface", "127.0.0.51")[0] == 200  # another source
    event = _only(limited, "request-refused", "127.0.0.48", reason="rate-limited")
    assert event["count"] == 3 and event["status"] == 429


def test_a_later_head_on_a_kept_alive_connection_has_its_own_clock(strict: Live) -> None:
    """After one answered request, a second head trickled one line every 0.4 s (never
    idle for 1 s) is cut at the 2 s header timeout, as a first head would be."""
    with socket.create_connection(("127.0.0.1", _port(strict.endpoints["crl"])), timeout=10,
                                  source_address=("127.0.0.49", 0)) as sock:  # fmt: skip
        sock.sendall(b"GET /nothing-here HTTP/1.1\r\nHost: x\r\n\r\n")
        first = sock.recv(4096)
        assert first.startswith(b"HTTP/1.1 404"), first
        started = time.monotonic()
        try:
            for line in [b"GET /crl HTTP/1.1\r\n", *[b"X: y\r\n"] * 10]:
                sock.sendall(line)
                time.sleep(0.4)
        except (BrokenPipeError, ConnectionResetError):
            pass
        rest = _drain(sock)
    assert rest == b""  # closed, never answered
    assert time.monotonic() - started < 6
    event = _only(strict, "request-refused", "127.0.0.49", reason="header-timeout")
    assert event["count"] == 1
