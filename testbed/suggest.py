"""``Did you mean``: the closest known field name or value to a misspelled one.

Suggestions come from what the format itself knows: the field names its JSON Schema
allows at that place in the file, or the values an enum, literal or tagged union
lists in pydantic's error.  Nothing is suggested when nothing is close.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

__all__ = ["closest", "fields_at", "suggestion"]

_CUTOFF = 0.6  # difflib's similarity below which a name is not offered
_QUOTED = re.compile(r"'([^']*)'")


def closest(word: str, known: Iterable[str]) -> str | None:
    """The known word closest to ``word`` (also across ``_`` and ``-``), or None."""
    choices = sorted(set(known) - {word})
    if not choices:
        return None
    folded = {c.replace("_", "-").lower(): c for c in choices}
    match = difflib.get_close_matches(word.replace("_", "-").lower(), folded, n=1, cutoff=_CUTOFF)
    return folded[match[0]] if match else None


def suggestion(
    error: Any, path: Sequence[int | str], schema: Callable[[], dict[str, Any]]
) -> str | None:
    """A suggestion for one pydantic error at the input ``path`` (its field path in
    the user's file), or None."""
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind in {"extra_forbidden", "unexpected_keyword_argument"} and path:
        name = path[-1]
        if isinstance(name, str):
            return closest(name, fields_at(schema(), path[:-1]))
        return None
    value = ctx.get("tag") if kind == "union_tag_invalid" else error.get("input")
    if not isinstance(value, str):
        return None
    if kind == "union_tag_invalid":
        return closest(value, re.findall(r": '([^']*)'>", str(ctx.get("expected_tags", ""))))
    if kind in {"enum", "literal_error"}:
        return closest(value, _QUOTED.findall(str(ctx.get("expected", ""))))
    return None


def fields_at(schema: dict[str, Any], path: Sequence[int | str]) -> set[str]:
    """The field names the schema allows in the mapping at ``path`` (every member of
    a union at that place)."""
    defs = schema.get("$defs", {})
    nodes = [schema]
    for part in path:
        following: list[dict[str, Any]] = []
        for node in _expanded(nodes, defs):
            if isinstance(part, int):
                items = node.get("items")
                if isinstance(items, dict):
                    following.append(items)
                prefix = node.get("prefixItems", [])
                if part < len(prefix):
                    following.append(prefix[part])
            else:
                member = node.get("properties", {}).get(part)
                if member is not None:
                    following.append(member)
                extra = node.get("additionalProperties")
                if isinstance(extra, dict):
                    following.append(extra)
        nodes = following
    return {name for node in _expanded(nodes, defs) for name in node.get("properties", {})}


def _expanded(nodes: list[dict[str, Any]], defs: dict[str, Any]) -> list[dict[str, Any]]:
    """``nodes`` with references resolved and unions flattened."""
    out: list[dict[str, Any]] = []
    pending = list(nodes)
    seen = 0
    while pending and seen < 1000:  # a recursive schema cannot loop forever
        seen += 1
        node = pending.pop()
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            pending.append(defs.get(ref.removeprefix("#/$defs/"), {}))
            continue
        for key in ("anyOf", "oneOf", "allOf"):
            pending.extend(m for m in node.get(key, []) if isinstance(m, dict))
        out.append(node)
    return out
