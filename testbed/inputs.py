"""The boundary for user input: YAML files validated into frozen dataclasses.

Every error names the file, the field path (``fleet[0].count``) and what was
expected, and is raised as :class:`~testbed.errors.ScenarioError`; nothing is
quietly corrected.
"""

from __future__ import annotations

import re
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
        return yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader: no arbitrary objects
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "document"
        problem = getattr(err, "problem", None) or str(err)
        expected = problem if isinstance(err, _Refused) else f"valid YAML ({problem})"
        raise ScenarioError(str(path), where, expected) from None
    except ValueError as err:  # a value YAML itself builds, e.g. a timestamp in month 13
        raise ScenarioError(str(path), "", f"valid YAML values ({err})") from None


class _Refused(yaml.constructor.ConstructorError):
    """Valid YAML that we refuse (a key written twice, an impossible date): the message
    says what was expected, without "valid YAML" around it."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key written twice in one mapping (plain YAML
    keeps the last one silently, so a second ``pki:`` would replace the first)."""


def _unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: dict[Any, yaml.Node] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        try:
            repeated = key in seen
        except TypeError:  # an unhashable key: construct_mapping refuses it below
            continue
        if repeated:
            first = seen[key].start_mark.line + 1
            raise _Refused(
                None, None,
                f"each key once in a mapping: {key!r} appears twice (first on line {first})",
                key_node.start_mark,
            )  # fmt: skip
        seen[key] = key_node
    return loader.construct_mapping(node)


def _timestamp(loader: _UniqueKeyLoader, node: yaml.ScalarNode) -> Any:
    """A YAML timestamp; an impossible one (month 13) is a located YAML error."""
    try:
        return loader.construct_yaml_timestamp(node)
    except ValueError as error:
        raise _Refused(
            None, None, f"a possible date and time, not {node.value!r} ({error})",
            node.start_mark,
        ) from None


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _unique_mapping,
)
_UniqueKeyLoader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp)


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
        errors = err.errors(include_url=False)
        first = errors[0]
        loc = _input_path(first["loc"], data, missing=first["type"] == "missing")
        # a value that fits no member of a union fails once per member: the reason our
        # own validator gave (a bound with min > max) says more than "not a number"
        for other in errors[1:]:
            same = _input_path(other["loc"], data, missing=False) == loc
            if same and other["type"] == "value_error":
                first = other
                break
        expected = _expected(first)
        others = sorted(_problems(errors, data) - {tuple(loc)}, key=str)
        if others:
            names = ", ".join(field_path(o) for o in others[:_NAMED])
            names += ", ..." if len(others) > _NAMED else ""
            expected += (
                f" (and {len(others)} more problem{'s' if len(others) > 1 else ''} in this "
                f"file: {names})"
            )
        raise ScenarioError(file, field_path(loc), expected, got=_got(first)) from None


_NAMED = 3  # other problem fields named in the message


def _input_path(loc: Sequence[int | str], data: Any, *, missing: bool) -> list[int | str]:
    """The error's location in the user's file, without pydantic's union-member tags.

    A tag (``ca-outage``, ``float``, ``Bound``) is a location part that does not
    index into the input; a missing field's name is the one part kept regardless.
    """
    path: list[int | str] = []
    node = data
    for i, part in enumerate(loc):
        found, child = _step(node, part)
        if found or (missing and i == len(loc) - 1):
            path.append(part)
            node = child
    return path


def _step(node: Any, part: int | str) -> tuple[bool, Any]:
    if isinstance(node, dict) and part in node:
        return True, node[part]
    if isinstance(node, list | tuple) and isinstance(part, int) and 0 <= part < len(node):
        return True, node[part]
    return False, node


def _problems(errors: list[Any], data: Any) -> set[tuple[int | str, ...]]:
    """The fields with a problem: not pydantic's follow-ons (a tuple 'too short'
    because an item failed), and a value that fits no member of a union once."""
    locs = [tuple(e["loc"]) for e in errors]

    def follows(loc: tuple[Any, ...]) -> bool:
        return any(other[: len(loc)] == loc and other != loc for other in locs)

    fields = {
        tuple(_input_path(loc, data, missing=e["type"] == "missing"))
        for e, loc in zip(errors, locs, strict=True)
        if not (e["type"] == "too_short" and follows(loc))
    }
    return fields


def _expected(error: Any) -> str:
    kind = error["type"]
    if kind in {"extra_forbidden", "unexpected_keyword_argument"}:
        return "no such field (unknown fields are refused; check the spelling)"
    if kind == "missing":
        return "this required field"
    if kind == "value_error":  # our own validators: their message, without pydantic's
        own = str(error.get("ctx", {}).get("error", error["msg"]))  # "Value error, "
        got = _got(error)
        return own.removesuffix(f", got {got!r}") if got is not None else own
    if kind == "union_tag_invalid":  # a tag naming no member: the tags by their values
        ctx = error["ctx"]
        tags = re.sub(r"<\w+\.\w+: ('[^']*')>", r"\1", str(ctx["expected_tags"]))
        return f"{ctx['discriminator']} one of {tags} (got {ctx['tag']!r})"
    plain = _PLAIN.get(kind)
    if plain is not None:
        value = error.get("input")
        if isinstance(value, str) and kind in _NOT_TEXT:
            return f"{plain}, not text (write it without quotes)"
        return plain
    message: str = error["msg"]
    message = message.removeprefix("Input should be ").removeprefix("input should be ")
    return message[0].lower() + message[1:] if message else kind


#: pydantic's messages for common types, as a person would say what was expected
_PLAIN = {
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "string_type": "text",
}
_NOT_TEXT = frozenset({"int_type", "float_type", "bool_type"})


def _got(error: Any) -> object:
    if error["type"] in {"missing", "extra_forbidden", "unexpected_keyword_argument"}:
        return None
    value = error.get("input")
    return value if isinstance(value, str | int | float | bool) else None
