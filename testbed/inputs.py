"""The boundary for user input: YAML files validated into frozen dataclasses.

Every error names the file, the field path (``fleet[0].count``) and what was
expected, and is raised as :class:`~testbed.errors.ScenarioError`; nothing is
quietly corrected.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import TypeAdapter, ValidationError

from testbed.errors import ScenarioError

__all__ = ["field_path", "load_yaml", "validate"]

T = TypeVar("T")


def load_yaml(path: Path) -> Any:
    """Parse a YAML file, refusing a missing file or a syntax error with its line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(str(path), "", "an existing file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ScenarioError(str(path), "", f"a readable UTF-8 text file ({err})") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "document"
        problem = getattr(err, "problem", None) or str(err)
        raise ScenarioError(str(path), where, f"valid YAML ({problem})") from None


def field_path(loc: Sequence[int | str]) -> str:
    """``('fleet', 0, 'count')`` -> ``fleet[0].count``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def validate(adapter: TypeAdapter[T], data: Any, *, file: str) -> T:
    """Validate ``data`` into the adapter's type or raise the first error, located."""
    try:
        return adapter.validate_python(data)
    except ValidationError as err:
        first = err.errors(include_url=False)[0]
        loc = [p for p in first["loc"] if not _is_union_tag(p)]
        expected = _expected(first)
        more = err.error_count() - 1
        if more:
            expected += f" (and {more} more problem{'s' if more > 1 else ''} in this file)"
        raise ScenarioError(file, field_path(loc), expected, got=_got(first)) from None


def _is_union_tag(part: int | str) -> bool:
    return isinstance(part, str) and ("[" in part or part.startswith("function-"))


def _expected(error: Any) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "no such field (unknown fields are refused; check the spelling)"
    if kind == "missing":
        return "this required field"
    message: str = error["msg"]
    return message[0].lower() + message[1:] if message else kind


def _got(error: Any) -> object:
    if error["type"] in {"missing", "extra_forbidden"}:
        return None
    value = error.get("input")
    return value if isinstance(value, str | int | float | bool) else None
