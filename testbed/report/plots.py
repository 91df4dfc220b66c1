"""Plots of a run: certificate lifecycles per device group, denied traffic by reason.

Figures are built on :class:`matplotlib.figure.Figure` with an Agg canvas: no pyplot,
no global figure state.  :func:`svg_text` renders a figure as SVG with a fixed hash
salt and no date, so the same run gives byte-identical ``report.html`` files.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

import matplotlib
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from testbed.events import Event, EventKind
from testbed.report.needs import LIFECYCLE, REFUSED_TRAFFIC

if TYPE_CHECKING:
    from testbed.report.record import RunRecord

__all__ = [
    "RASTER_MARKS",
    "LifecycleMark",
    "Mark",
    "availability",
    "certificate_timeline",
    "denied_traffic",
    "lifecycle_marks",
    "svg_text",
]


_SVG_SALT = "hospital-device-identity-testbed"
_DAY = timedelta(days=1)
RASTER_MARKS = 20_000
"""Above this many marks of one kind, the lifecycle plot draws them as an image."""
_MINUTE = timedelta(minutes=1)
_TICK_STEPS = (1, 2, 7, 14, 28, 91, 182, 364)
_FAULT_COLOURS = ("#d62728", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22")


class Mark(StrEnum):
    """What happened to a certificate, as drawn on the timeline."""

    ISSUED = "issued"
    RENEWED = "renewed"
    EXPIRED = "expired"
    REVOKED = "revoked"


#: Marker, colour and vertical offset within the group's row, per mark.
_MARK_STYLE: dict[Mark, tuple[str, str, float]] = {
    Mark.ISSUED: ("o", "#1f77b4", 0.24),
    Mark.RENEWED: ("^", "#2ca02c", 0.08),
    Mark.EXPIRED: ("x", "#d62728", -0.08),
    Mark.REVOKED: ("s", "#000000", -0.24),
}

_EVENT_MARKS = {
    EventKind.CERTIFICATE_ISSUED: Mark.ISSUED,
    EventKind.CERTIFICATE_RENEWED: Mark.RENEWED,
    EventKind.CERTIFICATE_EXPIRED: Mark.EXPIRED,
}


@dataclass(frozen=True, slots=True, order=True)
class LifecycleMark:
    """One point on the certificate timeline."""

    time: datetime
    group: str
    mark: Mark
    device_id: str


def lifecycle_marks(record: RunRecord) -> list[LifecycleMark]:
    """Issued, renewed, expired and revoked device certificates, by time.

    Revocations are the ``certificate-revoked`` events and the serials an offboarding
    revoked; the pre-production test certificates' are not among them (they belong to
    the failure tests, not to the device's lifecycle).  Only those events are read.
    """
    groups = dict(record.groups)
    marks: list[LifecycleMark] = []
    for event in record.events.select(*LIFECYCLE):
        if event.kind in _EVENT_MARKS:
            marks.append(_event_mark(event, groups))
        else:
            marks.extend(_revocation_marks(event, groups))
    return sorted(marks)


def _event_mark(event: Event, groups: dict[str, str]) -> LifecycleMark:
    group = groups.get(event.subject, event.subject)
    # an expiry is drawn when it happened (notAfter), not when the device noticed it
    when = event.data.get("not_after") if event.kind is EventKind.CERTIFICATE_EXPIRED else None
    time = datetime.fromisoformat(when.replace("Z", "+00:00")) if isinstance(when, str) else None
    return LifecycleMark(time or event.time, group, _EVENT_MARKS[event.kind], event.subject)


def _revocation_marks(event: Event, groups: dict[str, str]) -> list[LifecycleMark]:
    device = event.subject
    if event.kind is EventKind.CERTIFICATE_REVOKED:
        count = 1
    else:  # the offboarding's step that revoked its serials
        count = len([s for s in str(event.data.get("serials") or "").split(",") if s])
    mark = LifecycleMark(event.time, groups.get(device, device), Mark.REVOKED, device)
    return [mark] * count


def denied_traffic(record: RunRecord) -> dict[str, list[datetime]]:
    """Times of denied clinical-traffic decisions, by reason (sorted by reason)."""
    out: dict[str, list[datetime]] = {}
    for event in record.events.select(REFUSED_TRAFFIC):
        out.setdefault(str(event.data.get("reason")), []).append(event.time)
    return dict(sorted(out.items()))


def certificate_timeline(record: RunRecord) -> Figure:
    """Certificate lifecycle per device group, over scenario time, with fault windows."""
    groups = _groups(record)
    # tall enough for the rows, and for the legend beside them (its marks and each
    # kind of fault: a small fleet under many faults would collapse the axes)
    entries = len(Mark) + len({fault.kind for fault in record.faults})
    fig, ax = _figure(height=max(1.2 + 0.45 * len(groups), 0.8 + 0.2 * entries))
    _time_axis(ax, record)
    _shade_faults(ax, record)
    marks = lifecycle_marks(record)
    for mark in Mark:
        _plot_marks(ax, record, [m for m in marks if m.mark is mark], mark, groups)
    ax.set_yticks(range(len(groups)), groups)
    ax.set_ylim(-0.6, len(groups) - 0.4)
    ax.invert_yaxis()
    ax.set_title("Certificate lifecycle by device group")
    _legend(ax)
    return fig


def availability(record: RunRecord) -> Figure:
    """Cumulative denied clinical-traffic decisions over scenario time, by reason."""
    fig, ax = _figure(height=3.2)
    _time_axis(ax, record)
    _shade_faults(ax, record)
    denied = denied_traffic(record)
    for reason, times in denied.items():
        ax.step(_days(record, times), range(1, len(times) + 1), where="post", label=reason)
    if not denied:
        ax.text(0.5, 0.5, "no denied traffic", transform=ax.transAxes, ha="center")
    ax.set_ylabel("denied decisions (cumulative)")
    ax.set_ylim(bottom=0)
    ax.set_title("Denied clinical traffic by reason")
    _legend(ax)
    return fig


def svg_text(fig: Figure) -> str:
    """The figure as an ``<svg>`` element (no XML prologue), identical for identical figures."""
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": _SVG_SALT, "svg.fonttype": "path"}):
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def _figure(*, height: float) -> tuple[Figure, Axes]:
    fig = Figure(figsize=(10, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def _groups(record: RunRecord) -> list[str]:
    return list(dict.fromkeys(record.groups.values()))


def _time_axis(ax: Axes, record: RunRecord) -> None:
    """Days since the scenario start on x, labelled with their UTC dates."""
    start = record.start
    total = max(record.span, _MINUTE) / _DAY  # a live run of one event still has an axis
    step = next((s for s in _TICK_STEPS if total / s <= 14), _TICK_STEPS[-1])
    ticks = list(range(0, int(total) + 1, step))
    labels = [f"{start + t * _DAY:%Y-%m-%d}" for t in ticks]
    ax.set_xticks(ticks, labels, rotation=30, ha="right")
    ax.set_xlim(-0.01 * total, 1.01 * total)
    ax.set_xlabel("scenario time (UTC)")
    ax.grid(axis="x", alpha=0.3)


def _days(record: RunRecord, times: Iterable[datetime]) -> list[float]:
    return [(t - record.start) / _DAY for t in times]


def _shade_faults(ax: Axes, record: RunRecord) -> None:
    colours: dict[str, str] = {}
    for fault in record.faults:
        first = fault.kind not in colours
        colour = colours.setdefault(fault.kind, _FAULT_COLOURS[len(colours) % len(_FAULT_COLOURS)])
        label = f"fault: {fault.kind}" if first else "_nolegend_"
        ax.axvspan(fault.start / _DAY, fault.end / _DAY, facecolor=colour, edgecolor=colour,
                   alpha=0.15, linewidth=0.8, label=label)


def _plot_marks(
    ax: Axes, record: RunRecord, marks: list[LifecycleMark], mark: Mark, groups: list[str]
) -> None:
    symbol, colour, offset = _MARK_STYLE[mark]
    rows = {g: i for i, g in enumerate(groups)}
    ys = [rows[m.group] - offset if m.group in rows else float("nan") for m in marks]
    days = _days(record, (m.time for m in marks))
    # tens of thousands of vector markers make a page of hundreds of MB: drawn as an
    # image above that (the axes, labels and legend stay vector)
    ax.plot(days, ys, linestyle="none", marker=symbol, color=colour, markersize=5,
            label=mark.value, rasterized=len(marks) > RASTER_MARKS)  # fmt: skip


def _legend(ax: Axes) -> None:
    handles, _ = ax.get_legend_handles_labels()
    if not handles:
        return  # nothing happened worth a legend (matplotlib would warn)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", frameon=False)
