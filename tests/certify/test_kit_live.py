"""The kit on the live hospital: a broken adapter gives ``error`` or ``skip`` naming the
action (never a traceback), the command line's outputs and exit codes, bad input
(exit 2), and the admin API's fault injection (audited, healed, refused when wrong)."""

from __future__ import annotations

import csv
import json
import stat
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest

from testbed.certify.adapter import Adapter
from testbed.certify.hospital import KitHospital
from testbed.certify.registry import KIT, SUITES
from testbed.certify.runner import profile_of, run_check
from testbed.certify.session import Session
from testbed.cli import main
from testbed.errors import LiveError
from testbed.verdicts import Verdict
from tests.certify.devices import LEGACY, PILOT, PROFILE, faulty

pytestmark = pytest.mark.live

EST_01 = SUITES["est"][0]


def _adapter(tmp_path: Path, body: str) -> Adapter:
    path = tmp_path / "adapter.sh"
    path.write_text(f"#!/bin/sh\ncat > /dev/null\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return Adapter.parse(str(path), timeout=1.0)


BROKEN = {
    "not-json": ("echo enrolled", Verdict.ERROR, "action enroll: exit 0 but standard output"),
    "wrong-fields": ("echo '{\"certificate\": 1}'", Verdict.ERROR,
                     "action enroll: wrong fields"),
    "unsupported": ("echo '{\"unsupported\": true}'; exit 3", Verdict.SKIP,
                    "action enroll: the device does not support it"),
    "refuses": ("echo 'no network' >&2; exit 1", Verdict.FAIL,
                "enroll: the device answered exit 1 (no network)"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BROKEN))
def test_a_broken_adapter_gives_a_verdict_naming_the_action(
    case: str, hospital: KitHospital, tmp_path: Path
) -> None:
    body, verdict, reason = BROKEN[case]
    session = Session(_adapter(tmp_path, body), hospital, profile_of(hospital, PROFILE),
                      tmp_path)  # fmt: skip
    result = run_check(session, EST_01)
    assert (result.verdict, result.required) == (verdict, True)
    assert reason in result.reason
    assert result.evidence.exchanges[0].action == "enroll"


def test_a_hanging_adapter_is_an_error_after_the_action_timeout(
    hospital: KitHospital, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("testbed.certify.adapter.TIMEOUTS", {})  # enroll: 1 s, not 90
    session = Session(_adapter(tmp_path, "sleep 30"), hospital, profile_of(hospital, PROFILE),
                      tmp_path)  # fmt: skip
    result = run_check(session, EST_01)
    assert result.verdict is Verdict.ERROR
    assert result.reason == "action enroll: no answer within 1.0 s (the adapter was stopped)"


def _certify(hospital: KitHospital, out: Path, *args: str) -> int:
    return main(["certify", str(PILOT), "--profile", PROFILE, "--state-dir",
                 str(hospital.state), "--out", str(out), *args])  # fmt: skip


def test_the_command_writes_json_html_and_junit(hospital: KitHospital, tmp_path: Path) -> None:
    assert _certify(hospital, tmp_path, "--adapter", LEGACY, "--suite", "est") == 0
    report = json.loads((tmp_path / "certify.json").read_text())
    assert report["certified"] is True and report["profile"] == PROFILE
    assert [c["id"] for c in report["checks"]] == [
        "EST-01", "EST-02", "EST-03", "EST-04", "EST-05", "EST-06", "KIT-01"]  # fmt: skip
    first = report["checks"][0]
    assert first["requirements"] == ["RFC 7030 §4.2.1", "seed §7 step 2"]
    assert first["evidence"]["events"][0]["kind"] == "certificate-issued"
    assert first["evidence"]["exchanges"][0]["exit"] == 0
    junit = ElementTree.parse(tmp_path / "certify.junit.xml").getroot()
    assert (junit.get("tests"), junit.get("failures")) == ("7", "0")
    page = (tmp_path / "certify.html").read_text()
    assert "CERTIFIED: profile ct-ai-onbox" in page and "<script" not in page


def test_a_failing_device_exits_1(hospital: KitHospital, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    adapter = faulty("accept-any-server")
    assert _certify(hospital, tmp_path, "--adapter", adapter, "--suite", "est") == 1
    assert "EST-02   fail" in capsys.readouterr().out
    junit = ElementTree.parse(tmp_path / "certify.junit.xml").getroot()
    assert junit.get("failures") == "1"


@pytest.mark.parametrize(("args", "message"), [
    (["--adapter", LEGACY, "--profile", "no-such"], "--profile 'no-such': unknown; known:"),
    (["--adapter", "/nonexistent/device", "--profile", PROFILE],
     "'/nonexistent/device' is not found"),
    (["--adapter", LEGACY, "--profile", PROFILE, "--suite", "est,nope"],
     "--suite 'nope': unknown"),
    (["--adapter", LEGACY, "--profile", PROFILE, "--suite", "est,smart"],
     "--suite smart: scenario 'two-site-pilot' has no 'ehr' block"),
    (["--adapter", LEGACY, "--profile", "legacy-ultrasound"], "does not enroll over EST"),
])  # fmt: skip
def test_bad_input_exits_2_naming_it(
    args: list[str], message: str, hospital: KitHospital, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    code = main(["certify", str(PILOT), "--state-dir", str(hospital.state), "--out",
                 str(tmp_path), *args])  # fmt: skip
    assert code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(("scenario", "profile", "message"), [
    (PILOT.parent / "revocation-offboarding-drill.yaml", PROFILE,
     "--profile 'ct-ai-onbox', scenario 'revocation-offboarding-drill': profile "
     "'ct-ai-onbox' uses the pacs service, but this scenario has no service of kind 'pacs'"),
    (PILOT, "no-such", "--profile 'no-such': unknown; known:"),
    (PILOT.parent / "no-such.yaml", PROFILE, "no-such.yaml: expected a scenario file"),
])  # fmt: skip
def test_bad_input_is_refused_before_a_hospital_is_started(
    scenario: Path, profile: str, message: str, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """Every check erred (exit 1) for a profile using a service the scenario lacks; and
    a refused run left OUT/hospital-*/ behind, with the hospital's private keys."""
    out = tmp_path / "out"
    code = main(["certify", str(scenario), "--adapter", LEGACY, "--profile", profile,
                 "--out", str(out)])  # fmt: skip
    assert code == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_a_state_dir_with_no_hospital_is_bad_input(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["certify", str(PILOT), "--adapter", LEGACY, "--profile", PROFILE,
                 "--state-dir", str(tmp_path), "--out", str(tmp_path / "out")])  # fmt: skip
    assert code == 2
    assert "no endpoints.json there" in capsys.readouterr().err


def _events(hospital: KitHospital, since: int) -> list[dict[str, object]]:
    lines = hospital.events.read_text().splitlines()[since:]
    return [json.loads(line) for line in lines]


def test_live_faults_are_audited_and_refused_when_wrong(hospital: KitHospital) -> None:
    since = len(hospital.events.read_text().splitlines())
    route = {"zone": "imaging", "service": "pacs-north", "site": "north"}
    assert hospital.admin("/faults/blocked-route", {**route, "action": "begin"})["blocked"]
    assert not hospital.admin("/faults/blocked-route", {**route, "action": "end"})["blocked"]
    assert hospital.admin("/faults/ca-outage", {"action": "begin"})["down"] is True
    assert hospital.admin("/faults/ca-outage", {"action": "end"})["down"] is False
    faults = [(e["kind"], e["subject"], e["fault"]) for e in _events(hospital, since)
              if str(e["kind"]).startswith("fault-")]  # fmt: skip
    assert faults == [("fault-started", "imaging->pacs-north", "blocked-route"),
                      ("fault-healed", "imaging->pacs-north", "blocked-route"),
                      ("fault-started", "ca", "ca-outage"),
                      ("fault-healed", "ca", "ca-outage")]  # fmt: skip
    with pytest.raises(LiveError, match="no outage of the whole CA to end"):
        hospital.admin("/faults/ca-outage", {"action": "end"})
    with pytest.raises(LiveError, match="is not blocked"):
        hospital.admin("/faults/blocked-route", {**route, "action": "end"})
    with pytest.raises(LiveError, match="expected a JSON object with 'action'"):
        hospital.admin("/faults/ca-outage", {"action": "sometimes"})
    with pytest.raises(LiveError, match="unknown service 'nope'"):
        hospital.admin("/faults/blocked-route", {**route, "service": "nope", "action": "begin"})
    assert hospital.admin("/faults/pacs-outage", {"action": "begin", "service": "pacs-north"})[
        "down"] is True
    assert hospital.admin("/faults/pacs-outage", {"action": "end", "service": "pacs-north"})[
        "down"] is False
    with pytest.raises(LiveError, match="'pacs-north' is not down"):
        hospital.admin("/faults/pacs-outage", {"action": "end", "service": "pacs-north"})
    with pytest.raises(LiveError, match="pacs-outage: unknown pacs service 'ehr'"):
        hospital.admin("/faults/pacs-outage", {"action": "begin", "service": "ehr"})
    with pytest.raises(LiveError, match="no identity provider"):
        hospital.admin("/faults/idp-outage", {"action": "begin"})
    with pytest.raises(LiveError, match="no identity provider"):
        hospital.admin("/faults/idp-key-rotation", {"action": "begin"})
    outages = [(e["kind"], e["subject"]) for e in _events(hospital, since)
               if e.get("fault") == "pacs-outage"]  # fmt: skip
    assert outages == [("fault-started", "service:pacs-north"),
                       ("fault-healed", "service:pacs-north")]  # fmt: skip


def test_the_matrix_has_a_row_per_device(hospital: KitHospital, tmp_path: Path) -> None:
    adapters = ["--adapter", LEGACY, "--adapter", faulty("accept-any-server")]
    assert _certify(hospital, tmp_path, *adapters, "--suite", "est,dicom", "--matrix") == 1
    lines = list(csv.reader((tmp_path / "matrix.csv").read_text().splitlines()))
    header = lines[0]
    assert header[:4] == ["device", "profile", "certified", "EST-01"]
    assert "key_types" in header and "dicom_tls" in header
    assert header[-1] == "dicom_tls_negotiated"
    assert {"DICOM-01", "DICOM-02"} <= set(header)
    legacy, accepting = (dict(zip(header, line, strict=True)) for line in lines[1:])
    assert (legacy["device"], legacy["certified"], legacy["EST-02"]) == ("device.sh", "yes",
                                                                         "pass")  # fmt: skip
    assert (accepting["certified"], accepting["EST-02"]) == ("no", "fail")
    assert accepting["device"].endswith("device.py --fault accept-any-server")
    assert (legacy["key_types"], legacy["max_validity"]) == ("ec-p256 rsa-2048", "90d")
    assert (legacy["DICOM-01"], legacy["DICOM-02"]) == ("pass", "pass")
    assert legacy["dicom_tls_negotiated"] in ("tls1.2", "tls1.3", "tls1.2 tls1.3")
    assert json.loads((tmp_path / "2" / "certify.json").read_text())["certified"] is False
    assert "<table>" in (tmp_path / "matrix.html").read_text()


def test_several_adapters_need_the_matrix(hospital: KitHospital, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    code = _certify(hospital, tmp_path, "--adapter", LEGACY, "--adapter", LEGACY)
    assert code == 2
    assert "give one, or several with --matrix" in capsys.readouterr().err


def test_pytest_gives_one_item_per_check(hospital: KitHospital, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rf",
         "--testbed-certify", faulty("accept-any-server"), "--testbed-profile", PROFILE,
         "--testbed-certify-suite", "est", "--testbed-certify-state-dir", str(hospital.state),
         "--junitxml", str(tmp_path / "junit.xml")],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 failed, 6 passed" in done.stdout
    assert "certify::EST-02 - EST-02 fail" in done.stdout  # nodeid (after rootdir)
    assert "EST-02 fail: the device completed TLS with the impostor" in done.stdout
    cases = ElementTree.parse(tmp_path / "junit.xml").getroot().iter("testcase")
    assert [c.get("name") for c in cases][:2] == ["EST-01", "EST-02"]


def test_the_recovery_check_fails_while_a_pacs_stays_down(hospital: KitHospital,
                                                          tmp_path: Path) -> None:  # fmt: skip
    """A PACS down before the run (not the kit's fault to heal) is caught by the probe's
    C-ECHO."""
    outage = {"action": "begin", "service": "pacs-north"}
    hospital.admin("/faults/pacs-outage", outage)
    try:
        session = Session(Adapter.parse(LEGACY), hospital, profile_of(hospital, PROFILE),
                          tmp_path)  # fmt: skip
        result = run_check(session, KIT[0])
    finally:
        hospital.admin("/faults/pacs-outage", {**outage, "action": "end"})
    assert result.verdict is Verdict.FAIL
    assert "the PACS pacs-north refused the probe's C-ECHO" in result.reason
    assert hospital.admin("/trust/deliver") == {"delivered": {}}  # nothing on its way
