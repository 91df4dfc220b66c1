"""Plots of a run: certificate lifecycles per device group, denied traffic by reason.

Each plot has a title, and a :class:`Plot` carries the text that says what it shows
(the HTML page's alt text).  Faults are drawn over the rows they hit
(:mod:`testbed.report.bands`), a fault too short to see is widened and labelled with
its real length, the recovery window after the scenario's end is shaded, and
cumulative lines run to the end of the run.

Figures are built on :class:`matplotlib.figure.Figure` with an Agg canvas: no pyplot,
no global figure state.  :func:`svg_text` renders a figure as SVG with a fixed hash
salt and no date, so the same run gives byte-identical ``report.html`` files.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import matplotlib
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator

from testbed.events import Event, EventKind
from testbed.report.bands import Band, fault_bands
from testbed.report.hover import FaultWindows, denial_text, fault_text, named, when
from testbed.report.needs import LIFECYCLE, REBOOTSTRAP, REFUSED_TRAFFIC, REVOKE_STEP
from testbed.report.tooltips import Tooltips
from testbed.units import format_duration

if TYPE_CHECKING:
    from testbed.report.record import RunRecord

__all__ = [
    "RASTER_MARKS",
    "LifecycleMark",
    "Mark",
    "Plot",
    "availability",
    "availability_plot",
    "certificate_timeline",
    "denied_traffic",
    "lifecycle_marks",
    "lifecycle_plot",
    "svg_text",
    "unavailability_plot",
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
    OFFBOARDED = "offboarded"
    REBOOTSTRAPPED = "re-bootstrapped"


#: Marker, colour and vertical offset within the group's row, per mark.
_MARK_STYLE: dict[Mark, tuple[str, str, float]] = {
    Mark.ISSUED: ("o", "#1f77b4", 0.35),
    Mark.RENEWED: ("^", "#2ca02c", 0.21),
    Mark.EXPIRED: ("x", "#d62728", 0.07),
    Mark.REVOKED: ("s", "#000000", -0.07),
    Mark.OFFBOARDED: ("D", "#6a3d9a", -0.21),
    Mark.REBOOTSTRAPPED: ("P", "#e6550d", -0.35),
}
_RECOVERY_COLOUR = "#4d4d4d"


@dataclass(frozen=True, slots=True)
class Plot:
    """A figure, its title, what it shows in words (alt text) and its hover texts."""

    figure: Figure
    title: str
    alt: str
    tooltips: Tooltips = field(default_factory=Tooltips)

_EVENT_MARKS = {
    EventKind.CERTIFICATE_ISSUED: Mark.ISSUED,
    EventKind.CERTIFICATE_RENEWED: Mark.RENEWED,
    EventKind.CERTIFICATE_EXPIRED: Mark.EXPIRED,
}


@dataclass(frozen=True, slots=True, order=True)
class LifecycleMark:
    """One point on the certificate timeline; ``detail``: what it was and why, or for a
    certificate's issuance, renewal or expiry its ``serial`` (the event's own text, not
    copied: a 100k-device year has millions of marks); :attr:`what` reads either."""

    time: datetime
    group: str
    mark: Mark
    device_id: str
    detail: str = ""
    serial: str = ""

    @property
    def what(self) -> str:
        """What it was and why (hover text), empty if nothing more is known."""
        if self.detail:
            return self.detail
        return f"certificate {self.serial}" if self.serial else ""


def lifecycle_marks(record: RunRecord) -> list[LifecycleMark]:
    """Issued, renewed, expired and revoked device certificates, offboardings and
    re-bootstraps, by time.

    Revocations are the ``certificate-revoked`` events and the serials an offboarding
    revoked; the pre-production test certificates' are not among them (they belong to
    the failure tests, not to the device's lifecycle).  An offboarding is marked at its
    first step, a re-bootstrap when the operator gave the device a new secret (its
    reason: the device's last expiry or revocation before it).  Only those events are
    read.
    """
    groups = dict(record.groups)
    marks: list[LifecycleMark] = []
    for event in record.events.select(*LIFECYCLE):
        device = event.subject
        group = groups.get(device, device)
        if event.kind in _EVENT_MARKS:
            marks.append(_event_mark(event, groups))
        elif REBOOTSTRAP.accepts(event):
            marks.append(LifecycleMark(event.time, group, Mark.REBOOTSTRAPPED, device))
        else:
            revoked = _revocation_marks(event, groups)
            marks.extend(revoked)
            if event.data.get("step") == REVOKE_STEP:
                detail = (f"offboarded: {len(revoked):,} certificate(s) revoked (cessation of "
                          "operation), network access removed, asset retired")  # fmt: skip
                marks.append(LifecycleMark(event.time, group, Mark.OFFBOARDED, device, detail))
    marks.sort()
    _rebootstrap_reasons(marks)
    return marks


def _rebootstrap_reasons(marks: list[LifecycleMark]) -> None:
    """Each re-bootstrap given its reason, in place: the device's last expiry or
    revocation (marks sorted by time)."""
    last: dict[str, LifecycleMark] = {}
    for index, mark in enumerate(marks):
        if mark.mark in (Mark.EXPIRED, Mark.REVOKED):
            last[mark.device_id] = mark
        elif mark.mark is Mark.REBOOTSTRAPPED:
            cause = last.pop(mark.device_id, None)
            why = ("no expiry or revocation of its certificate before it in this run"
                   if cause is None else
                   f"its certificate {'expired' if cause.mark is Mark.EXPIRED else 'was revoked'}"
                   f" {when(cause.time)}")  # fmt: skip
            marks[index] = LifecycleMark(mark.time, mark.group, mark.mark, mark.device_id,
                                         f"re-bootstrapped by an operator: {why}")  # fmt: skip


def _event_mark(event: Event, groups: dict[str, str]) -> LifecycleMark:
    group = groups.get(event.subject, event.subject)
    # an expiry is drawn when it happened (notAfter), not when the device noticed it
    when = event.data.get("not_after") if event.kind is EventKind.CERTIFICATE_EXPIRED else None
    time = datetime.fromisoformat(when.replace("Z", "+00:00")) if isinstance(when, str) else None
    serial = event.data.get("serial")
    return LifecycleMark(time or event.time, group, _EVENT_MARKS[event.kind], event.subject,
                         serial="" if not serial else serial if isinstance(serial, str)
                         else str(serial))  # fmt: skip


def _revocation_marks(event: Event, groups: dict[str, str]) -> list[LifecycleMark]:
    device = event.subject
    if event.kind is EventKind.CERTIFICATE_REVOKED:
        count = 1
        why = event.data.get("why") or event.data.get("reason") or "not given"
        detail = f"certificate {event.data.get('serial')} revoked: {why}"
    else:  # the offboarding's step that revoked its serials
        count = len([s for s in str(event.data.get("serials") or "").split(",") if s])
        detail = "revoked at offboarding (cessation of operation)"
    mark = LifecycleMark(event.time, groups.get(device, device), Mark.REVOKED, device, detail)
    return [mark] * count


def denied_traffic(record: RunRecord) -> dict[str, list[datetime]]:
    """Times of denied clinical-traffic decisions, by reason (sorted by reason)."""
    return {reason: [e.time for e in events] for reason, events in _denials(record).items()}


def _denials(record: RunRecord) -> dict[str, list[Event]]:
    out: dict[str, list[Event]] = {}
    for event in record.events.select(*REFUSED_TRAFFIC):
        out.setdefault(str(event.data.get("reason")), []).append(event)
    return dict(sorted(out.items()))


def certificate_timeline(
    record: RunRecord, effects: Sequence[Mapping[str, Any]] | None = None
) -> Figure:
    """Certificate lifecycle per device group, over scenario time, with fault windows."""
    return lifecycle_plot(record, effects).figure


def lifecycle_plot(
    record: RunRecord, effects: Sequence[Mapping[str, Any]] | None = None
) -> Plot:
    """The certificate lifecycle plot: a row per device group, each mark of
    :class:`Mark` at its time, each fault shaded over the rows it hit (``effects``:
    the run's fault effects, :func:`~testbed.report.story.fault_effects`; computed if
    not given), the recovery window shaded."""
    groups = _groups(record)
    rows = {g: i for i, g in enumerate(groups)}
    effects = _effects(record, effects)
    bands = fault_bands(record, effects, rows)
    tips = Tooltips()
    # tall enough for the rows, and for the legend beside them (its marks and each
    # kind of fault: a small fleet under many faults would collapse the axes)
    entries = len(Mark) + len({band.kind for band in bands}) + 1
    fig, ax = _figure(height=max(1.2 + 0.45 * len(groups), 0.8 + 0.2 * entries))
    _time_axis(ax, record)
    _recovery_window(ax, record)
    _row_bands(ax, bands, len(groups), tips, effects)
    marks = lifecycle_marks(record)
    windows = FaultWindows(effects)
    for mark in Mark:
        _plot_marks(ax, record, [m for m in marks if m.mark is mark], mark, groups, tips, windows)
    ax.set_yticks(range(len(groups)), groups)
    ax.set_ylim(-0.6, len(groups) - 0.4)
    ax.invert_yaxis()
    title = "Certificate lifecycle by device group"
    ax.set_title(title)
    _legend(ax)
    return Plot(fig, title, _lifecycle_alt(record, groups, marks, bands), tips)


def availability(
    record: RunRecord, effects: Sequence[Mapping[str, Any]] | None = None
) -> Figure:
    """Cumulative denied clinical-traffic decisions over scenario time, by reason."""
    return availability_plot(record, effects).figure


def availability_plot(
    record: RunRecord, effects: Sequence[Mapping[str, Any]] | None = None
) -> Plot:
    """The denied-traffic plot: a cumulative line per reason from the run's start to
    its end, the faults (whole height: the lines are the hospital's) and the recovery
    window shaded."""
    fig, ax = _figure(height=3.2)
    _time_axis(ax, record)
    _recovery_window(ax, record)
    effects, tips = _effects(record, effects), Tooltips()
    _row_bands(ax, fault_bands(record, effects, {}), 0, tips, effects)
    denials = _denials(record)
    windows = FaultWindows(effects)
    denied = {reason: [e.time for e in events] for reason, events in denials.items()}
    end = record.span / _DAY
    for n, (reason, events) in enumerate(denials.items()):
        days = [0.0, *_days(record, denied[reason]), end]
        counts = [0, *range(1, len(events) + 1), len(events)]
        (line,) = ax.step(days, counts, where="post", label=reason, gid=f"denied-{n}")
        devices = list(dict.fromkeys(e.subject for e in events))
        tips.on(f"denied-{n}", f"{reason}: {len(events):,} denied deliveries, "
                f"{len(devices):,} devices: {named(devices)}")  # fmt: skip
        _denial_points(ax, days[1:-1], counts[1:-1], to_hex(line.get_color()), f"denied-{n}-points")
        tips.each(f"denied-{n}-points", events, lambda e: denial_text(e, windows))
    if not denied:
        ax.text(0.5, 0.5, "no denied traffic", transform=ax.transAxes, ha="center")
    ax.set_ylabel("denied decisions (cumulative)")
    ax.set_ylim(bottom=0)
    title = "Denied clinical traffic by reason"
    ax.set_title(title)
    _legend(ax)
    return Plot(fig, title, _availability_alt(record, denied), tips)


def _denial_points(ax: Axes, days: list[float], counts: list[int], colour: str,
                   gid: str) -> None:  # fmt: skip
    """A small dot per denial on its reason's line (for its hover text); above
    :data:`~testbed.report.tooltips.MAX_POINTS` none (the line says enough)."""
    from testbed.report.tooltips import MAX_POINTS

    if len(days) > MAX_POINTS:
        return
    ax.plot(days, counts, linestyle="none", marker="o", markersize=2.5, color=colour,
            label="_nolegend_", gid=gid)  # fmt: skip


def unavailability_plot(
    record: RunRecord, effects: Sequence[Mapping[str, Any]] | None = None
) -> Plot:
    """Devices unavailable over time, a line per site: at each moment, how many of the
    site's devices are in an outage (the union of their incidents, as the downtime
    measure counts them), with the faults and the recovery window shaded."""
    from testbed.report.story import device_attributes, outages

    fig, ax = _figure(height=3.2)
    _time_axis(ax, record)
    _recovery_window(ax, record)
    effects, tips = _effects(record, effects), Tooltips()
    _row_bands(ax, fault_bands(record, effects, {}), 0, tips, effects)
    sites = {d: a["site"] for d, a in device_attributes(record).items()}
    steps: dict[str, list[tuple[datetime, int]]] = {}
    down: dict[str, list[str]] = {}
    for device, spans in outages(record.incidents).items():
        site = sites.get(device, "(unknown site)")
        down.setdefault(site, []).append(device)
        for start, end in spans:
            steps.setdefault(site, []).extend([(start, 1), (end, -1)])
    last = record.span / _DAY
    peaks: dict[str, int] = {}
    for site, changes in sorted(steps.items()):
        days, counts, now = [0.0], [0], 0
        for time, change in sorted(changes):
            now += change
            days.append((time - record.start) / _DAY)
            counts.append(now)
        days.append(last)
        counts.append(now)
        peaks[site] = max(counts)
        gid = f"site-{len(peaks)}"
        ax.step(days, counts, where="post", label=f"site {site}", gid=gid)
        tips.on(gid, f"site {site}: at most {peaks[site]:,} devices unavailable at once; "
                f"{len(down[site]):,} devices had an outage: {named(down[site])}")  # fmt: skip
    if not steps:
        ax.text(0.5, 0.5, "no device was unavailable", transform=ax.transAxes, ha="center")
    ax.set_ylabel("devices unavailable")
    ax.set_ylim(bottom=0)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    title = "Devices unavailable by site"
    ax.set_title(title)
    _legend(ax)
    told = ", ".join(f"{site} at most {n:,}" for site, n in peaks.items())
    alt = (f"Devices unavailable over {_length(record)}, a line per site: {told}."
           if peaks else f"No device was unavailable over {_length(record)}.")  # fmt: skip
    return Plot(fig, title, alt + _recovery_alt(record), tips)


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


def _effects(
    record: RunRecord, effects: Sequence[Mapping[str, Any]] | None
) -> Sequence[Mapping[str, Any]]:
    if effects is not None:
        return effects
    from testbed.report.story import fault_effects  # the story reads the plots' record

    return fault_effects(record)


def _recovery_window(ax: Axes, record: RunRecord) -> None:
    """The simulation's recovery window: from the scenario's end to the run's end."""
    if record.window is not None:
        return  # a live run has no scenario end
    end = record.scenario.duration / _DAY
    ax.axvspan(end, record.span / _DAY, facecolor=_RECOVERY_COLOUR, alpha=0.08,
               edgecolor="none", label="recovery window")  # fmt: skip
    ax.axvline(end, color=_RECOVERY_COLOUR, linewidth=0.8, linestyle=":")


def _row_bands(ax: Axes, bands: Sequence[Band], rows: int, tips: Tooltips,
               effects: Sequence[Mapping[str, Any]]) -> None:  # fmt: skip
    """Each fault over the rows it hit (``rows`` 0: a plot without rows, whole height);
    one that hit no row as a dashed outline; a widened one hatched, with its length.
    Each band's hover text names the fault, its time and the devices it hit."""
    colours: dict[str, str] = {}
    for n, (band, effect) in enumerate(zip(bands, effects, strict=True)):
        first = band.kind not in colours
        colour = colours.setdefault(band.kind, _FAULT_COLOURS[len(colours) % len(_FAULT_COLOURS)])
        label = f"fault: {band.kind}" if first else "_nolegend_"
        width = band.end - band.start
        hatch = "////" if band.widened else None
        if rows == 0 or not band.rows:
            hit = rows == 0
            ax.axvspan(band.start, band.end, facecolor=colour if hit else "none",
                       edgecolor=colour, alpha=0.15 if hit else 0.6, linewidth=0.8,
                       linestyle="-" if hit else "--", hatch=hatch, label=label,
                       gid=f"fault-{n}-{'all' if hit else 'outline'}")  # fmt: skip
            tips.on(f"fault-{n}-{'all' if hit else 'outline'}", fault_text(effect))
        else:
            for i, row in enumerate(band.rows):
                shown, gid = label if i == 0 else "_nolegend_", f"fault-{n}-row-{row}"
                ax.add_patch(Rectangle((band.start, row - 0.5), width, 1.0, facecolor=colour,
                                       edgecolor=colour, alpha=0.2, linewidth=0.8,
                                       hatch=hatch, label=shown, gid=gid))  # fmt: skip
                tips.on(gid, fault_text(effect))
        if band.widened:
            ax.annotate(band.label, (band.end, 1.0), xycoords=("data", "axes fraction"),
                        xytext=(1, -2), textcoords="offset points", fontsize="x-small",
                        color=colour, va="top", ha="left")  # fmt: skip


def _lifecycle_alt(
    record: RunRecord, groups: Sequence[str], marks: Sequence[LifecycleMark],
    bands: Sequence[Band],
) -> str:  # fmt: skip
    counts = {mark: sum(1 for m in marks if m.mark is mark) for mark in Mark}
    told = ", ".join(f"{n:,} {mark.value}" for mark, n in counts.items() if n)
    text = (f"Timeline of {len(groups)} device groups (one row each) over "
            f"{_length(record)}: {told or 'no certificate events'}.")  # fmt: skip
    return text + _faults_alt(bands, groups) + _recovery_alt(record)


def _availability_alt(record: RunRecord, denied: Mapping[str, list[datetime]]) -> str:
    if not denied:
        return f"No clinical traffic was denied over {_length(record)}." + _recovery_alt(record)
    told = ", ".join(f"{reason} {len(times):,}" for reason, times in denied.items())
    total = sum(len(times) for times in denied.values())
    return (f"Cumulative denied clinical-traffic decisions over {_length(record)}, one "
            f"line per reason: {total:,} in all ({told}); faults shaded."
            + _recovery_alt(record))  # fmt: skip


def _faults_alt(bands: Sequence[Band], groups: Sequence[str]) -> str:
    if not bands:
        return " No faults were injected."
    parts = []
    for band in bands:
        where = ", ".join(groups[r] for r in band.rows) if band.rows else "no device seen hit"
        widened = ", widened to be seen" if band.widened else ""
        parts.append(f"{band.kind} {band.target} ({band.label}{widened}; shaded on: {where})")
    return " Faults: " + "; ".join(parts) + "."


def _recovery_alt(record: RunRecord) -> str:
    if record.window is not None:
        return ""
    return (f" The last {format_duration(record.scenario.recovery_window)} are the "
            "recovery window.")  # fmt: skip


def _length(record: RunRecord) -> str:
    return format_duration(record.span)


def _plot_marks(
    ax: Axes, record: RunRecord, marks: list[LifecycleMark], mark: Mark, groups: list[str],
    tips: Tooltips, windows: FaultWindows,
) -> None:  # fmt: skip
    """The marks of one kind, each with its hover text (device, group, time, what
    and why, the faults it happened under)."""
    symbol, colour, offset = _MARK_STYLE[mark]
    rows = {g: i for i, g in enumerate(groups)}
    marks = [m for m in marks if m.group in rows]
    ys = [rows[m.group] - offset for m in marks]
    days = _days(record, (m.time for m in marks))
    gid = f"marks-{mark.name.lower()}"
    # tens of thousands of vector markers make a page of hundreds of MB: drawn as an
    # image above that (the axes, labels and legend stay vector)
    ax.plot(days, ys, linestyle="none", marker=symbol, color=colour, markersize=5,
            label=mark.value, rasterized=len(marks) > RASTER_MARKS, gid=gid)  # fmt: skip
    tips.on(gid, f"{mark.value}: {len(marks):,}")
    tips.each(gid, marks, lambda m: f"{m.device_id} ({m.group}): {m.mark.value} "
              f"{when(m.time)}" + (f"; {m.what}" if m.what else "")
              + windows.during(m.device_id, m.time))  # fmt: skip


def _legend(ax: Axes) -> None:
    handles, _ = ax.get_legend_handles_labels()
    if not handles:
        return  # nothing happened worth a legend (matplotlib would warn)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", frameon=False)
