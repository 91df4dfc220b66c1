"""Hover text in a plot's SVG: native ``<title>`` elements, no script.

A plot names the artists it wants hover text on with matplotlib's ``gid`` (the SVG
backend writes such an artist as ``<g id="GID">``), and records their texts in a
:class:`Tooltips`: one text for the whole artist (a fault band, a line), and/or one
per marker of a marker line, in the order of its data.  :func:`attach` writes them
into the SVG text: the whole artist's as the group's first child, each marker's by
wrapping its ``<use>`` in ``<g><title>…</title><use/></g>``.  A browser shows the
innermost title under the pointer, so a marker names its device and a band its fault.

A marker line whose ``<use>`` elements do not match its texts one for one (drawn as
an image above :data:`~testbed.report.plots.RASTER_MARKS`, or clipped) keeps only its
whole-artist title: a text is never put on the wrong marker.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from html import escape
from typing import TypeVar

__all__ = ["MAX_POINTS", "Tooltips", "attach"]

T = TypeVar("T")

MAX_POINTS = 5_000
"""Above this many markers in one artist, they get no text each (the page stays small)."""

_TAG = re.compile(r"<(/?)([A-Za-z][\w:.-]*)[^>]*?(/?)>")
_USE = re.compile(r"<use\b[^>]*/>")


@dataclass(slots=True)
class Tooltips:
    """Hover texts by artist ``gid``."""

    whole: dict[str, str] = field(default_factory=dict)
    points: dict[str, list[str]] = field(default_factory=dict)

    def on(self, gid: str, text: str) -> None:
        """``text`` over the whole artist ``gid``."""
        self.whole[gid] = text

    def each(self, gid: str, items: Sequence[T], text: Callable[[T], str]) -> None:
        """A text per marker of ``gid``: ``text`` of each of ``items``, in its data's
        order.  Above :data:`MAX_POINTS` items none, and none is made (a 100k-device
        year has millions of marks: their texts alone would take hundreds of MB)."""
        if len(items) <= MAX_POINTS:
            self.points[gid] = [text(item) for item in items]


def attach(svg: str, tips: Tooltips) -> str:
    """``svg`` with the texts of ``tips`` written in as ``<title>`` elements."""
    for gid in dict.fromkeys([*tips.whole, *tips.points]):
        opening = f'<g id="{escape(gid)}">'
        start = svg.find(opening)
        if start < 0:
            continue  # not drawn (e.g. nothing to plot)
        inner, end = start + len(opening), _group_end(svg, start)
        body = svg[inner:end]
        texts = tips.points.get(gid)
        uses = _USE.findall(body)
        if texts is not None and uses and len(uses) == len(texts):
            parts = _USE.split(body)
            body = parts[0] + "".join(
                f"<g><title>{escape(text)}</title>{use}</g>{rest}"
                for text, use, rest in zip(texts, uses, parts[1:], strict=True)
            )
        title = tips.whole.get(gid)
        head = f"\n<title>{escape(title)}</title>" if title else ""
        svg = svg[:inner] + head + body + svg[end:]
    return svg


def _group_end(svg: str, start: int) -> int:
    """Where the ``<g>`` opened at ``start`` closes (the index of its ``</g>``)."""
    depth = 0
    for match in _TAG.finditer(svg, start):
        closing, _, empty = match.groups()
        if empty:
            continue
        depth += -1 if closing else 1
        if depth == 0:
            return match.start()
    raise ValueError("unbalanced SVG group")  # matplotlib writes well-formed XML
