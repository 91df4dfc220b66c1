"""Re-enrollment is atomic and idempotent (RFC 7030 §4.2.2; issue 10), over real HTTPS.

Eight ``curl`` re-enrollments in parallel with one certificate: exactly one renews.
The request whose answer was lost, sent again from the replaced certificate within
the grace, is given the same certificate bytes; once the successor is used (a
service ping over mutual TLS), the replaced certificate gets 403 and an audit event.
"""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

from tests.live.conftest import Live

PARALLEL = 8


def _reenroll_all(
    pilot: Live, held: Path, key: Path, bodies: list[Path]
) -> list[tuple[int, bytes]]:
    url = f"{pilot.endpoints['est']}/simplereenroll"
    processes = []
    outputs = []
    for n, body in enumerate(bodies):
        out = pilot.work / f"parallel-{n}.out"
        outputs.append(out)
        processes.append(subprocess.Popen(
            ["curl", "-sS", "--cacert", str(pilot.bundle), "--cert", str(held), "--key",
             str(key), "-H", "Content-Type: application/pkcs10", "--data-binary", f"@{body}",
             "-o", str(out), "-w", "%{http_code}", url],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        ))  # fmt: skip
    answers = []
    for process, out in zip(processes, outputs, strict=True):
        stdout, stderr = process.communicate(timeout=30)
        assert process.returncode == 0, stderr.decode()
        answers.append((int(stdout), out.read_bytes()))
    return answers


def test_parallel_reenrollments_renew_once_and_a_lost_answer_comes_again(pilot: Live) -> None:
    device_id, key, first = pilot.enroll("P8")
    keys = [key, *(pilot.key(f"P8-other-{n}") for n in range(1, PARALLEL))]
    bodies = [pilot.csr(k, device_id) for k in keys]
    answers = _reenroll_all(pilot, first, key, bodies)
    renewed = [(n, body) for n, (status, body) in enumerate(answers) if status == 200]
    assert len(renewed) == 1, [status for status, _ in answers]
    winner, body = renewed[0]
    refused = [status for status, _ in answers if status != 200]
    assert refused == [403] * (PARALLEL - 1)
    issued = [e for e in pilot.events()
              if e["kind"] == "certificate-renewed" and e["subject"] == device_id]  # fmt: skip
    assert len(issued) == 1

    # the winner's answer was lost: the same request, sent again, gets the same bytes
    status, again = pilot.est("simplereenroll", bodies[winner], "--cert", str(first),
                              "--key", str(key))  # fmt: skip
    assert status == 200
    assert base64.b64decode(again) == base64.b64decode(body)

    # the successor is used (a service ping over mutual TLS): the old one gets nothing
    successor = pilot.certificate(body, "P8-successor")
    status, _ = pilot.curl(f"{pilot.endpoints['services']}/pacs-north/ping",
                           "--cert", str(successor), "--key", str(keys[winner]),
                           "--interface", "127.1.1.1")  # fmt: skip
    status, refusal = pilot.est("simplereenroll", bodies[winner], "--cert", str(first),
                                "--key", str(key))  # fmt: skip
    assert status == 403 and b"in use" in refusal, refusal.decode()
    last = [e for e in pilot.events() if e["subject"] == device_id][-1]
    assert (last["kind"], last["reason"]) == ("enrollment-refused", "cert-superseded")
