"""What the TLS layer decides before the EST core sees a request, and clean shutdown.

Python's ``ssl`` with ``CERT_OPTIONAL`` verifies a client certificate that is
presented: an expired one fails the handshake.  The server's asyncio transport closes
the connection without an HTTP answer (curl: exit 35 over TLS 1.2, 52 "empty reply"
or 56 over TLS 1.3), so the EST core never sees the request and writes no event.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.live.conftest import Live, StartServer

pytestmark = pytest.mark.live

PILOT = Path(__file__).resolve().parents[2] / "scenarios" / "two-site-pilot.yaml"
EXPIRY_TIMEOUT = 10.0


def _wait_until_expired(live: Live, certificate: Path) -> None:
    deadline = time.monotonic() + EXPIRY_TIMEOUT
    check = ["openssl", "x509", "-in", str(certificate), "-noout", "-checkend", "0"]
    while live.run(check).returncode == 0:  # 0: still valid
        assert time.monotonic() < deadline, "the 2-second certificate did not expire"
        time.sleep(0.1)


def test_expired_client_certificate_fails_the_tls_handshake(short_lived: Live) -> None:
    device_id, key, certificate = short_lived.enroll("X1")
    _wait_until_expired(short_lived, certificate)
    before = len(short_lived.events())
    url = f"{short_lived.endpoints['est']}/simplereenroll"
    done = short_lived.run(
        [
            "curl",
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--cacert",
            str(short_lived.bundle),
            "--cert",
            str(certificate),
            "--key",
            str(key),
            "-H",
            "Content-Type: application/pkcs10",
            "--data-binary",
            f"@{short_lived.csr(key, device_id)}",
            url,
        ]
    )
    assert done.returncode in (35, 52, 56), done.stderr.decode()
    assert done.stdout == b"000"  # no HTTP answer at all
    assert len(short_lived.events()) == before  # the core never saw it


def test_sigterm_stops_cleanly_and_withdraws_endpoints(start_server: StartServer) -> None:
    live = start_server(PILOT)
    assert live.stop() == 0
    assert not (live.state / "endpoints.json").exists()
    assert (live.state / "events.jsonl").exists()
