"""The input boundary: YAML loading and validation errors located by field path."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pytest
import yaml
from pydantic import ConfigDict, TypeAdapter

from testbed.errors import ScenarioError
from testbed.inputs import field_path, load_yaml, validate
from testbed.positions import positions


@pytest.mark.parametrize(
    ("loc", "text"),
    [
        (("fleet", 0, "count"), "fleet[0].count"),
        (("name",), "name"),
        ((0,), "[0]"),
        (("a", 1, 2, "b"), "a[1][2].b"),
        ((), "(top level)"),
    ],
)
def test_field_path(loc: tuple[int | str, ...], text: str) -> None:
    assert field_path(loc) == text


def test_load_yaml_reads_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text("a: 1\nb: [x, y]\n", encoding="utf-8")
    assert load_yaml(path) == {"a": 1, "b": ["x", "y"]}


def test_load_yaml_names_the_line_of_a_syntax_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("a: 1\nb: 2\nc: d: e\n", encoding="utf-8")
    with pytest.raises(ScenarioError) as raised:
        load_yaml(path)
    assert raised.value.file == str(path)
    assert raised.value.field.startswith("line 3, column ")
    assert "valid YAML" in raised.value.expected


def test_load_yaml_refuses_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "missing.yaml"
    with pytest.raises(ScenarioError) as raised:
        load_yaml(path)
    assert str(raised.value) == f"{path}: expected an existing file"


def test_load_yaml_refuses_a_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "binary.yaml"
    path.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(ScenarioError, match="readable UTF-8"):
        load_yaml(path)


def test_load_yaml_refuses_a_directory(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError):
        load_yaml(tmp_path)


_BOMB = "a0: &a0 [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]\n" for i in range(1, 10)
)  # nine levels of nine aliases: 387 million values once expanded


@pytest.mark.parametrize(
    ("text", "expected", "line"),
    [
        ("name: " + "[" * 5000 + "]" * 5000 + "\n", "YAML nested at most 64 levels deep", 1),
        ("a: &a [*a]\n", "no alias (*a) inside its own anchor's value", 1),
        (_BOMB, "YAML standing for at most 1,000,000 values, aliases expanded", 7),
        ("a: &a " + "[" * 40 + "]" * 40 + "\nb: " + "[" * 30 + "*a" + "]" * 30 + "\n",
         "YAML nested at most 64 levels deep, aliases expanded", 2),
    ],
    ids=["deep", "self-referencing anchor", "alias bomb", "deep through an alias"],
)
def test_yaml_that_cannot_be_built_in_bounds_is_refused_before_it_is(
    tmp_path: Path, text: str, expected: str, line: int
) -> None:
    """Each was a RecursionError (a traceback) or ran for minutes before."""
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as raised:
        load_yaml(path)
    assert expected in raised.value.expected and raised.value.line == line


def test_anchors_and_aliases_within_bounds_still_load(tmp_path: Path) -> None:
    """Anchors holding aliases are fine (one default inside another) as long as what
    they stand for stays within the bounds."""
    path = tmp_path / "ok.yaml"
    path.write_text("base: &b {zone: imaging}\nct: &c {where: *b, count: 2}\n"
                    "fleet: [*b, *c, *c]\n", encoding="utf-8")  # fmt: skip
    ct = {"where": {"zone": "imaging"}, "count": 2}
    assert load_yaml(path)["fleet"] == [{"zone": "imaging"}, ct, ct]


@dataclass(frozen=True)
class _Inner:
    __pydantic_config__: ClassVar[ConfigDict] = ConfigDict(extra="forbid")
    count: int


@dataclass(frozen=True)
class _Outer:
    __pydantic_config__: ClassVar[ConfigDict] = ConfigDict(extra="forbid")
    name: str
    items: tuple[_Inner, ...]


_ADAPTER = TypeAdapter(_Outer)


def test_validate_returns_the_value() -> None:
    value = validate(_ADAPTER, {"name": "x", "items": [{"count": 2}]}, file="f.yaml")
    assert value == _Outer("x", (_Inner(2),))


def test_validate_locates_a_wrong_type() -> None:
    with pytest.raises(ScenarioError) as raised:
        validate(_ADAPTER, {"name": "x", "items": [{"count": 1}, {"count": "many"}]}, file="f.yaml")
    error = raised.value
    assert (error.file, error.field, error.got) == ("f.yaml", "items[1].count", "many")
    assert error.expected == "a whole number"
    assert str(error).startswith("f.yaml: items[1].count: expected ")


def test_validate_names_a_missing_field() -> None:
    with pytest.raises(ScenarioError) as raised:
        validate(_ADAPTER, {"items": []}, file="f.yaml")
    assert (raised.value.field, raised.value.expected) == ("name", "this required field")
    assert raised.value.got is None


def test_validate_reports_every_problem_at_once() -> None:
    with pytest.raises(ScenarioError) as raised:
        validate(_ADAPTER, {"name": 3, "items": "nope"}, file="f.yaml")
    assert [p.field for p in raised.value.problems] == ["name", "items"]
    assert str(raised.value).splitlines() == [
        "f.yaml: name: expected text (got 3)",
        "f.yaml: items: expected a valid tuple (got 'nope')",
    ]


def test_the_problems_come_in_file_order_with_their_lines() -> None:
    text = "items:\n  - {count: many}\n  - {count: 2, colour: red}\nname: 3\n"
    data, where = yaml.safe_load(text), positions(text)
    with pytest.raises(ScenarioError) as raised:
        validate(_ADAPTER, data, file="f.yaml", where=where)
    found = [(p.field, p.line, p.column) for p in raised.value.problems]
    assert found == [("items[0].count", 2, 6), ("items[1].colour", 3, 16), ("name", 4, 1)]
    assert raised.value.problems[1].hint is None  # nothing close to "colour"
