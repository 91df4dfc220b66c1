"""How deep a JSON text nests, read without parsing it.

Python's ``json`` parser recurses once per level of nesting, so a few kilobytes of
``[`` raise :class:`RecursionError`: a 500 where the sender's mistake is due, and a
traceback per request in the server's log.  Whoever parses JSON a peer sent (a
client assertion's claims, a FHIR resource, a JWK Set, an admin request) reads its
depth with :func:`nesting` first and refuses what nests deeper than its kind of
document ever does.
"""

from __future__ import annotations

import re

__all__ = ["nesting"]

# a string, or an unterminated one running to the end (without the optional closing
# quote, an unterminated string made the scan restart at each escaped quote: quadratic)
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"?', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")


def nesting(raw: bytes) -> int:
    """The deepest nesting of arrays and objects in ``raw`` (brackets inside strings
    do not count; an unbalanced text gives what its opening brackets reach)."""
    depth = deepest = 0
    for match in _BRACKET.finditer(_STRING.sub(b'""', raw)):
        if match.group() in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth = max(depth - 1, 0)
    return deepest
