"""SMART v2 system scopes, as small as the EHR needs: does a token cover an interaction?

A scope is ``system/<Type|*>.<permissions>``, the permissions a subset of ``cruds`` in
that order (SMART App Launch 2.x, "Scopes for requesting FHIR resources"); v1 suffixes
map to v2 (``read`` -> ``rs``, ``write`` -> ``cud``, ``*`` -> ``cruds``).  Search
parameters after ``?`` (v2 finer-grained scopes) are not honoured here: such a scope
grants nothing, which fails closed.  ``patient/`` and ``user/`` scopes grant nothing
either: the EHR serves machine identities only.

This is the EHR's local reading, kept minimal on purpose so that the identity
provider's scope module can replace it: the EHR only calls :func:`permits`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import StrEnum

__all__ = ["Interaction", "permissions_of", "permits"]

_SCOPE = re.compile(r"system/(?P<type>[A-Za-z]+|\*)\.(?P<perms>[a-z*]+)")
_V1 = {"read": "rs", "write": "cud", "*": "cruds"}
_ORDER = "cruds"


class Interaction(StrEnum):
    """The SMART permission letter a FHIR interaction needs."""

    CREATE = "c"
    READ = "r"
    UPDATE = "u"
    DELETE = "d"
    SEARCH = "s"


def permissions_of(scope: str) -> tuple[str, str] | None:
    """``(resource type or "*", permission letters)`` of a system scope; ``None`` for a
    scope that grants nothing here (not ``system/``, malformed, letters out of order,
    or with search parameters)."""
    match = _SCOPE.fullmatch(scope)
    if match is None:
        return None
    perms = _V1.get(match["perms"], match["perms"])
    if not perms or not _in_order(perms):
        return None
    return match["type"], perms


def _in_order(perms: str) -> bool:
    """Whether ``perms`` are distinct letters of ``cruds`` in that order."""
    positions = [_ORDER.find(letter) for letter in perms]
    return -1 not in positions and positions == sorted(set(positions))


def permits(scopes: Iterable[str], resource_type: str, interaction: Interaction) -> bool:
    """Whether any of ``scopes`` allows ``interaction`` on ``resource_type``."""
    for scope in scopes:
        granted = permissions_of(scope)
        if granted is None:
            continue
        kind, perms = granted
        if kind in ("*", resource_type) and interaction.value in perms:
            return True
    return False
