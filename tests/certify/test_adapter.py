"""The adapter protocol, with small shell adapters: what breaks it raises an error that
names the action and what came back; exit 3 is unsupported; a refusal is an exchange."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from testbed.certify.adapter import Action, Adapter, Exchange
from testbed.errors import AdapterError, CertifyError, Unsupported


def _script(tmp_path: Path, body: str) -> str:
    path = tmp_path / "adapter.sh"
    path.write_text(f"#!/bin/sh\ncat > /dev/null\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def _call(tmp_path: Path, body: str, action: Action = Action.STATUS, **kw: float) -> Exchange:
    adapter = Adapter.parse(_script(tmp_path, body), **kw)
    return adapter.call(action, {"workdir": str(tmp_path)})


def test_a_command_that_is_not_executable_is_bad_input(tmp_path: Path) -> None:
    plain = tmp_path / "device.sh"
    plain.write_text("#!/bin/sh\n")
    with pytest.raises(CertifyError, match="not an executable file"):
        Adapter.parse(f"{plain} --flag")
    with pytest.raises(CertifyError, match="not found"):
        Adapter.parse(str(tmp_path / "missing"))
    with pytest.raises(CertifyError, match="expected a command"):
        Adapter.parse("  ")


def test_the_command_is_split_as_a_shell_would(tmp_path: Path) -> None:
    script = _script(tmp_path, 'printf \'{"delivered": %s}\' "$(echo "$1" | wc -c)"')
    adapter = Adapter.parse(f"{script} 'two words'")
    assert adapter.argv[1] == "two words"
    answer = adapter.call(Action.FLUSH, {"workdir": str(tmp_path)})
    assert answer.succeeded and answer.response == {"delivered": 10}  # "two words\n"


def test_a_hang_is_stopped_at_the_timeout_and_names_the_action(tmp_path: Path) -> None:
    with pytest.raises(AdapterError, match=r"action renew: no answer within 1.0 s"):
        _call(tmp_path, "sleep 30", Action.RENEW, timeout=1.0)


def test_output_that_is_not_json_names_the_action_and_what_came_back(tmp_path: Path) -> None:
    with pytest.raises(AdapterError, match=r"action status: .*not one JSON object: 'ok!'"):
        _call(tmp_path, "echo ok!")
    with pytest.raises(AdapterError, match=r"action status: .*'\[1\]'"):
        _call(tmp_path, "echo '[1]'")


def test_wrong_fields_are_named(tmp_path: Path) -> None:
    body = 'echo \'{"queued": "3", "certificate_serial": null, "last_error": null}\''
    with pytest.raises(AdapterError) as raised:
        _call(tmp_path, body)
    message = str(raised.value)
    assert "action status: wrong fields" in message
    assert "'queued' is '3', expected int" in message
    assert "'certificate_not_after' missing" in message


def test_exit_3_is_unsupported(tmp_path: Path) -> None:
    with pytest.raises(Unsupported, match="action send-study: the device does not support it"):
        _call(tmp_path, "echo '{\"unsupported\": true}'; exit 3", Action.SEND_STUDY)


def test_a_refusal_is_an_exchange_with_the_reason(tmp_path: Path) -> None:
    answer = _call(tmp_path, "echo 'CA said 503' >&2; exit 1", Action.RENEW)
    assert not answer.succeeded
    assert answer.exit == 1 and answer.stderr == "CA said 503"
    assert answer.to_json()["action"] == "renew"
