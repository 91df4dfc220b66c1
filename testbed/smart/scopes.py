"""SMART system scopes and scope mediation (SMART App Launch 2.2, "Scopes for
requesting clinical data"; Backend Services: "the server MAY grant a narrower scope").

A scope is ``system/<Type>.<permissions>[?<param>=<value>&...]``:

- v2 permissions are a non-empty subset of ``cruds`` written in that order
  (``system/Observation.rs``);
- v1 permissions ``read``, ``write`` and ``*`` are read as v2 ``rs``, ``cud`` and
  ``cruds`` (the SMART 2.2 mapping), and every scope granted is written in v2 form;
- ``<Type>`` is a FHIR resource type or ``*`` (every type).

Only ``system/`` scopes are machine scopes; ``patient/`` and ``user/`` scopes,
``launch``, ``openid`` and other non-system scopes are malformed *for a backend
service* and :func:`parse_scope` raises :class:`ScopeError` for them.

Mediation (:func:`mediate`) grants, for each requested scope and each pre-authorized
scope it overlaps, their intersection: the common resource type (``*`` meets any type
as that type), the common permissions, and the parameters of whichever is narrower
(the union of both sides' parameters; a parameter both name with different values
gives no overlap).  The grant is therefore never wider than either side
(:func:`covers` is the partial order; property tests check both bounds).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import pairwise

__all__ = [
    "PERMISSIONS",
    "Scope",
    "ScopeError",
    "covers",
    "format_scopes",
    "mediate",
    "parse_scope",
    "parse_scopes",
    "permits",
]

PERMISSIONS = "cruds"
"""The v2 permissions in their required order: create, read, update, delete, search."""

_V1 = {"read": "rs", "write": "cud", "*": "cruds"}
_TYPE = re.compile(r"^(\*|[A-Z][A-Za-z]{0,63})$")
_PARAM = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:-]*=[^&=\s]+$")


class ScopeError(ValueError):
    """A scope string that is not a SMART system scope (the message says why)."""


@dataclass(frozen=True, slots=True, order=True)
class Scope:
    """One system scope in v2 form.

    ``permissions`` is a subset of ``cruds`` in that order; ``params`` the sorted
    ``name=value`` restrictions (``?category=laboratory``).
    """

    resource: str
    permissions: str
    params: tuple[str, ...] = ()

    def __str__(self) -> str:
        query = "?" + "&".join(self.params) if self.params else ""
        return f"system/{self.resource}.{self.permissions}{query}"


def parse_scope(text: str) -> Scope:
    """Read one scope (v1 or v2); :class:`ScopeError` if it is not a system scope."""
    body, question, query = text.partition("?")
    context, slash, rest = body.partition("/")
    if context != "system" or not slash:
        raise ScopeError(f"scope {text!r} is not a system scope (expected system/Type.cruds)")
    resource, dot, permissions = rest.partition(".")
    if not dot or not _TYPE.match(resource):
        raise ScopeError(f"scope {text!r}: expected system/<FHIR type or *>.<permissions>")
    if question and not query:
        raise ScopeError(f"scope {text!r}: '?' must be followed by name=value parameters")
    return Scope(resource, _permissions(text, permissions), _params(text, query))


def _permissions(text: str, given: str) -> str:
    if given in _V1:
        return _V1[given]
    if not given or any(p not in PERMISSIONS for p in given) or not _in_order(given):
        raise ScopeError(
            f"scope {text!r}: permissions {given!r} are not a subset of 'cruds' in that "
            "order, nor v1 'read', 'write' or '*'"
        )
    return given


def _in_order(permissions: str) -> bool:
    places = [PERMISSIONS.index(p) for p in permissions]
    return all(a < b for a, b in pairwise(places))


def _params(text: str, query: str) -> tuple[str, ...]:
    if not query:
        return ()
    params = query.split("&")
    if any(not _PARAM.match(p) for p in params):
        raise ScopeError(f"scope {text!r}: parameters {query!r} are not name=value pairs")
    names = [p.split("=", 1)[0] for p in params]
    if len(set(names)) != len(names):
        raise ScopeError(f"scope {text!r}: a parameter is named twice")
    return tuple(sorted(params))


def parse_scopes(text: str) -> tuple[Scope, ...]:
    """Read a space-separated scope parameter (RFC 6749 §3.3); every scope must parse."""
    return tuple(parse_scope(item) for item in text.split())


def format_scopes(scopes: Iterable[Scope]) -> str:
    """The scope parameter for ``scopes``: v2 form, sorted, without duplicates."""
    return " ".join(sorted({str(s) for s in scopes}))


def _meet(a: Scope, b: Scope) -> Scope | None:
    """The widest scope both ``a`` and ``b`` cover, or None."""
    if a.resource == "*":
        resource = b.resource
    elif b.resource in ("*", a.resource):
        resource = a.resource
    else:
        return None
    permissions = "".join(p for p in PERMISSIONS if p in a.permissions and p in b.permissions)
    params = _joint_params(a.params, b.params)
    if not permissions or params is None:
        return None
    return Scope(resource, permissions, params)


def _joint_params(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...] | None:
    joint = dict(p.split("=", 1) for p in a)
    for name, value in (p.split("=", 1) for p in b):
        if joint.setdefault(name, value) != value:
            return None
    return tuple(sorted(f"{n}={v}" for n, v in joint.items()))


def mediate(requested: Iterable[Scope], authorized: Iterable[Scope]) -> tuple[Scope, ...]:
    """The scopes to grant: each requested scope met with each pre-authorized one,
    sorted and without those another granted scope already covers."""
    allowed = tuple(authorized)
    met = {m for r in requested for a in allowed if (m := _meet(r, a)) is not None}
    kept = [s for s in met if not any(o != s and covers(o, s) for o in met)]
    return tuple(sorted(kept))


def covers(wide: Scope, narrow: Scope) -> bool:
    """Whether everything ``narrow`` permits, ``wide`` permits too."""
    return (
        wide.resource in ("*", narrow.resource)
        and set(narrow.permissions) <= set(wide.permissions)
        and set(wide.params) <= set(narrow.params)
    )


def permits(scopes: Iterable[Scope], resource: str, permission: str) -> bool:
    """Whether ``scopes`` allow ``permission`` (one of ``cruds``) on ``resource`` with no
    parameter restriction (a restricted scope needs the resource server to apply its
    parameters, which it says by asking :func:`covers` with the parameters itself)."""
    if permission not in PERMISSIONS or len(permission) != 1:
        raise ValueError(f"permission {permission!r} is not one of {PERMISSIONS!r}")
    wanted = Scope(resource, permission)
    return any(covers(s, wanted) for s in scopes)
