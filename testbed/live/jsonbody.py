"""JSON request bodies read within bounds: size, nesting depth, and shape.

Python's ``json`` parser recurses once per nesting level, so a body of a few
kilobytes of ``[`` raises :class:`RecursionError` (a 500 where a 400 is due;
:mod:`testbed.json_nesting`).
:func:`parse_object` refuses a body larger than ``max_bytes`` or nested deeper than
``max_depth`` before parsing it, and anything that is not a JSON object, with a
:class:`~testbed.errors.LiveError` saying what was expected (the admin API answers
400 with it).
"""

from __future__ import annotations

import json

from testbed.errors import LiveError
from testbed.json_nesting import nesting

__all__ = ["MAX_BYTES", "MAX_DEPTH", "nesting", "parse_object"]

MAX_BYTES = 16 * 1024
MAX_DEPTH = 8


def parse_object(
    raw: bytes, *, what: str, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH
) -> dict[str, object]:
    """``raw`` as a JSON object, or :class:`LiveError` naming ``what`` was expected."""
    if len(raw) > max_bytes:
        raise LiveError(f"the body is {len(raw)} bytes; expected {what} of at most "
                        f"{max_bytes} bytes")  # fmt: skip
    depth = nesting(raw)
    if depth > max_depth:
        raise LiveError(f"the body nests {depth} levels deep; expected {what} nested at most "
                        f"{max_depth} levels")  # fmt: skip
    try:
        data = json.loads(raw) if raw.strip() else {}
    except (ValueError, RecursionError) as error:  # UnicodeDecodeError is a ValueError
        raise LiveError(f"the body is not JSON ({error}); expected {what}") from None
    if not isinstance(data, dict):
        raise LiveError(f"the body is JSON {type(data).__name__}; expected {what}")
    return data
