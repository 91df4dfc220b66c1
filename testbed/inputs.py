"""The boundary for user input: YAML files validated into frozen dataclasses.

Every error names the file, the field path (``fleet[0].count``) and what was
expected, and is raised as :class:`~testbed.errors.ScenarioError`; nothing is
quietly corrected.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import TypeAdapter, ValidationError

from testbed.errors import ScenarioError
from testbed.positions import Positions, parse_field_path, positions
from testbed.suggest import suggestion

__all__ = ["field_path", "load_located", "load_yaml", "located", "problems", "validate"]

T = TypeVar("T")


def load_yaml(path: Path) -> Any:
    """Parse a YAML file, refusing a missing file or a syntax error with its line."""
    return _parse(path, _read(path))


def load_located(path: Path) -> tuple[Any, Positions]:
    """Parse a YAML file as :func:`load_yaml` does, with where each value is written."""
    text = _read(path)
    return _parse(path, text), positions(text)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(str(path), "", "an existing file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ScenarioError(str(path), "", f"a readable UTF-8 text file ({err})") from None


MAX_DEPTH = 64
"""The deepest a YAML input may nest, aliases expanded (the builder recurses)."""
MAX_NODES = 1_000_000
"""The most values (scalars and collections) a YAML input may stand for, aliases
expanded: a few lines of anchors holding aliases can stand for billions."""


def _check_shape(text: str) -> None:
    """Refuse, before anything is built, YAML that nests deeper than :data:`MAX_DEPTH`
    or stands for more than :data:`MAX_NODES` values once its aliases are expanded, or
    whose anchor holds an alias to itself.  Reads the parser's events, which does not
    recurse: each anchored node's size and height are counted as it closes, and each
    alias adds its anchor's."""
    open_: list[list[Any]] = []  # per open collection: [anchor, size, height]
    closed: dict[str, tuple[int, int]] = {}  # anchor -> (size, height) of its node
    values = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            open_.append([event.anchor, 1, 1])
            values += 1
            if len(open_) > MAX_DEPTH:
                raise _refused(f"YAML nested at most {MAX_DEPTH} levels deep", event)
            continue
        if isinstance(event, yaml.CollectionEndEvent):
            anchor, size, height = open_.pop()
            if anchor is not None:
                closed[anchor] = (size, height)
        elif isinstance(event, yaml.ScalarEvent):
            size, height = 1, 0
            values += 1
            if event.anchor is not None:
                closed[event.anchor] = (size, height)
        elif isinstance(event, yaml.AliasEvent):
            if any(entry[0] == event.anchor for entry in open_):
                raise _refused(f"no alias (*{event.anchor}) inside its own anchor's "
                               "value (it would hold itself)", event)  # fmt: skip
            size, height = closed.get(event.anchor or "", (1, 0))
            values += size
            if len(open_) + height > MAX_DEPTH:
                raise _refused(f"YAML nested at most {MAX_DEPTH} levels deep, aliases "
                               "expanded", event)  # fmt: skip
        else:
            continue
        if values > MAX_NODES:
            raise _refused(f"YAML standing for at most {MAX_NODES:,} values, aliases "
                           "expanded", event)  # fmt: skip
        if open_:  # the node just completed belongs to the collection around it
            parent = open_[-1]
            parent[1] += size
            parent[2] = max(parent[2], height + 1)


def _refused(expected: str, event: yaml.Event) -> _Refused:
    mark: Any = event.start_mark  # the pure and the C parser's marks alike
    return _Refused(None, None, expected, mark)


def _parse(path: Path, text: str) -> Any:
    try:
        _check_shape(text)
        return yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader: no arbitrary objects
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "document"
        problem = getattr(err, "problem", None) or str(err)
        expected = problem if isinstance(err, _Refused) else f"valid YAML ({problem})"
        line, column = (mark.line + 1, mark.column + 1) if mark else (None, None)
        raise ScenarioError(str(path), where, expected, line=line, column=column) from None
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


def validate(
    adapter: TypeAdapter[T], data: Any, *, file: str, where: Positions | None = None
) -> T:
    """Validate ``data`` into the adapter's type, or raise one :class:`ScenarioError`
    carrying every problem in the file, in file order, each with its line and column
    (from ``where``) and a suggestion for a misspelled field or value."""
    try:
        return adapter.validate_python(data)
    except ValidationError as err:
        errors = err.errors(include_url=False)
        found = problems(errors, data, file=file, where=where, schema=lambda: adapter.json_schema())
        raise ScenarioError.of(found) from None


