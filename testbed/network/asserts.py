"""Assertions over flows, for notebooks and tests (pybatfish's ``assert_flows_*``).

Each passes silently (returning True) or raises :class:`FlowAssertionError` carrying
the counter-example rows (``soft=True``: warn and return False instead).  An intent
holds when its search for counter-examples comes back empty.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from datetime import datetime

import pandas as pd

from testbed.network.catalog import Catalog, EndpointKind, load_catalog
from testbed.network.reach import DesignLike, HospitalLike, flows

__all__ = [
    "CRITICAL",
    "FlowAssertionError",
    "assert_flows_fail",
    "assert_flows_succeed",
    "assert_no_exposure",
    "exposure",
]

CRITICAL = (EndpointKind.CA, EndpointKind.IDP, EndpointKind.EHR, EndpointKind.PACS)
"""The assets whose exposure matters most: the identity fabric and the clinical systems."""

_SHOWN = 20  # counter-example rows in a message


class FlowAssertionError(AssertionError):
    """An intent does not hold; ``rows`` are the counter-example flows."""

    def __init__(self, message: str, rows: pd.DataFrame) -> None:
        self.rows = rows
        columns = ["Flow", "Service", "Disposition", "Rule", "Detail"]
        shown = rows[[c for c in columns if c in rows.columns]].head(_SHOWN)
        more = f"\n... and {len(rows) - _SHOWN} more" if len(rows) > _SHOWN else ""
        super().__init__(f"{message}: {len(rows)} counter-example flow(s)\n"
                         f"{shown.to_string(index=False)}{more}")  # fmt: skip


def _verdict(message: str, rows: pd.DataFrame, *, soft: bool) -> bool:
    if rows.empty:
        return True
    error = FlowAssertionError(message, rows.reset_index(drop=True))
    if soft:
        warnings.warn(str(error), stacklevel=3)
        return False
    raise error


def assert_flows_succeed(table: pd.DataFrame, *, soft: bool = False) -> bool:
    """Every flow of ``table`` (a :func:`~testbed.network.flows` answer) is accepted."""
    failed = table[table["Disposition"] != "ACCEPTED"]
    return _verdict("flows expected to succeed do not", failed, soft=soft)


def assert_flows_fail(table: pd.DataFrame, *, soft: bool = False) -> bool:
    """No flow of ``table`` is accepted."""
    accepted = table[table["Disposition"] == "ACCEPTED"]
    return _verdict("flows expected to fail are accepted", accepted, soft=soft)


def exposure(
    design: DesignLike,
    hospital: HospitalLike,
    *,
    critical: Iterable[EndpointKind | str] = CRITICAL,
    at: datetime | None = None,
    catalog: Catalog | None = None,
) -> pd.DataFrame:
    """The accepted flows from devices to a critical asset (by kind, or endpoint id)
    on anything but that asset's API (the catalog's ``api``: EST for the CA, the
    token endpoint for the IdP, FHIR for the EHR, DICOM over TLS for the PACS)."""
    chosen = {str(c) for c in critical}
    catalog = catalog or load_catalog()
    table = flows(
        design, hospital, at=at, catalog=catalog,
        sources=lambda e: e.is_device,
        destinations=lambda e: str(e.kind) in chosen or e.id in chosen,
    )  # fmt: skip
    api = {(str(k), s) for k in EndpointKind for s in catalog.api(k)}
    off_api = [(kind, svc) not in api for kind, svc in zip(table["Dst_Kind"], table["Service"],
                                                              strict=True)]  # fmt: skip
    exposed = table[(table["Disposition"] == "ACCEPTED") & pd.Series(off_api, index=table.index,
                                                                     dtype=bool)]  # fmt: skip
    return exposed.reset_index(drop=True)


def assert_no_exposure(
    design: DesignLike,
    hospital: HospitalLike,
    *,
    critical: Iterable[EndpointKind | str] = CRITICAL,
    at: datetime | None = None,
    catalog: Catalog | None = None,
    soft: bool = False,
) -> bool:
    """No device reaches a critical asset off its API (:func:`exposure` is empty)."""
    exposed = exposure(design, hospital, critical=critical, at=at, catalog=catalog)
    return _verdict("devices reach critical assets off their API", exposed, soft=soft)
