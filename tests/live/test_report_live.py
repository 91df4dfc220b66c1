"""``testbed report STATE_DIR`` after a short live session: its counts are the events'.

The session is driven with curl, openssl and ``testbed devices`` only (see conftest):
registrations, enrollments, a refused enrollment, a renewal, a revocation and an
offboarding; the server is stopped, then the report is read from the state directory.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from testbed.cli import main
from tests.live.conftest import SHORT_SCENARIO, Live, StartServer

pytestmark = pytest.mark.live

SESSION_SCENARIO = SHORT_SCENARIO.replace("name: live-short", "name: live-report").replace(
    "  lifetime: 2s\n", "  lifetime: 1d\n"
)


@pytest.fixture(scope="module")
def session(start_server: StartServer, tmp_path_factory: pytest.TempPathFactory) -> Live:
    scenario = tmp_path_factory.mktemp("scenario") / "live-report.yaml"
    scenario.write_text(SESSION_SCENARIO)
    live = start_server(scenario)
    first, key, certificate = live.enroll("RPT1")
    second, password = live.register("RPT2")
    wrong = live.est("simpleenroll", live.csr(live.key("RPT2"), second), "-u", f"{second}:nope")
    assert wrong[0] == 401
    stranger = live.est("simpleenroll", live.csr(live.key("RPT3"), "someone-else"),
                        "-u", f"{second}:{password}")  # fmt: skip
    assert stranger[0] == 403
    status, body = live.est(
        "simplereenroll", live.csr(key, first), "--cert", str(certificate), "--key", str(key)
    )
    assert status == 200, body.decode()
    for command, device in (("revoke", first), ("offboard", second)):
        done = live.cli("devices", command, "--state-dir", str(live.state), device)
        assert done.returncode == 0, done.stderr.decode()
    assert live.stop() == 0
    return live


def _report(session: Live, tmp_path: Path) -> dict[str, Any]:
    out = tmp_path / "report"
    assert main(["report", str(session.state), "--out", str(out), "--quiet"]) == 0
    data: dict[str, Any] = json.loads((out / "report.json").read_text())
    return data


def _of(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e for e in events if e["kind"] == kind]


def test_the_state_directory_keeps_what_a_report_needs(session: Live) -> None:
    assert (session.state / "scenario.yaml").read_text() == SESSION_SCENARIO
    assert (session.state / "profiles" / "ct-ai-onbox.yaml").is_file()
    assert json.loads((session.state / "run.json").read_text())["transport"] == "live"


def test_the_report_counts_what_the_events_say(session: Live, tmp_path: Path) -> None:
    events = session.events()
    report = _report(session, tmp_path)
    counts, measures = report["counts"], report["measures"]
    issued, renewed = _of(events, "certificate-issued"), _of(events, "certificate-renewed")
    assert report["devices_registered"] == len(_of(events, "device-registered")) == 2
    assert counts["enrollments"] == len(issued) == 1
    assert measures["renewals_done"] == len(renewed) == 1
    assert counts["certificates_issued"] == len(issued) + len(renewed)
    offboarded = [e for e in _of(events, "offboarding-step") if e["step"] == "revoke-certificates"]
    revoked = len(_of(events, "certificate-revoked")) + sum(
        len([s for s in e["serials"].split(",") if s]) for e in offboarded
    )
    assert counts["certificates_revoked"] == revoked == 2  # the renewed one and the one it renewed
    refusals = Counter(e["reason"] for e in _of(events, "enrollment-refused"))
    assert report["enrollment_refusals_by_reason"] == dict(sorted(refusals.items()))
    assert set(refusals) == {"bootstrap-auth-failed", "csr-subject-mismatch"}
    assert measures["devices_offboarded"] == 1
    assert report["events"] == len(events)
    # the server's tally on its way out: every EST answer wrote its event
    (tally,) = _of(events, "audit-tally")
    answers = len(issued) + len(renewed) + sum(refusals.values())
    assert tally["enrollment_answers"] == answers and tally["access_decisions"] == 0
    assert measures["audit_coverage"] == 1


def test_measures_a_live_run_cannot_have_are_said_so(session: Live, tmp_path: Path) -> None:
    report = _report(session, tmp_path)
    missing = report["not_measured"]
    # the hospital's oracle judges live allowances too: measured, and none was wrong
    assert report["measures"]["unauthorized_access"] == 0
    assert "unauthorized_access" not in missing
    assert {"data_lost", "clinical_downtime_minutes", "fail_safe", "recovered"} <= set(missing)
    assert not set(missing) & set(report["measures"])
    html = (tmp_path / "report" / "report.html").read_text()
    assert html.count("not measured in this run") == len(missing)
