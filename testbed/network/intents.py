"""Policy size and the exceptions register (seed §5: document, expire, review).

:func:`policy_size` counts what an auditor counts: groups, rules, *any/any* cells
(rules on ``any`` service, plus one per group when a group is one segment: a VLAN
lets its members reach each other on every port), and exceptions open, overdue for
review and expired.  :func:`exception_register` lists the exceptions with their
owner, reason, dates and status at a time.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from testbed.network.design import ANY, Segmentation
from testbed.network.reach import DesignLike, as_design

__all__ = ["REGISTER_COLUMNS", "exception_register", "policy_size"]

REGISTER_COLUMNS = (
    "Id", "From", "To", "Service", "Identity", "Owner", "Reason", "Expires", "Review",
    "Status", "Review_Overdue",
)  # fmt: skip


def exception_register(design: DesignLike, *, at: datetime) -> pd.DataFrame:
    """Each exception with its status at ``at``: ``open`` or ``expired``, and whether
    its review is overdue (the review date has passed while it is open)."""
    spec = as_design(design)
    rows = [
        (e.id, e.source, e.to, e.service, str(e.identity), e.owner, e.reason, e.expires,
         e.review, "open" if at < e.expires else "expired", at < e.expires and e.review <= at)
        for e in spec.exceptions
    ]  # fmt: skip
    return pd.DataFrame.from_records(rows, columns=list(REGISTER_COLUMNS))


def policy_size(design: DesignLike, *, at: datetime) -> pd.DataFrame:
    """One row: the design's size at ``at``."""
    spec = as_design(design)
    register = exception_register(spec, at=at)
    any_rules = sum(1 for r in spec.rules if r.service == ANY)
    segments = len(spec.groups) if spec.segmentation is Segmentation.GROUP else 0
    open_ = register["Status"] == "open"
    row = {
        "Design": spec.name,
        "Groups": len(spec.groups),
        "Rules": len(spec.rules),
        "Any_Any_Cells": any_rules + segments,
        "Exceptions": len(spec.exceptions),
        "Exceptions_Open": int(open_.sum()),
        "Exceptions_Overdue": int(register["Review_Overdue"].sum()),
        "Exceptions_Expired": int((~open_).sum()),
    }
    return pd.DataFrame([row])
