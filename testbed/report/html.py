"""The HTML report: one self-contained page (inline CSS, inline SVG plots with native
``<title>`` hover texts, no scripts).

:func:`summary_html` renders what the :class:`~testbed.report.Report` alone holds (it is
the report's rich display in notebooks); :func:`page_html` wraps it in a page with the
plots of the run; :func:`write_html` writes that page as ``report.html``.  Every text
from the run is escaped, and nothing in the page depends on the wall clock, so the same
scenario and seed give a byte-identical file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from testbed.report.measure_info import MEASURES, reading
from testbed.report.plots import (
    Plot,
    availability_plot,
    lifecycle_plot,
    svg_text,
    unavailability_plot,
)
from testbed.report.story_html import story_sections
from testbed.report.tooltips import attach
from testbed.verdicts import ValidationOutcome, Verdict

if TYPE_CHECKING:
    from testbed.expectations import ExpectationResult
    from testbed.report.build import Report
    from testbed.report.record import RunRecord

__all__ = ["measures_html", "page_html", "summary_html", "write_html"]

#: A table cell: its text, or its text and a CSS class.
Cell = str | tuple[str, str]

_CSS = """
/* cells by two classes: JupyterLab's ":not(.jp-RenderedMarkdown).jp-RenderedHTMLCommon td"
   (right-aligned, no borders) outweighs ".testbed-report td" inside a notebook; two classes
   weigh the same and come later, so the report looks the same there as in report.html */