def problems(
    errors: list[Any],
    data: Any,
    *,
    file: str,
    where: Positions | None = None,
    schema: Callable[[], dict[str, Any]] | None = None,
) -> list[ScenarioError]:
    """One located problem per field that pydantic's ``errors`` name (not its
    follow-ons), in file order."""
    locs = [tuple(e["loc"]) for e in errors]

    def follows(loc: tuple[Any, ...]) -> bool:
        return any(other[: len(loc)] == loc and other != loc for other in locs)

    chosen: dict[tuple[int | str, ...], Any] = {}
    for error, loc in zip(errors, locs, strict=True):
        if error["type"] == "too_short" and follows(loc):
            continue  # a tuple too short because one of its items failed
        path = tuple(_input_path(loc, data, missing=error["type"] == "missing"))
        if error["type"] == "union_tag_invalid":  # the field that chose no member
            path = (*path, str(error["ctx"]["discriminator"]).strip("'"))
        held = chosen.setdefault(path, error)
        # a value that fits no member of a union fails once per member: the reason our
        # own validator gave (a bound with min > max) says more than "not a number"
        if held is not error and held["type"] != "value_error" and error["type"] == "value_error":
            chosen[path] = error
    found: list[tuple[tuple[int, int], int, ScenarioError]] = []
    known: dict[str, Any] = {}

    def names() -> dict[str, Any]:
        if not known and schema is not None:
            known.update(schema())
        return known

    for order, (path, error) in enumerate(chosen.items()):
        at = where.of(path) if where is not None else None
        problem = ScenarioError(
            file, field_path(path), _expected(error), got=_got(error),
            line=at[0] if at else None, column=at[1] if at else None,
            hint=suggestion(error, path, names),
        )  # fmt: skip
        found.append((at or (0, 0), order, problem))
    found.sort(key=lambda item: (item[0], item[1]))
    return [problem for _, _, problem in found]


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


def _expected(error: Any) -> str:
    kind = error["type"]
    if kind in {"extra_forbidden", "unexpected_keyword_argument"}:
        return "a known field here (unknown fields are refused; check the spelling)"
    if kind == "missing":
        return "this required field"
    if kind == "value_error":  # our own validators: their message, without pydantic's
        own = str(error.get("ctx", {}).get("error", error["msg"]))  # "Value error, "
        got = _got(error)
        return own.removesuffix(f", got {got!r}") if got is not None else own
    if kind == "union_tag_invalid":  # a tag naming no member: the tags by their values
        ctx = error["ctx"]
        tags = re.sub(r"<\w+\.\w+: ('[^']*')>", r"\1", str(ctx["expected_tags"]))
        return f"one of {tags}"
    bound = _BOUNDS.get(kind)
    if bound is not None:
        word, key = bound
        return f"{word} {error['ctx'][key]}"
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
#: pydantic's bounds, as a person would say them
_BOUNDS = {
    "greater_than_equal": ("at least", "ge"),
    "greater_than": ("more than", "gt"),
    "less_than_equal": ("at most", "le"),
    "less_than": ("less than", "lt"),
}
_NOT_TEXT = frozenset({"int_type", "float_type", "bool_type"})


def _got(error: Any) -> object:
    if error["type"] in {"missing", "extra_forbidden", "unexpected_keyword_argument"}:
        return None
    if error["type"] == "union_tag_invalid":
        return str(error["ctx"]["tag"])
    value = error.get("input")
    return value if isinstance(value, str | int | float | bool) else None


def located(error: ScenarioError, file: str, where: Positions) -> ScenarioError:
    """``error`` with each of its problems about ``file`` given the line and column of
    its field, in file order (problems without a place keep theirs, first)."""
    found = [_place(problem, file, where) for problem in error.problems]
    ordered = sorted(found, key=lambda p: (p.line or 0, p.column or 0))
    return ordered[0] if len(ordered) == 1 else ScenarioError.of(ordered)


def _place(problem: ScenarioError, file: str, where: Positions) -> ScenarioError:
    """One problem with the line and column of its field, when it is about ``file``."""
    if problem.file != file or problem.line is not None:
        return problem
    at = where.of(parse_field_path(problem.field))
    if at is None:
        return problem
    return ScenarioError(file, problem.field, problem.expected, got=problem.got, line=at[0],
                         column=at[1], hint=problem.hint)  # fmt: skip
