"""The exceptions register and the rules outside change control, as drift (seed §5:
document exceptions, expire them, review them on a schedule).

A drift scan (the simulation runs one a day) asks :func:`overdue_reviews` which
exceptions are past their review date and still in force, and the policy which rules
were added outside change control (:attr:`~testbed.network.blocks.RouteBlocks.unapproved`).
Each finding is a drift alert of a :class:`NetworkDrift` kind; an overdue review
carries its **lead time**, how long is left before the exception expires and the
flows it opens close.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from testbed.network.design import Design, DesignException

__all__ = ["NetworkDrift", "overdue_reviews"]


class NetworkDrift(StrEnum):
    """What a drift scan finds in the network's policy (the ``drift`` of a
    ``drift-detected`` event)."""

    RULE_OUTSIDE_CHANGE_CONTROL = "policy-rule-unapproved"
    EXCEPTION_REVIEW_OVERDUE = "exception-review-overdue"


def overdue_reviews(
    design: Design, *, now: datetime, expired: frozenset[str] = frozenset()
) -> tuple[DesignException, ...]:
    """The exceptions past their review date at ``now`` and still in force (not
    expired, by date or early: ``expired``)."""
    return tuple(
        e for e in design.exceptions
        if e.review <= now < e.expires and e.id not in expired
    )  # fmt: skip
