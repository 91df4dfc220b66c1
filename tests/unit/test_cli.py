"""The ``testbed`` command in process: exit codes, schema, usage errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from testbed.cli import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, main
from testbed.scenario import json_schema, schema_text


def test_exit_codes_are_distinct() -> None:
    assert (EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT) == (0, 1, 2)


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("run", "validate", "schema"):
        assert command in out


def test_an_unknown_command_is_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["frobnicate"]) == 2
    assert "frobnicate" in capsys.readouterr().err


def test_a_missing_argument_is_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate"]) == 2
    assert "FILES" in capsys.readouterr().err


def test_schema_prints_the_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema == json.loads(schema_text())
    assert schema["title"] == "Hospital device-identity testbed scenario"
    assert {"name", "seed", "start", "duration", "sites", "services", "fleet"} <= set(
        schema["required"]
    )


def test_schema_writes_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "scenario.schema.json"
    assert main(["schema", "--out", str(out)]) == 0
    assert capsys.readouterr().out == ""
    assert json.loads(out.read_text(encoding="utf-8")) == json_schema()


def test_schema_into_a_directory_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["schema", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.strip() == (
        f"error: {tmp_path}: expected a writable file path for the schema (Is a directory)"
    )


def test_the_shipped_schema_is_current() -> None:
    """``make schema`` writes scenarios/scenario.schema.json; editors read it."""
    shipped = Path(__file__).resolve().parents[2] / "scenarios" / "scenario.schema.json"
    assert shipped.is_file(), "run `make schema` to ship the scenario JSON Schema"
    assert shipped.read_text(encoding="utf-8") == schema_text()


def test_an_unwritable_out_dir_is_bad_input_before_the_run(
    tmp_path: Path,
    tiny_scenario: str,
    write_scenario: Callable[..., Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Checked before the run, so a long run never ends with nowhere to write."""
    import testbed.runner

    def never(*args: object, **kwargs: object) -> object:
        raise AssertionError("the scenario ran although its outputs cannot be written")

    monkeypatch.setattr(testbed.runner, "run_scenario", never)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory", encoding="utf-8")
    out = blocker / "out"
    code = main(["run", str(write_scenario(tiny_scenario)), "--out", str(out), "--quiet"])
    assert code == EXIT_BAD_INPUT
    captured = capsys.readouterr()
    assert captured.err.strip() == (
        f"error: {out}: expected a writable directory for the outputs (Not a directory)"
    )
    assert "Traceback" not in captured.out + captured.err


def test_outputs_that_cannot_be_written_raise_output_error(tmp_path: Path) -> None:
    from testbed.errors import OutputError
    from testbed.runner import prepare_outputs

    (tmp_path / "taken").write_text("", encoding="utf-8")
    with pytest.raises(OutputError, match="taken: expected a writable directory"):
        prepare_outputs(tmp_path / "taken")
    assert prepare_outputs(tmp_path / "new" / "dir").is_dir()


def test_serve_with_an_unwritable_state_dir_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], repo_root: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory", encoding="utf-8")
    state = blocker / "state"
    scenario = repo_root / "scenarios" / "two-site-pilot.yaml"
    assert main(["serve", str(scenario), "--state-dir", str(state)]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert err.strip() == f"error: {state}: expected a writable state directory (Not a directory)"


def test_serve_on_a_port_in_use_is_bad_input_and_leaves_no_endpoints(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], repo_root: Path
) -> None:
    import socket

    scenario = repo_root / "scenarios" / "two-site-pilot.yaml"
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        code = main(["serve", str(scenario), "--state-dir", str(tmp_path / "state"),
                     "--pki-port", str(port)])  # fmt: skip
    assert code == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert f"error: cannot listen on 127.0.0.1:{port} (Address already in use)" in err
    assert "Traceback" not in err
    assert not (tmp_path / "state" / "endpoints.json").exists()


@pytest.mark.parametrize(("in_file", "option", "expected"), [
    (None, None, "full"),
    ("modeled", None, "modeled"),
    ("modeled", "full", "full"),
    (None, "modeled", "modeled"),
])  # fmt: skip
def test_run_takes_the_fidelity_level_from_the_file_or_the_option(
    tmp_path: Path,
    tiny_scenario: str,
    write_scenario: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
    in_file: str | None,
    option: str | None,
    expected: str,
) -> None:
    import testbed.runner

    seen = []
    real = testbed.runner.run_scenario

    def spy(scenario: object, **options: object) -> object:
        seen.append(getattr(scenario, "fidelity", None))
        return real(scenario, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(testbed.runner, "run_scenario", spy)
    text = tiny_scenario + (f"fidelity: {in_file}\n" if in_file else "")
    argv = ["run", str(write_scenario(text)), "--out", str(tmp_path / "out"), "--quiet"]
    assert main(argv + (["--fidelity", option] if option else [])) in (EXIT_OK, EXIT_FAILED)
    assert [str(s) for s in seen] == [expected]


_DRILL = Path(__file__).resolve().parents[2] / "scenarios" / "revocation-offboarding-drill.yaml"


@pytest.mark.parametrize(("args", "message"), [
    (["compare", str(_DRILL), "--k", "99999999999999999999"], "not in the range 0<=x<=64"),
    (["sweep", str(_DRILL), "--seeds", "99999999999999", "--out", "{tmp}/sweep"],
     "not in the range 1<=x<=1000"),
    (["sweep", str(_DRILL), "--scheduler", "not a url", "--out", "{tmp}/sweep", "--quiet"],
     "not a url: expected the address of a running Dask scheduler"),
    (["emulate", str(_DRILL), "--design", "per-site-vlans", "--at", "xyz"],
     "at: expected a scenario time within the run"),
    (["serve", str(_DRILL), "--state-dir", "{tmp}/state", "--est-port", "70000"],
     "70000 is not in the range 0<=x<=65535"),
    (["serve", str(_DRILL), "--state-dir", "{tmp}/state", "--idle-timeout", "nan"],
     "--idle-timeout (limit idle_timeout): expected a positive number, got nan"),
    (["pacs-check", "no such host!", "104", "--ae", "PACS_NORTH", "--state-dir", "{tmp}"],
     "'no such host!' is no host this machine can resolve"),
])  # fmt: skip
def test_bad_command_line_values_exit_2_naming_them(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each was a traceback (exit 1), a hang, or a run of failed checks before."""
    assert main([a.replace("{tmp}", str(tmp_path)) for a in args]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert message in " ".join(err.split()), err
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []  # nothing written
