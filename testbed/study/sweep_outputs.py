"""A sweep's files: ``sweep.csv`` (one row per run) and ``sweep.png`` (a summary plot:
per measure, the mean over seeds of each design and fault set)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from testbed.errors import OutputError
from testbed.study.measures import MEASURES
from testbed.study.plots import png_bytes, sweep_figure

__all__ = ["SUMMARY", "write_sweep"]

SUMMARY = ("bre_k", "clinical_downtime_minutes", "unauthorized_access", "data_lost")
"""The measures the summary plot shows."""


def write_sweep(table: pd.DataFrame, out: Path) -> dict[str, Path]:
    """Write ``sweep.csv`` and ``sweep.png`` into ``out`` (a writable directory)."""
    paths = {"sweep.csv": out / "sweep.csv", "sweep.png": out / "sweep.png"}
    shown = tuple(m for m in MEASURES if m.name in SUMMARY)
    try:
        table.to_csv(paths["sweep.csv"], index=False, lineterminator="\n")
        paths["sweep.png"].write_bytes(png_bytes(sweep_figure(table, shown)))
    except OSError as error:
        reason = error.strerror or str(error)
        raise OutputError(f"{out}: the sweep could not be written ({reason})") from None
    return paths
