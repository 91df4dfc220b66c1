"""Nested holds: a thing is held while at least one of its holds is in place.

Faults nest: two outages of one service, two blocks of one route.  The thing is
released only when the last hold ends.  :class:`Holds` counts them per key; the
route policy, the service outages and the CA outages keep theirs here.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Generic, TypeVar

__all__ = ["Holds"]

K = TypeVar("K", bound=Hashable)


class Holds(Generic[K]):
    """How many holds each key has (a key with none is not held)."""

    __slots__ = ("_count",)

    def __init__(self) -> None:
        self._count: dict[K, int] = {}

    def hold(self, key: K) -> None:
        """One more hold on ``key``."""
        self._count[key] = self._count.get(key, 0) + 1

    def release(self, key: K) -> int:
        """End one hold on ``key``; the holds left.  :class:`KeyError` if none."""
        left = self._count[key] - 1
        if left:
            self._count[key] = left
        else:
            del self._count[key]
        return left

    def __contains__(self, key: object) -> bool:
        return key in self._count

    def __bool__(self) -> bool:
        return bool(self._count)
