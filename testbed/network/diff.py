"""Differential reachability: the flows two designs decide differently, and why.

Batfish's ``differentialReachability`` compares a *reference* snapshot with a
*snapshot*; here the reference is ``design_a`` and the snapshot ``design_b``, asked
about the same hospital at the same time.  An empty table means the two designs
decide every flow alike.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from testbed.network.catalog import Catalog
from testbed.network.reach import DesignLike, HospitalLike, flows

__all__ = ["DIFF_COLUMNS", "differential"]

_KEY = ["Flow", "Src", "Src_Group", "Dst", "Dst_Group", "Service", "IP_Protocol", "Dst_Port"]
_SIDE = ["Disposition", "Rule", "Detail"]
DIFF_COLUMNS = (*_KEY, *(f"Reference_{c}" for c in _SIDE), *(f"Snapshot_{c}" for c in _SIDE))


def differential(
    design_a: DesignLike,
    design_b: DesignLike,
    hospital: HospitalLike,
    *,
    at: datetime | None = None,
    catalog: Catalog | None = None,
) -> pd.DataFrame:
    """The flows whose disposition differs between ``design_a`` (reference) and
    ``design_b`` (snapshot), with each side's disposition, rule and reason."""
    a = flows(design_a, hospital, at=at, catalog=catalog)
    b = flows(design_b, hospital, at=at, catalog=catalog)
    keys = ["Flow", "Service"]
    merged = a.merge(b, on=keys, suffixes=("_a", "_b"), validate="one_to_one")
    changed = merged[merged["Disposition_a"] != merged["Disposition_b"]]
    out = pd.DataFrame({
        "Flow": changed["Flow"],
        "Src": changed["Src_a"],
        "Src_Group": changed["Src_Group_b"],
        "Dst": changed["Dst_a"],
        "Dst_Group": changed["Dst_Group_b"],
        "Service": changed["Service"],
        "IP_Protocol": changed["IP_Protocol_a"],
        "Dst_Port": changed["Dst_Port_a"],
        **{f"Reference_{c}": changed[f"{c}_a"] for c in _SIDE},
        **{f"Snapshot_{c}": changed[f"{c}_b"] for c in _SIDE},
    })  # fmt: skip
    return out.reset_index(drop=True)[list(DIFF_COLUMNS)]
