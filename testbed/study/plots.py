"""Plots of studies: one bar chart per measure across designs, and a sweep's summary.

Built on :class:`matplotlib.figure.Figure` with an Agg canvas (no pyplot, no global
state); PNG files carry no software or date metadata, so the same study gives the
same bytes.
"""

from __future__ import annotations

import io

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from testbed.study.measures import Measure

__all__ = ["measure_figure", "png_bytes", "sweep_figure"]

_COLOURS = ("#d62728", "#ff7f0e", "#1f77b4", "#9467bd", "#2ca02c", "#8c564b", "#7f7f7f")


def measure_figure(values: pd.Series, measure: Measure) -> Figure:
    """One bar per design (``values``: indexed by design) for one measure."""
    fig = Figure(figsize=(7, 3.2), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    names = [str(n) for n in values.index]
    colours = [_COLOURS[i % len(_COLOURS)] for i in range(len(names))]
    ax.barh(names, [float(v) for v in values], color=colours)
    ax.invert_yaxis()
    ax.set_title(f"{measure.title} ({measure.better} is better)", fontsize=10)
    ax.tick_params(labelsize=8)
    for i, v in enumerate(values):
        ax.annotate(f"{float(v):g}", (float(v), i), xytext=(3, 0), textcoords="offset points",
                    va="center", fontsize=8)  # fmt: skip
    return fig


def sweep_figure(table: pd.DataFrame, measures: tuple[Measure, ...]) -> Figure:
    """Per measure, the mean over seeds of each (design, fault set), as grouped bars."""
    fig = Figure(figsize=(9, 2.6 * len(measures)), layout="constrained")
    FigureCanvasAgg(fig)
    designs = list(dict.fromkeys(table["design"]))
    faults = list(dict.fromkeys(table["faults"]))
    width = 0.8 / max(len(faults), 1)
    for row, measure in enumerate(measures, start=1):
        ax = fig.add_subplot(len(measures), 1, row)
        means = table.groupby(["design", "faults"], sort=False)[measure.name].mean()
        for j, fault in enumerate(faults):
            heights = [float(means.get((d, fault), 0.0)) for d in designs]
            positions = [i + j * width for i in range(len(designs))]
            ax.bar(positions, heights, width, label=fault, color=_COLOURS[j % len(_COLOURS)])
        ax.set_xticks([i + 0.4 - width / 2 for i in range(len(designs))], designs, fontsize=7)
        ax.set_title(f"{measure.title}: mean over seeds", fontsize=9)
        ax.legend(fontsize=7, title="faults", title_fontsize=7)
    return fig


def png_bytes(fig: Figure) -> bytes:
    """The figure as PNG bytes without metadata."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    return buffer.getvalue()
