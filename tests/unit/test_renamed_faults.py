"""A fault kind's former name still loads, as its name now, with a warning that says
which file uses it and what to write instead (``testbed validate`` prints it and
exits 0)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from testbed.cli import main
from testbed.faults import FaultKind
from testbed.scenario import load_scenario

FORMER = (
    "faults:\n  - {kind: expired-certificate, target: 'device:ct-ai-onbox-north-001', "
    "start: 1d, end: 2d}\nexpectations:"
)


def _written(tiny_scenario: str, write_scenario: Callable[..., Path]) -> Path:
    return write_scenario(tiny_scenario.replace("expectations:", FORMER))


def _warning(path: Path) -> str:
    return (
        f"{path}: faults[0].kind: 'expired-certificate' is deprecated; "
        "write 'renewal-agent-broken'"
    )


def test_expired_certificate_loads_as_renewal_agent_broken_with_a_warning(
    tiny_scenario: str, write_scenario: Callable[..., Path]
) -> None:
    path = _written(tiny_scenario, write_scenario)
    with pytest.warns(DeprecationWarning) as warned:
        scenario = load_scenario(path)
    assert [str(w.message) for w in warned] == [_warning(path)]
    assert scenario.faults[0].kind is FaultKind.RENEWAL_AGENT_BROKEN


def test_validate_prints_the_warning_and_exits_0(
    tiny_scenario: str, write_scenario: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    path = _written(tiny_scenario, write_scenario)
    assert main(["validate", str(path)]) == 0
    out, err = capsys.readouterr()
    assert err == f"warning: {_warning(path)}\n"
    assert out == f"{path}: valid (1 site, 2 devices, 1 fault, 1 expectation)\n"


def test_the_name_now_loads_without_a_warning(
    tiny_scenario: str, write_scenario: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    text = FORMER.replace("expired-certificate", "renewal-agent-broken")
    path = write_scenario(tiny_scenario.replace("expectations:", text))
    assert main(["validate", str(path)]) == 0
    assert capsys.readouterr().err == ""
