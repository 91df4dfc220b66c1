"""Where each value of a YAML file is written: field paths to lines and columns.

Validation errors name a field path (``fleet[0].count``); a person fixing the file
wants the line.  :func:`positions` composes the YAML text into nodes (no objects are
built) and maps every path to the 1-based (line, column) of its key, or of the item
for a sequence entry.  :meth:`Positions.of` finds the nearest written ancestor of a
path that is not in the file (a missing field: its mapping).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import yaml

__all__ = ["Position", "Positions", "parse_field_path", "positions"]

Position = tuple[int, int]
"""A 1-based (line, column)."""

Path = tuple[int | str, ...]


@dataclass(frozen=True, slots=True)
class Positions:
    """The position of every path written in one file."""

    by_path: dict[Path, Position] = field(default_factory=dict)

    def of(self, path: Sequence[int | str]) -> Position | None:
        """The position of ``path``, else of its nearest ancestor written in the file
        (None when not even the document has one: an empty file)."""
        parts = tuple(path)
        while True:
            found = self.by_path.get(parts)
            if found is not None or not parts:
                return found
            parts = parts[:-1]


def parse_field_path(text: str) -> Path:
    """``fleet[0].count`` -> ``('fleet', 0, 'count')`` (the inverse of
    :func:`testbed.inputs.field_path`; text that is no field path gives ())."""
    parts: list[int | str] = []
    for name, index in _PART.findall(text):
        parts.append(int(index) if index else name)
    return tuple(parts)


_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def positions(text: str) -> Positions:
    """The positions of ``text``'s values (empty for text that is not YAML)."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return Positions()
    found: dict[Path, Position] = {}
    if root is not None:
        _walk(root, (), _mark(root), found)
    return Positions(found)


def _mark(node: yaml.Node) -> Position:
    return (node.start_mark.line + 1, node.start_mark.column + 1)


def _walk(node: yaml.Node, path: Path, at: Position, found: dict[Path, Position]) -> None:
    found.setdefault(path, at)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                _walk(value, (*path, _key(key)), _mark(key), found)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*path, index), _mark(item), found)


def _key(node: yaml.ScalarNode) -> int | str:
    """A mapping key as the loaded data holds it (a plain integer key is an int)."""
    if node.tag == "tag:yaml.org,2002:int":
        try:
            return int(node.value)
        except ValueError:
            return str(node.value)
    return str(node.value)
