"""Manual approval in live mode: 202 + Retry-After until ``testbed devices approve``.

The client is ``curl`` and ``openssl`` only; the operator uses the ``testbed devices``
command, as with registration.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.live.conftest import Live

pytestmark = pytest.mark.live


def _headers(live: Live) -> dict[str, str]:
    lines = (live.work / "headers.txt").read_text().splitlines()
    pairs = (line.split(":", 1) for line in lines if ":" in line)
    return {name.strip().lower(): value.strip() for name, value in pairs}


def test_enrollment_waits_for_approval_then_succeeds(approval: Live) -> None:
    answer = approval.register_answer("A1")
    device_id, password = answer["device_id"], answer["bootstrap"]["password"]
    assert answer["approval"] == "pending"
    csr = approval.csr(approval.key("A1"), device_id)
    credentials = ("-u", f"{device_id}:{password}")
    headers = ("-D", str(approval.work / "headers.txt"))

    status, body = approval.est("simpleenroll", csr, *credentials, *headers)
    assert status == 202, body.decode()
    assert int(_headers(approval)["retry-after"]) > 0
    assert not any(e["kind"] == "certificate-issued" and e["subject"] == device_id
                   for e in approval.events())  # fmt: skip

    done = approval.cli("devices", "approve", "--state-dir", str(approval.state), device_id)
    assert done.returncode == 0, done.stderr.decode()
    assert json.loads(done.stdout) == {"device_id": device_id, "approved": True, "changed": True}
    again = approval.cli("devices", "approve", "--state-dir", str(approval.state), device_id)
    assert json.loads(again.stdout)["changed"] is False

    status, body = approval.est("simpleenroll", csr, *credentials)
    assert status == 200, body.decode()
    certificate = approval.certificate(body, "A1")
    root, issuing = approval.split_bundle()
    verified = approval.run(
        ["openssl", "verify", "-CAfile", str(root), "-untrusted", str(issuing), str(certificate)]
    )
    assert verified.returncode == 0, verified.stdout.decode() + verified.stderr.decode()
    kinds = [(e["kind"], e.get("change"), e.get("status"))
             for e in approval.events() if e["subject"] == device_id]  # fmt: skip
    assert ("enrollment-refused", None, 202) in kinds
    assert ("policy-changed", "enrollment-approved", None) in kinds
    assert kinds.index(("policy-changed", "enrollment-approved", None)) < next(
        i for i, k in enumerate(kinds) if k[0] == "certificate-issued"
    )


def test_approving_an_unknown_device_exits_2_naming_it(approval: Live) -> None:
    done = approval.cli("devices", "approve", "--state-dir", str(approval.state), "nobody-1")
    assert done.returncode == 2
    assert "nobody-1" in done.stderr.decode()
    assert "Traceback" not in done.stderr.decode()


def test_an_offboarded_device_cannot_be_approved(approval: Live) -> None:
    device_id, _ = approval.register("A2")
    done = approval.cli("devices", "offboard", "--state-dir", str(approval.state), device_id)
    assert done.returncode == 0, done.stderr.decode()
    refused = approval.cli("devices", "approve", "--state-dir", str(approval.state), device_id)
    assert refused.returncode == 2
    assert "retired" in refused.stderr.decode()


def test_scenarios_without_manual_approval_register_approved(pilot: Live) -> None:
    assert pilot.register_answer("A3")["approval"] == "not-required"


def test_devices_list_follows_a_device_from_pending_to_retired(approval: Live) -> None:
    def listed(device_id: str) -> dict[str, Any]:
        done = approval.cli("devices", "list", "--state-dir", str(approval.state))
        assert done.returncode == 0, done.stderr.decode()
        rows = {row["device_id"]: row for row in json.loads(done.stdout)["devices"]}
        return rows[device_id]

    device_id, password = approval.register("L1")
    row = listed(device_id)
    assert (row["state"], row["approval"], row["certificate"]) == ("registered", "pending", None)
    assert (row["site"], row["zone"], row["profile"]) == ("north", "imaging", "ct-ai-onbox")
    approval.cli("devices", "approve", "--state-dir", str(approval.state), device_id)
    csr = approval.csr(approval.key("L1"), device_id)
    status, body = approval.est("simpleenroll", csr, "-u", f"{device_id}:{password}")
    assert status == 200, body.decode()
    serial = approval.serial(approval.certificate(body, "L1")).lower().lstrip("0")
    row = listed(device_id)
    assert row["approval"] == "approved" and row["state"] == "enrolled"
    assert row["certificate"] == {"serial": serial, "not_after": row["certificate"]["not_after"],
                                  "expired": False, "revoked": False}
    approval.cli("devices", "offboard", "--state-dir", str(approval.state), device_id)
    row = listed(device_id)
    assert row["state"] == "retired"
    assert row["certificate"]["revoked"] is True
