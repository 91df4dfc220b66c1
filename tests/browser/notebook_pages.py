"""``python -m tests.browser.notebook_pages OUT_DIR NOTEBOOK...``: each notebook run
top to bottom (nbclient, a kernel of this interpreter, in ``notebooks/``), its
outputs written as ``OUT_DIR/NAME.html`` (nbconvert) and screenshot whole as
``OUT_DIR/NAME.png`` with the report's browser (``make demo`` does this for the
quickstart, for a person to look at).  Without Chromium the HTML is still written and
it says why there is no screenshot (exit 0); 2 for wrong arguments or a notebook that
is not a file."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import nbformat
from ipykernel.kernelspec import write_kernel_spec
from nbclient import NotebookClient
from nbconvert import HTMLExporter

from tests.browser.chromium import Browser, chromium_missing


def notebook_html(path: Path) -> str:
    """The notebook executed in its own directory, as a standalone HTML page."""
    notebook = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory() as jupyter:
        write_kernel_spec(Path(jupyter) / "kernels" / "python3")
        before = os.environ.get("JUPYTER_PATH")
        os.environ["JUPYTER_PATH"] = jupyter  # this interpreter's kernel, found first
        try:
            where = {"metadata": {"path": str(path.parent)}}
            NotebookClient(notebook, kernel_name="python3", timeout=300, resources=where).execute()
        finally:
            if before is None:
                os.environ.pop("JUPYTER_PATH", None)
            else:
                os.environ["JUPYTER_PATH"] = before
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(notebook)
    return str(body)


def main(argv: list[str]) -> int:
    """Write each notebook's HTML and screenshot; 2 for wrong arguments."""
    if len(argv) < 2:
        print("usage: python -m tests.browser.notebook_pages OUT_DIR NOTEBOOK.ipynb...",
              file=sys.stderr)  # fmt: skip
        return 2
    out, notebooks = Path(argv[0]), [Path(a) for a in argv[1:]]
    for path in notebooks:
        if not path.is_file() or path.suffix != ".ipynb":
            print(f"{path}: expected a notebook file (.ipynb) to run", file=sys.stderr)
            return 2
    out.mkdir(parents=True, exist_ok=True)
    missing = chromium_missing()
    for path in notebooks:
        html = out / f"{path.stem}.html"
        html.write_text(notebook_html(path), encoding="utf-8")
        print(f"wrote {html}")
        if missing is not None:
            print(f"no screenshot of {html}: {missing}")
            continue
        with tempfile.TemporaryDirectory() as profile, Browser(Path(profile)) as browser:
            browser.load(html)  # offline: the page's CDN scripts (MathJax) do not load
            (out / f"{path.stem}.png").write_bytes(browser.screenshot())
        print(f"wrote {out / f'{path.stem}.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
