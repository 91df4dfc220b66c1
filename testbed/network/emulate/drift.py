"""The model against the kernel: one row per probed flow, drift where they disagree.

The model's expectation is :attr:`~testbed.network.emulate.layout.Flow.network_open`
(its verdict lets the flow through the network); the kernel's is a completed TCP
handshake.  Any row where they differ is **drift**: the network the kernel enforces
is not the design the model analyses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from testbed.network.emulate.layout import Flow, Plan
from testbed.network.emulate.probe import Outcome
from testbed.network.emulate.ruleset import Element, Ruleset
from testbed.network.matrix import Matrix, Place
from testbed.network.reach import place_of

__all__ = ["COLUMNS", "Comparison", "Row", "compare"]

COLUMNS = ("Src", "Src_Group", "Dst", "Dst_Group", "Service", "Dst_Port", "Model",
           "Rule", "Kernel", "Ruleset", "Match", "Cause")  # fmt: skip


@dataclass(frozen=True, slots=True)
class Row:
    """One flow: the model's verdict and the kernel's outcome."""

    flow: Flow
    outcome: Outcome
    said: str
    src_group: str
    dst_group: str
    #: the compiled element that should let the flow through (None: none should)
    element: Element | None

    @property
    def kernel_open(self) -> bool:
        """Whether the kernel let the connection through."""
        return self.outcome is Outcome.OPEN

    @property
    def matches(self) -> bool:
        """Whether the model and the kernel agree."""
        return self.kernel_open == self.flow.network_open

    def record(self) -> dict[str, Any]:
        """The row as the table prints it (:data:`COLUMNS`)."""
        flow = self.flow
        values = (flow.source.label, self.src_group, flow.target.endpoint.id, self.dst_group,
                  flow.service, flow.port, str(flow.verdict.disposition), flow.verdict.rule,
                  self.said, "" if self.element is None else self.element.label,
                  "yes" if self.matches else "DRIFT", self.cause)  # fmt: skip
        return dict(zip(COLUMNS, values, strict=True))

    @property
    def cause(self) -> str:
        """Why the kernel and the model disagree ('' when they agree)."""
        if self.matches:
            return ""
        element = self.element
        if self.kernel_open:
            if element is None:
                return ("open in the kernel, yet no compiled rule opens it: "
                        "a rule added outside the design")
            return f"{element.label} was compiled to open it, yet the model refuses it"
        if element is None:
            return "the model lets it through, the compiled ruleset does not"
        return (f"{element.label} was compiled but the kernel refused: "
                "removed behind the model's back")


@dataclass(frozen=True, slots=True)
class Comparison:
    """Every probed flow, in the plan's order."""

    rows: tuple[Row, ...]

    @property
    def drift(self) -> tuple[Row, ...]:
        """The rows where the kernel and the model disagree."""
        return tuple(row for row in self.rows if not row.matches)

    def counts(self) -> dict[str, int]:
        """Flows by (model open?, kernel open?)."""
        out = {"flows": len(self.rows), "open_in_model": 0, "open_in_kernel": 0,
               "drift": len(self.drift)}  # fmt: skip
        for row in self.rows:
            out["open_in_model"] += row.flow.network_open
            out["open_in_kernel"] += row.kernel_open
        return out


def compare(
    plan: Plan, ruleset: Ruleset, outcomes: Mapping[Flow, tuple[Outcome, str]]
) -> Comparison:
    """Line the kernel's outcomes up with the model's verdicts."""
    matrix = Matrix(plan.design)

    def group(place: Place) -> str:
        found = matrix.group_of(place)
        return "" if found is None else found.name

    rows = tuple(
        Row(flow, *outcomes[flow], group(flow.source.place),
            group(place_of(flow.target.endpoint)), ruleset.element_for(flow))
        for flow in plan.flows
    )  # fmt: skip
    return Comparison(rows)
