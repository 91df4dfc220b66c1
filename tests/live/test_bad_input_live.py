"""Bad input to a running ``testbed serve``: a replaced ``endpoints.json``, nested JSON,
a final newline in every identifier the command line and the admin API accept.

Every one is refused with a message naming what was expected (exit 2, or HTTP 400),
never a 500, and changes nothing.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from testbed.cli import EXIT_BAD_INPUT, main
from tests.live.conftest import PILOT

if TYPE_CHECKING:
    from tests.live.conftest import Live, StartServer

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def hospital(start_server: StartServer) -> Live:
    return start_server(PILOT)


@pytest.fixture
def endpoints(hospital: Live) -> Iterator[Path]:
    """``endpoints.json``, restored after the test."""
    path = hospital.state / "endpoints.json"
    saved = path.read_bytes()
    yield path
    path.write_bytes(saved)


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_a_replaced_endpoints_file_gets_an_error_never_the_secret(
    hospital: Live, endpoints: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as trap:
        trap.settimeout(0.5)
        for admin in (f"http://127.0.0.1:{trap.getsockname()[1]}",
                      f"unix:{hospital.work / 'trap.sock'}", None):  # fmt: skip
            data = json.loads(endpoints.read_text())
            data["admin"] = admin
            endpoints.write_text(json.dumps(data))
            code, _, err = _cli(capsys, "devices", "list", "--state-dir", str(hospital.state))
            assert code == EXIT_BAD_INPUT
            assert "was changed by someone else; the admin secret was not sent" in err, err
            with pytest.raises(TimeoutError):
                trap.accept()  # nobody came


def _admin_raw(hospital: Live, body: bytes) -> tuple[int, dict[str, Any]]:
    status, answer = hospital.admin("/devices", "-H", "Content-Type: application/json",
                                    "--data-binary", f"@{_file(hospital, body)}")  # fmt: skip
    return status, json.loads(answer)


def _file(hospital: Live, body: bytes) -> Path:
    path = hospital.work / "body.json"
    path.write_bytes(body)
    return path


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"[" * 10_000, "nests 10000 levels deep"),
        (b'{"serial": ' * 50 + b"1" + b"}" * 50, "nests 50 levels deep"),
        (b'{"serial": ' + b"[" * 5000 + b"]" * 5000 + b"}", "levels deep"),
        (b'{"serial": {"a": 1}, "site": "north", "zone": "imaging", "profile": "ct-ai-onbox"}',
         "serial: expected letters"),
        (b'{"serial": "A1", "extra": 1}', "unknown field(s) ['extra']"),
        (b"[1, 2]", "is JSON list"),
        (b"x" * 70_000, ""),  # above the body limit: 413
    ],
)
def test_nested_or_misshapen_json_on_the_admin_api_is_a_400_not_a_500(
    hospital: Live, body: bytes, expected: str
) -> None:
    if not expected:
        status, _ = hospital.admin("/devices", "--data-binary", f"@{_file(hospital, body)}")
        assert status == 413
        return
    status, answer = _admin_raw(hospital, body)
    assert status == 400 and expected in answer["error"], answer


REGISTER = {"--serial": "NL1", "--site": "north", "--zone": "imaging",
            "--profile": "ct-ai-onbox", "--owner": "radiology"}  # fmt: skip


@pytest.mark.parametrize("option", list(REGISTER))
def test_register_refuses_a_final_newline_in_each_field(
    hospital: Live, capsys: pytest.CaptureFixture[str], option: str
) -> None:
    values = dict(REGISTER)
    values[option] += "\n"
    args = [part for pair in values.items() for part in pair]
    code, _, err = _cli(capsys, "devices", "register", "--state-dir", str(hospital.state), *args)
    assert code == EXIT_BAD_INPUT and err.startswith("error: ")
    assert option.removeprefix("--") in err and "expected" in err, err
    listed = json.loads(hospital.cli("devices", "list", "--state-dir", str(hospital.state)).stdout)
    assert not any(d["device_id"].startswith("ct-ai-onbox-north-nl1") for d in listed["devices"])


ACTIONS = ["approve", "validate", "promote", "suspend", "resume", "revoke", "rebootstrap",
           "offboard"]  # fmt: skip


@pytest.mark.parametrize("action", ACTIONS)
def test_every_device_command_refuses_a_final_newline_in_the_device_id(
    hospital: Live, capsys: pytest.CaptureFixture[str], action: str
) -> None:
    device_id, _ = hospital.register(f"NL{ACTIONS.index(action)}")
    code, _, err = _cli(capsys, "devices", action, "--state-dir", str(hospital.state),
                        device_id + "\n")  # fmt: skip
    assert code == EXIT_BAD_INPUT
    assert "device id: expected a device id" in err and "\\n" in err, err
    listed = json.loads(hospital.cli("devices", "list", "--state-dir", str(hospital.state)).stdout)
    [entry] = [d for d in listed["devices"] if d["device_id"] == device_id]
    assert entry["state"] == "registered"  # nothing happened to it


def test_a_revocation_reason_and_a_rotation_site_with_a_final_newline_are_refused(
    hospital: Live, capsys: pytest.CaptureFixture[str]
) -> None:
    device_id, _ = hospital.register("NLR")
    code, _, err = _cli(capsys, "devices", "revoke", "--state-dir", str(hospital.state),
                        device_id, "--reason", "keyCompromise\n")  # fmt: skip
    assert code == EXIT_BAD_INPUT and "keyCompromise" in err
    status, answer = hospital.admin(f"/devices/{device_id}/revoke", "--data",
                                    '{"reason": "keyCompromise\\n"}')  # fmt: skip
    assert status == 400 and b"reason: expected one of" in answer
    status, answer = hospital.admin("/ca/rotate", "--data", '{"site": "north\\n"}')
    assert status == 400 and b"site: expected" in answer
    status, answer = hospital.admin("/ca/rotate", "--data", '{"overlap_seconds": 1e309}')
    assert status == 400 and b"overlap_seconds" in answer


def test_a_retired_device_and_a_site_ca_under_central_issuing_are_refused_with_a_reason(
    hospital: Live,
) -> None:
    """The operations' own rules, over the admin API: a retired device is not
    re-bootstrapped (409, no re-bootstrap event); a site's CA outage under central issuing
    names the rule (400), as ``testbed validate`` does for a scenario."""
    device_id, _ = hospital.register("RET1")
    status, answer = hospital.admin(f"/devices/{device_id}/offboard")
    assert status == 200, answer
    written = len(hospital.events())
    status, answer = hospital.admin(f"/devices/{device_id}/rebootstrap")
    assert status == 409 and b"is retired" in answer, answer
    assert not [e for e in hospital.events()[written:] if e["kind"] == "policy-changed"]
    status, answer = hospital.admin("/faults/ca-outage", "--data",
                                    '{"action": "begin", "site": "north"}')  # fmt: skip
    assert status == 400 and b"central issuing" in answer, answer
