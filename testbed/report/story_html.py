"""The story sections of the HTML report: what each fault did, the incidents, breakdowns.

Renders what :mod:`testbed.report.story` put in ``report.json`` (so a report read back
from its JSON shows the same), with the tables and cells of :mod:`testbed.report.html`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from testbed.report.story import BREAKDOWNS, DEVICE_MEASURES, NO_EFFECT

__all__ = ["story_sections"]

Cell = str | tuple[str, str]
Table = Callable[[Sequence[str], Sequence[Sequence[Cell]]], str]
Section = Callable[[str, str], str]

_TITLES = {"site": "site", "zone": "zone", "profile": "profile", "group": "group",
           "ca": "issuing CA"}  # fmt: skip


def story_sections(data: Mapping[str, Any], *, table: Table, section: Section) -> list[str]:
    """The sections, in reading order (nothing for a report without them)."""
    out = []
    if "fault_effects" in data:
        out.append(section("What each fault did", _effects(data["fault_effects"], table)))
    if "incidents" in data:
        out.append(section("Incidents", _incidents(data["incidents"], table)))
    for by in BREAKDOWNS:
        rows = (data.get("breakdowns") or {}).get(by)
        if rows:
            out.append(section(f"By {_TITLES[by]}", _breakdown(by, rows, table)))
    return out


def minutes_text(minutes: float) -> str:
    """``6,565 min (4.6 days)``: minutes, and the same in hours or days when long."""
    text = f"{minutes:,.0f} min" if float(minutes).is_integer() else f"{minutes:,.1f} min"
    if minutes >= 2 * 24 * 60:
        return f"{text} ({minutes / 1440:.1f} days)"
    if minutes >= 120:
        return f"{text} ({minutes / 60:.1f} h)"
    return text


def when(iso: str | None) -> str:
    """``2026-02-04T00:00:00Z`` -> ``2026-02-04 00:00`` (UTC, as every time here)."""
    if not iso:
        return ""
    return iso.replace("T", " ").removesuffix("Z").removesuffix(":00")


def _count(value: object) -> Cell:
    return (f"{value:,}" if isinstance(value, int) else str(value), "num")


def _effects(rows: Sequence[Mapping[str, Any]], table: Table) -> str:
    cells: list[tuple[Cell, ...]] = []
    for r in rows:
        incidents = ", ".join(f"{k} {v}" for k, v in r["incidents"].items()) or "none"
        effect: Cell = (NO_EFFECT, "muted") if r["effect"] == NO_EFFECT else \
            ", ".join(r["devices"][:4]) + (" …" if len(r["devices"]) > 4 else "")  # fmt: skip
        cells.append((
            str(r["kind"]), str(r["target"]), f"{when(r['start'])} to {when(r['end'])}",
            _count(r["devices_hit"]), effect, _count(r["denials"]),
            (minutes_text(r["downtime_minutes"]), "num"), incidents, _count(r["data_lost"]),
            _count(r["renewals_missed"]), _count(r["unauthorized_access"]),
        ))  # fmt: skip
    return table(("fault", "target", "window (UTC)", "devices hit", "which", "refusals",
                  "downtime",
                  "incidents", "data lost", "renewals missed", "unauthorized"), cells)  # fmt: skip


def _incidents(rows: Sequence[Mapping[str, Any]], table: Table) -> str:
    cells: list[tuple[Cell, ...]] = []
    for r in rows:
        closed = "open at the end" if r["open_at_end"] else (when(r["closed"]) or "open")
        minutes = "" if r["minutes"] is None else minutes_text(r["minutes"])
        cells.append((
            str(r["device"]), str(r["site"] or ""), str(r["category"]), str(r["reason"]),
            when(r["opened"]), closed, (minutes, "num"),
            ", ".join(r["faults"]) or ("no injected fault", "muted"),
            str(r["playbook"]),
        ))  # fmt: skip
    return table(("device", "site", "category", "reason", "opened (UTC)", "closed", "lasted",
                  "fault", "playbook step"), cells)  # fmt: skip


def _breakdown(by: str, rows: Sequence[Mapping[str, Any]], table: Table) -> str:
    cells: list[tuple[Cell, ...]] = []
    for r in rows:
        top = "; ".join(f"{m}: {', '.join(devices)}" for m, devices in r["top"].items())
        values = [
            (minutes_text(r[m]), "num") if m == "downtime_minutes" else _count(r[m])
            for m in DEVICE_MEASURES
        ]
        cells.append((str(r[by]), _count(r["devices"]), *values, (top or "none", "muted")))
    headers = (_TITLES[by], "devices", *[m.replace("_", " ") for m in DEVICE_MEASURES],
               "top contributors")  # fmt: skip
    return table(headers, cells)
