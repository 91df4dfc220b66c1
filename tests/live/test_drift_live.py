"""An operator's drift scan on a running hospital (``testbed devices drift``): the same
scan the simulation runs daily (:class:`testbed.drift_watch.DriftWatch`), alerting each
disagreement once, in the audit log."""

from __future__ import annotations

import json

from tests.live.conftest import PILOT, StartServer


def test_a_drift_scan_finds_a_production_device_left_without_identity_once(
    start_server: StartServer,
) -> None:
    live = start_server(PILOT)
    device_id, _, _ = live.enroll("DRIFT1")
    for action in ("validate", "promote"):
        done = live.cli("devices", action, "--state-dir", str(live.state), device_id)
        assert done.returncode == 0, done.stderr

    clean = live.cli("devices", "drift", "--state-dir", str(live.state))
    assert clean.returncode == 0, clean.stderr
    assert json.loads(clean.stdout) == {"drift": [], "new": 0}

    revoked = live.cli("devices", "revoke", "--state-dir", str(live.state), device_id)
    assert revoked.returncode == 0, revoked.stderr
    found = live.cli("devices", "drift", "--state-dir", str(live.state))
    assert found.returncode == 1, found.stderr
    answer = json.loads(found.stdout)
    assert [(d["device_id"], d["drift"], d["new"]) for d in answer["drift"]] == [
        (device_id, "production-without-live-identity", True)
    ], answer
    again = live.cli("devices", "drift", "--state-dir", str(live.state))
    assert again.returncode == 1 and json.loads(again.stdout)["new"] == 0  # alerted once

    live.flush_audit()
    alerts = [e for e in live.events() if e["kind"] == "drift-detected"]
    assert [(e["subject"], e["drift"]) for e in alerts] == [
        (device_id, "production-without-live-identity")
    ], alerts

    offboarded = live.cli("devices", "offboard", "--state-dir", str(live.state), device_id)
    assert offboarded.returncode == 0, offboarded.stderr
    healed = live.cli("devices", "drift", "--state-dir", str(live.state))
    assert healed.returncode == 0, healed.stdout  # retired without a live certificate
