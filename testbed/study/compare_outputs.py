"""A comparison's files: ``compare.json``, ``compare.csv``, a self-contained
``compare.html`` (inline SVG plots, no scripts) and ``plots/<measure>.png``."""

from __future__ import annotations

from html import escape
from pathlib import Path

from testbed.errors import OutputError
from testbed.report.plots import svg_text
from testbed.study.comparison import Comparison
from testbed.study.measures import MEASURES
from testbed.study.plots import measure_figure
from testbed.units import format_duration

__all__ = ["table_html", "write_comparison"]

_CSS = """body{font-family:system-ui,sans-serif;margin:2em;max-width:80em}
table{border-collapse:collapse;font-size:.85em}td,th{border:1px solid #ccc;padding:.3em .5em}
td{text-align:right}th{background:#f4f4f4}.fail{color:#b00}figure{margin:1em 0}"""


def write_comparison(comparison: Comparison, out: Path) -> dict[str, Path]:
    """Write the comparison's files into ``out`` (made if need be)."""
    paths = {name: out / name for name in ("compare.json", "compare.csv", "compare.html")}
    try:
        (out / "plots").mkdir(parents=True, exist_ok=True)
        paths["compare.json"].write_text(comparison.to_json(), encoding="utf-8")
        comparison.table().to_csv(paths["compare.csv"], lineterminator="\n")
        paths["compare.html"].write_text(page_html(comparison), encoding="utf-8")
        for m in MEASURES:
            (out / "plots" / f"{m.name}.png").write_bytes(comparison.png(m.name))
    except OSError as error:
        reason = error.strerror or str(error)
        raise OutputError(f"{out}: the comparison could not be written ({reason})") from None
    return paths


def table_html(comparison: Comparison) -> str:
    """The comparison table: one column per design, one row per measure."""
    table = comparison.table()
    head = "".join(f"<th>{escape(d)}</th>" for d in table.index)
    rows = [f"<tr><th>measure</th>{head}</tr>"]
    for m in MEASURES:
        cells = "".join(f"<td>{v:g}</td>" for v in table[m.name])
        rows.append(f"<tr><th title='{escape(m.name)}'>{escape(m.title)}</th>{cells}</tr>")
    verdicts = "".join(
        "<td>pass</td>" if r.passed
        else f"<td class='fail'>FAIL: {escape(', '.join(r.values['failed']))}</td>"
        for r in comparison.rows
    )  # fmt: skip
    rows.append(f"<tr><th>scenario's expectations</th>{verdicts}</tr>")
    return f"<table>{''.join(rows)}</table>"


def page_html(comparison: Comparison) -> str:
    """The whole page."""
    table = comparison.table()
    figures = "".join(
        f"<figure>{svg_text(measure_figure(table[m.name], m))}</figure>" for m in MEASURES
    )
    designs = "".join(f"<li><b>{escape(r.design)}</b>: {escape(r.description)}</li>"
                      for r in comparison.rows)  # fmt: skip
    when = "" if comparison.at is None else f", analysis at {format_duration(comparison.at)}"
    title = f"{comparison.scenario} (seed {comparison.seed}{when}): designs compared"
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
        f"<style>{_CSS}</style></head><body><h1>{escape(title)}</h1>"
        f"<p>{escape(_when(comparison))}; BRE_K with K={comparison.k}. Run measures "
        f"from one run per design, same seed and faults.</p>"
        f"{table_html(comparison)}<h2>Designs</h2><ul>{designs}</ul>"
        f"<h2>Plots</h2>{figures}</body></html>\n"
    )


def _when(comparison: Comparison) -> str:
    if comparison.at is None:
        return "Analysis measures with exceptions judged at the scenario's start"
    return (f"Analysis measures at {format_duration(comparison.at)} into the scenario: "
            "each design's run there (devices admitted, certificates valid), exceptions "
            "judged then")  # fmt: skip
