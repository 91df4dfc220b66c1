"""``report.html`` of a small run, opened offline in headless Chromium: it renders
(a screenshot that is not blank), with no console error and no failed load, its key
sections visible, and its plots drawn as labelled images."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from testbed.report.html import write_html
from testbed.runner import RunResult, run_scenario
from tests.browser.chromium import Browser, PageLoad, chromium_missing, require_under_ci

PILOT = Path(__file__).resolve().parents[2] / "scenarios" / "two-site-pilot.yaml"
SECTIONS = ("Expectations", "Measures", "What each fault did", "Incidents", "By site",
            "Devices unavailable",
            "Certificate lifecycle", "Denied clinical traffic")  # fmt: skip

require_under_ci()  # CI installs Chromium: required there
pytestmark = pytest.mark.skipif(chromium_missing() is not None, reason=str(chromium_missing()))


@pytest.fixture(scope="module")
def pilot() -> RunResult:
    return run_scenario(PILOT)


@dataclass(frozen=True, slots=True)
class Opened:
    """The report open in the browser: what its load saw, and its directory."""

    browser: Browser
    load: PageLoad
    dir: Path


@pytest.fixture(scope="module")
def page(pilot: RunResult, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Opened]:
    out = tmp_path_factory.mktemp("report")
    html = out / "report.html"
    write_html(pilot.report, pilot.record, html)
    with Browser(tmp_path_factory.mktemp("chromium-profile")) as browser:
        yield Opened(browser, browser.load(html), out)


def test_the_page_loads_offline_without_errors(page: Opened) -> None:
    assert page.load.errors == []
    assert page.load.failed_requests == []  # nothing was fetched: the page is whole


def test_key_sections_are_visible(page: Opened) -> None:
    browser = page.browser
    boxes = browser.evaluate(
        "Object.fromEntries([...document.querySelectorAll('h2')].map(h => "
        "[h.textContent, (r => [r.width, r.height])(h.getBoundingClientRect())]))"
    )
    for title in SECTIONS:
        width, height = boxes[title]
        assert width > 0 and height > 0, title
    verdict = browser.evaluate("getComputedStyle(document.querySelector('.banner')).display")
    assert verdict != "none"


def test_plots_render_as_labelled_images(page: Opened) -> None:
    browser = page.browser
    svgs = browser.evaluate(
        "[...document.querySelectorAll('figure svg')].map(s => ({role: s.getAttribute('role'),"
        " label: s.getAttribute('aria-label'), width: s.getBoundingClientRect().width,"
        " height: s.getBoundingClientRect().height}))"
    )
    assert len(svgs) == 3
    for svg in svgs:
        assert svg["role"] == "img" and len(svg["label"]) > 40
        assert svg["width"] > 400 and svg["height"] > 150
    images = browser.evaluate(
        "[...document.images].map(i => i.complete && i.naturalWidth > 0)"
        ".concat([...document.querySelectorAll('svg image')].map(i => "
        "i.getBBox().width > 0))"
    )
    assert all(images)


def test_screenshot_is_not_blank(page: Opened) -> None:
    png = page.browser.screenshot()
    (page.dir / "report.png").write_bytes(png)  # for a person to look at
    image = Image.open(io.BytesIO(png)).convert("RGB")
    assert image.width >= 1000 and image.height > 2000  # the whole page, not one screen
    colours = image.getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 50
    white = max(count for count, colour in colours if colour == (255, 255, 255))
    assert white < 0.95 * image.width * image.height


def test_screenshot_command_writes_a_png(page: Opened, tmp_path: Path) -> None:
    """``make demo``'s screenshot of the report (tests/browser/screenshot.py)."""
    from tests.browser.screenshot import main

    out = tmp_path / "report.png"
    assert main([str(page.dir / "report.html"), str(out)]) == 0
    with Image.open(out) as image:
        assert image.height > 2000
    assert main([str(tmp_path / "absent.html"), str(out)]) == 2


def test_marks_under_the_pointer_carry_hover_text(page: Opened) -> None:
    """A denial's dot (the route's last: clear of the axes' spines), hit-tested where
    the browser draws it, is inside a ``<g>`` whose
    ``<title>`` (the native tooltip) names the device and the reason."""
    found = page.browser.evaluate(
        "(() => { const t = [...document.querySelectorAll('figure svg g > title')]"
        ".filter(t => t.textContent.includes(' denied ehr: route-blocked')).at(-1);"
        " if (!t) return null; const use = t.parentNode.querySelector('use');"
        " use.scrollIntoView({block: 'center'}); const r = use.getBoundingClientRect();"
        " let e = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);"
        " for (; e; e = e.parentNode) { const own = [...(e.children || [])]"
        ".find(c => c.tagName === 'title'); if (own) return own.textContent; }"
        " return ''; })()"
    )
    assert found is not None and " denied ehr: " in found and "(" in found
    titles = page.browser.evaluate("document.querySelectorAll('figure svg title').length")
    assert titles > 100
