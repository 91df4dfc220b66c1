"""What the TLS layer leaves to the decision core, and clean shutdown.

OpenSSL checks a presented client certificate's chain but not its time
(``X509_V_FLAG_NO_CHECK_TIME``): an expired certificate completes the handshake and the
EST core refuses it, at the hospital's time, with a reason and an audit event, as in
the simulation.  A certificate from another CA still fails the handshake.
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


def test_an_expired_client_certificate_is_refused_by_the_core_with_a_reason(
    short_lived: Live,
) -> None:
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
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout == b"403"
    [refusal] = short_lived.events()[before:]
    assert (refusal["kind"], refusal["reason"], refusal["subject"]) == (
        "enrollment-refused", "cert-expired", device_id)


def test_sigterm_stops_cleanly_and_withdraws_endpoints(start_server: StartServer) -> None:
    live = start_server(PILOT)
    assert live.stop() == 0
    assert not (live.state / "endpoints.json").exists()
    assert (live.state / "events.jsonl").exists()