.testbed-report {
  font-family: system-ui, sans-serif; color: #1a1a1a; background: #fff; max-width: 90rem;
  padding: 0.5rem; line-height: 1.4;
}
.testbed-report h1 { font-size: 1.5rem; margin-bottom: 0.25rem; }
.testbed-report h2 { font-size: 1.15rem; margin-top: 1.5rem; }
.testbed-report table { border-collapse: collapse; margin: 0.5rem 0; }
.testbed-report .tb-table th, .testbed-report .tb-table td {
  border: 1px solid #d0d0d0; padding: 0.25rem 0.6rem; text-align: left; vertical-align: top;
}
.testbed-report .tb-table th { background: #f2f2f2; }
.testbed-report .tb-table td.num { text-align: right; font-variant-numeric: tabular-nums; }
.testbed-report .banner { padding: 0.6rem 1rem; border-radius: 4px; font-weight: 600; }
.testbed-report .banner.pass { background: #e3f4e5; border: 1px solid #2e7d32; }
.testbed-report .banner.fail { background: #fbe4e4; border: 1px solid #c62828; }
.testbed-report .tb-table td.pass { color: #2e7d32; font-weight: 600; }
.testbed-report .tb-table td.fail { color: #c62828; font-weight: 600; }
.testbed-report figure { margin: 1rem 0; }
.testbed-report figure svg { width: 100%; max-width: 75rem; height: auto; }
.testbed-report .muted { color: #666; }
"""

_PREPRODUCTION = (ValidationOutcome.FAIL_SAFE, ValidationOutcome.FAIL_SILENT,
                  ValidationOutcome.UNSAFE)

_Effects = Sequence[Mapping[str, Any]] | None
_FIGURES: tuple[tuple[str, Callable[[RunRecord, _Effects], Plot], str], ...] = (
    ("Certificate lifecycle", lifecycle_plot,
     "Issued, renewed, expired and revoked device certificates, offboardings and "
     "re-bootstraps per device group; each fault is shaded on the rows of the devices it "
     "hit (dashed: it hit none; hatched and labelled with its length: widened to be "
     "seen); grey at the end: the recovery window."),
    ("Devices unavailable", unavailability_plot,
     "How many devices of each site were in an outage (could not deliver to every "
     "intended service) over time; shaded bands are the faults, grey at the end the "
     "recovery window."),
    ("Denied clinical traffic", availability_plot,
     "Cumulative denied clinical-traffic decisions by reason, to the end of the run; "
     "shaded bands are the faults, grey at the end the recovery window."),
)


def write_html(report: Report, record: RunRecord, path: Path) -> None:
    """Write the run's self-contained HTML page to ``path``."""
    path.write_text(page_html(report, record), encoding="utf-8", newline="\n")


def page_html(report: Report, record: RunRecord) -> str:
    """The whole page: the report summary followed by the plots of the run's record."""
    title = escape(f"{report.scenario} (seed {report.seed}): testbed report")
    body = summary_html(report) + _plots_html(record, report.data.get("fault_effects"))
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{title}</title>\n"
        "<style>body { margin: 1.5rem; background: #fff; }</style>\n"
        f"</head>\n<body>\n{body}</body>\n</html>\n"
    )


def summary_html(report: Report) -> str:
    """The report as an HTML fragment with its own scoped CSS (no plots)."""
    data = report.data
    parts = [
        _header(report),
        _banner(report),
        _section("Expectations", _expectations(report.expectations)),
        _section("Measures", measures_html(report)),
        _section("Incidents by category", _counts(data.get("incidents_by_category"), "category")),
        _section("Denials by reason", '<p class="muted">clinical traffic only</p>\n'
                 + _counts(data.get("denials_by_reason"), "reason")),
        _section("Denials of the hospital's checks",
                 _check_denials(data.get("check_denials_by_purpose"))),
        _section("Enrollment refusals by reason",
                 _counts(data.get("enrollment_refusals_by_reason"), "reason")),
        _section("Pre-production failure tests", _preproduction(data.get("preproduction_tests"))),
        *(
            _section(title, _counts(data.get(key), "reason"))
            for title, key in (
                ("Tokens refused by reason", "tokens_refused_by_reason"),
                ("FHIR writes refused by reason", "fhir_writes_refused_by_reason"),
            )
            if key in data
        ),
        *_dicom(data.get("dicom_by_reason")),
        *([] if "fault_effects" in data else [_section("Faults", _faults(data.get("faults")))]),
        *story_sections(data, table=_table, section=_section),
    ]
    return f'<div class="testbed-report">\n<style>{_CSS}</style>\n{"".join(parts)}</div>\n'


def measures_html(report: Report) -> str:
    """The measures no expectation is about, as a table: each value with its unit and a
    reading for people, and what it counts (a measure with an expectation is in the
    expectations' table, not again here); then those the run could not have ("not
    measured in this run", and why)."""
    expected = {e.measure for e in report.expectations if e.where is None}
    rows: list[tuple[Cell, ...]] = []
    for name, value in report.measures.items():
        if name in expected:
            continue
        rows.append((name, (reading(name, value), "num"), (_definition(name), "muted")))
    missing: Mapping[str, Any] = report.data.get("not_measured") or {}
    rows.extend(
        (name, ("not measured in this run", "muted"), str(why)) for name, why in missing.items()
    )
    return _table(("measure", "value", "what it counts (docs/measures.md)"), rows)


def _header(report: Report) -> str:
    title = escape(f"{report.scenario} (seed {report.seed})")
    description = str(report.data.get("description", "")).strip()
    keys = ("start", "duration", "fidelity", "devices", "events")
    facts = [f"{k}: {report.data[k]}" for k in keys if k in report.data]
    lines = [f"<h1>{title}</h1>\n"]
    if description:
        lines.append(f"<p>{escape(description)}</p>\n")
    if facts:
        lines.append(f'<p class="muted">{escape(" · ".join(facts))}</p>\n')
    return "".join(lines)


def _banner(report: Report) -> str:
    incomplete = report.data.get("incomplete")
    if incomplete:
        text = f"INCOMPLETE: the run stopped at {incomplete['stopped_at']}; {incomplete['reason']}"
        return f'<div class="banner fail">{escape(text)}</div>\n'
    verdict = Verdict.of(report.passed)
    failed = [e.id for e in report.expectations if not e.passed]
    total = len(report.expectations)
    if failed:
        text = f"FAIL: {len(failed)} of {total} expectations do not hold ({', '.join(failed)})"
    else:
        text = f"PASS: all {total} expectations hold"
    return f'<div class="banner {verdict.value}">{escape(text)}</div>\n'


def _expectations(results: Sequence[ExpectationResult]) -> str:
    """Each expectation with its measure's value read with its unit and what the
    measure counts (the measures table then leaves it out)."""
    rows = [
        (e.id, e.expected, (reading(e.measure, e.measured), "num"), _verdict_cell(e.passed),
         e.why, (_what(e), "muted"))
        for e in results
    ]  # fmt: skip
    return _table(("id", "expected", "measured", "verdict", "why", "what it counts"), rows)


def _what(check: ExpectationResult) -> str:
    """The expectation's description, or its measure's definition, and its scope."""
    text = check.description or _definition(check.measure)
    if check.where:
        scope = ", ".join(f"{k} {v}" for k, v in check.where.items())
        text += f" (devices of {scope})"
    return text


def _definition(name: str) -> str:
    info = MEASURES.get(name)
    return "" if info is None else info.definition


def _verdict_cell(passed: bool) -> Cell:
    verdict = Verdict.of(passed)
    return (verdict.value.upper(), verdict.value)


def _counts(counts: Mapping[str, Any] | None, what: str) -> str:
    rows = [(str(key), (_num(value), "num")) for key, value in (counts or {}).items()]
    return _table((what, "count"), rows)


def _check_denials(by_purpose: Mapping[str, Mapping[str, Any]] | None) -> str:
    """Refusals of pre-production tests, stale probes and recovery checks: expected
    refusals, apart from clinical traffic's."""
    rows = [(purpose, reason, (_num(n), "num"))
            for purpose, reasons in (by_purpose or {}).items()
            for reason, n in reasons.items()]  # fmt: skip
    return _table(("purpose", "reason", "count"), rows)


def _dicom(by_reason: Mapping[str, Any] | None) -> list[str]:
    """DICOM associations and stores by reason (a run that sent DICOM; else nothing)."""
    if not by_reason:
        return []
    return [
        _section("DICOM associations by reason", _counts(by_reason.get("associations"), "reason")),
        _section("DICOM stores by reason", _counts(by_reason.get("stores"), "reason")),
    ]


def _preproduction(counts: Mapping[str, Any] | None) -> str:
    counts = dict(counts or {})
    names = [*_PREPRODUCTION, *sorted(k for k in counts if k not in _PREPRODUCTION)]
    rows = [(name, (_num(counts.get(name, 0)), "num")) for name in names]
    return _table(("outcome", "tests"), rows)


def _faults(faults: Iterable[Mapping[str, Any]] | None) -> str:
    rows = [
        (str(f.get("kind", "")), str(f.get("target", "")), str(f.get("start", "")),
         str(f.get("end", "")))
        for f in faults or ()
    ]
    return _table(("kind", "target", "start", "end"), rows)


def _plots_html(record: RunRecord, effects: _Effects) -> str:
    body = "".join(
        _section(title, _figure_html(plot(record, effects), caption))
        for title, plot, caption in _FIGURES
    )
    return f'<div class="testbed-report">\n{body}</div>\n'


def _figure_html(plot: Plot, caption: str) -> str:
    """The plot's SVG as an image to assistive technology: ``role="img"``, its alt text
    as the label and its title as the SVG's ``<title>``; its marks and fault bands carry
    their own ``<title>`` (hover text: :mod:`testbed.report.tooltips`)."""
    svg = attach(svg_text(plot.figure), plot.tooltips)
    close = svg.index(">") + 1
    opening = svg[:close].replace("<svg", f'<svg role="img" aria-label="{escape(plot.alt)}"', 1)
    svg = f"{opening}\n<title>{escape(plot.title)}</title>{svg[close:]}"
    return f"<figure>\n{svg}<figcaption>{escape(caption)}</figcaption>\n</figure>\n"


def _section(title: str, content: str) -> str:
    return f"<h2>{escape(title)}</h2>\n{content}"


def _table(headers: Sequence[str], rows: Sequence[Sequence[Cell]]) -> str:
    if not rows:
        return '<p class="muted">none</p>\n'
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join(f"<tr>{''.join(_cell(c) for c in row)}</tr>\n" for row in rows)
    head = f'<table class="tb-table">\n<thead><tr>{head}</tr></thead>\n'
    return f"{head}<tbody>\n{body}</tbody>\n</table>\n"


def _cell(cell: Cell) -> str:
    if isinstance(cell, tuple):
        text, css = cell
        return f'<td class="{escape(css)}">{escape(text)}</td>'
    return f"<td>{escape(cell)}</td>"


def _num(value: object) -> str:
    """A number with thousands separators, never in scientific notation."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}" if abs(value) >= 1 else f"{value:.6f}".rstrip("0")
