"""Endpoint classes: endpoints the matrix cannot tell apart, analysed once.

A verdict depends on the source's place and identities, the destination's place and
the service (:class:`~testbed.network.matrix.Matrix`), and what a destination
listens on depends on its place.  So endpoints with the same place and the same
identities are interchangeable: every flow between two classes has the verdict of a
flow between their representatives.  A hospital of 50,000 devices at 10 sites has a
few hundred classes, and an analysis over classes (with their sizes) gives exactly
the per-endpoint answer (:mod:`testbed.network.blast`; a test compares the two).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from testbed.network.matrix import Held, Place, Verdict
from testbed.network.reach import Question, place_of
from testbed.network.topology import Endpoint

__all__ = ["EndpointClass", "class_flows", "endpoint_classes"]


@dataclass(frozen=True, slots=True)
class EndpointClass:
    """Endpoints with one place and one set of identities (None: not admitted)."""

    place: Place
    held: Held | None
    members: tuple[Endpoint, ...]

    @property
    def size(self) -> int:
        """How many endpoints the class has."""
        return len(self.members)

    @property
    def representative(self) -> Endpoint:
        """The member whose flows stand for every member's."""
        return self.members[0]


def endpoint_classes(question: Question) -> list[EndpointClass]:
    """The classes of ``question``'s endpoints, in order of first member."""
    found: dict[tuple[Place, Held | None], list[Endpoint]] = {}
    for endpoint in question.topology.endpoints:
        found.setdefault((place_of(endpoint), question.held(endpoint)), []).append(endpoint)
    return [EndpointClass(place, held, tuple(members))
            for (place, held), members in found.items()]  # fmt: skip


def class_flows(
    question: Question, classes: list[EndpointClass]
) -> Iterator[tuple[int, int, str, Verdict]]:
    """``(source class, destination class, service, verdict)`` for every pair of
    classes (a class with itself too: its members' flows to each other)."""
    for i, src in enumerate(classes):
        for j, dst in enumerate(classes):
            if i == j and src.size == 1:
                continue  # no other member to reach
            for service in question.services(dst.representative):
                yield i, j, service, question.verdict(src.representative, dst.representative,
                                                      service)  # fmt: skip
