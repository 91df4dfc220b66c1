"""``make demo``'s pictures of the notebooks' outputs (tests/browser/notebook_pages.py):
a notebook is run, written as HTML with its outputs, and screenshot when Chromium is
here."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from PIL import Image

from tests.browser.chromium import Browser, chromium_missing, require_under_ci
from tests.browser.notebook_pages import main, notebook_html

require_under_ci()  # CI installs Chromium: required there


def _notebook(path: Path) -> Path:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell("# A small notebook"),
                      nbformat.v4.new_code_cell("print(6 * 7)")]  # fmt: skip
    nbformat.write(notebook, path)
    return path


def test_a_notebook_is_run_and_written_with_its_outputs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "runs"
    assert main([str(out), str(_notebook(tmp_path / "small.ipynb"))]) == 0
    html = (out / "small.html").read_text(encoding="utf-8")
    assert "A small notebook" in html and "42" in html  # the executed cell's output
    if chromium_missing() is None:
        with Image.open(out / "small.png") as image:
            assert image.width >= 1000 and image.height > 100
    else:
        assert "no screenshot" in capsys.readouterr().out
        assert not (out / "small.png").exists()


def test_wrong_arguments_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path)]) == 2
    assert main([str(tmp_path), str(tmp_path / "absent.ipynb")]) == 2
    assert "absent.ipynb: expected a notebook file (.ipynb)" in capsys.readouterr().err


@pytest.mark.skipif(chromium_missing() is not None, reason=str(chromium_missing()))
def test_a_report_table_inside_a_notebook_keeps_its_own_alignment_and_borders(
    tmp_path: Path,
) -> None:
    """JupyterLab's own table rule (right-aligned cells, no borders) must not win over
    the report's inside a notebook: a text cell stays left, a number right, bordered."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(
        "from IPython.display import HTML\n"
        "from testbed.report.html import _CSS, _table\n"
        "HTML('<div class=\"testbed-report\"><style>' + _CSS + '</style>'\n"
        "     + _table(['name', 'count'], [['alpha', ('3', 'num')]]) + '</div>')"
    )]  # fmt: skip
    nbformat.write(notebook, tmp_path / "table.ipynb")
    page = tmp_path / "table.html"
    page.write_text(notebook_html(tmp_path / "table.ipynb"), encoding="utf-8")
    with Browser(tmp_path / "profile") as browser:
        browser.load(page)
        styles = browser.evaluate(
            "[...document.querySelectorAll('.testbed-report td')].map(c => {"
            " const s = getComputedStyle(c); return [s.textAlign, s.borderTopStyle]; })"
        )
    assert styles == [["left", "solid"], ["right", "solid"]], styles
