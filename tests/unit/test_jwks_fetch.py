"""Live mode's JWKS fetcher: Accept header, max-age, size, status and loopback rules."""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from testbed.live.jwks_fetch import HttpsFetcher, max_age_of
from testbed.smart.jwks import JwksError
from tests.live.jwks_server import JwksServer, make_tls


@pytest.mark.parametrize(("header", "expected"), [
    (None, None), ("public", None), ("max-age=60", 60), ("public, max-age=5", 5),
    ("MAX-AGE=7, must-revalidate", 7), ("no-store", 0), ("no-cache, max-age=60", 0),
    ("s-maxage=9", None), ('max-age="12"', 12),
])  # fmt: skip
def test_max_age_is_read_from_cache_control(header: str | None, expected: int | None) -> None:
    assert max_age_of(header) == expected


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[JwksServer, str, Path]]:
    ca, certificate, key = make_tls(tmp_path_factory.mktemp("tls"))
    server = JwksServer({"keys": []}, max_age=30)
    url = server.start(certificate, key)
    yield server, url, ca
    server.stop()


def test_it_gets_the_set_with_accept_json_and_the_max_age(
    served: tuple[JwksServer, str, Path],
) -> None:
    server, url, ca = served
    fetched = HttpsFetcher(ssl.create_default_context(cafile=str(ca)))(url)
    assert json.loads(fetched.body) == {"keys": []} and fetched.max_age == 30
    assert server.accepts[-1] == "application/json"


def test_an_untrusted_server_a_large_set_or_a_bad_status_is_a_jwks_error(
    served: tuple[JwksServer, str, Path],
) -> None:
    server, url, ca = served
    with pytest.raises(JwksError, match="could not be fetched"):
        HttpsFetcher(ssl.create_default_context())(url)  # the system CAs do not know it
    trusted = ssl.create_default_context(cafile=str(ca))
    server.document = {"keys": [{"kty": "EC", "pad": "x" * 2048}]}
    try:
        with pytest.raises(JwksError, match="more than 1024 bytes"):
            HttpsFetcher(trusted, max_bytes=1024)(url)
    finally:
        server.document = {"keys": []}
    with pytest.raises(JwksError, match="answered 404"):
        HttpsFetcher(trusted)(url.replace("/jwks.json", "/missing"))


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:1/jwks.json", "https://example.org/jwks.json",
    "https://10.0.0.1/jwks.json", "file:///etc/passwd",
])  # fmt: skip
def test_only_https_on_loopback_is_fetched(url: str) -> None:
    with pytest.raises(JwksError, match="loopback"):
        HttpsFetcher(ssl.create_default_context())(url)


def _trickle(listener: socket.socket, context: ssl.SSLContext, stop: threading.Event) -> None:
    """Answer one request a byte every 0.2 s (each read of the client's sees a byte long
    before its per-read timeout), for at most 10 s; then stop."""
    listener.settimeout(10)
    with contextlib.suppress(OSError):
        raw, _ = listener.accept()
        with context.wrap_socket(raw, server_side=True) as tls:
            tls.recv(4096)
            line = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" * 100
            ends = time.monotonic() + 10
            for byte in line:
                if stop.is_set() or time.monotonic() > ends:
                    return
                tls.sendall(bytes([byte]))
                time.sleep(0.2)


def test_a_server_that_trickles_its_answer_is_cut_at_the_deadline(
    tmp_path: Path,
) -> None:
    """The fetch runs on the server's event loop: ``timeout`` bounds it in all, not
    each read (a byte every 0.2 s never trips a 1 s read timeout)."""
    ca, certificate, key = make_tls(tmp_path)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(certificate, key)
    stop = threading.Event()
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        thread = threading.Thread(target=_trickle, args=(listener, server_context, stop),
                                  daemon=True)  # fmt: skip
        thread.start()
        fetcher = HttpsFetcher(ssl.create_default_context(cafile=str(ca)), timeout=1.0)
        started = time.monotonic()
        with pytest.raises(JwksError, match="took longer than 1 s in all"):
            fetcher(f"https://127.0.0.1:{port}/jwks.json")
        waited = time.monotonic() - started
        stop.set()
        thread.join(timeout=5)
    assert waited < 5.0, waited  # cut at 1 s, not when the trickle ends (10 s)
