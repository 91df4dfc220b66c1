"""The ``testbed`` command in process: exit codes, schema, usage errors."""

from __future__ import annotations

import json
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
    assert "SCENARIO" in capsys.readouterr().err


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


def test_the_shipped_schema_is_current() -> None:
    """``make schema`` writes scenarios/scenario.schema.json; editors read it."""
    shipped = Path(__file__).resolve().parents[2] / "scenarios" / "scenario.schema.json"
    assert shipped.is_file(), "run `make schema` to ship the scenario JSON Schema"
    assert shipped.read_text(encoding="utf-8") == schema_text()
