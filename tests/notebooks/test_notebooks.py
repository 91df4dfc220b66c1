"""Every notebook runs top to bottom without error, and is stored without outputs.

Notebooks execute with nbclient in a ``python3`` kernel whose spec is written for
this interpreter (``sys.executable``), so the kernel imports the same installed
package whatever kernelspecs the machine has; the working directory is ``notebooks/``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import pytest
from ipykernel.kernelspec import write_kernel_spec
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))


@pytest.fixture
def this_python_kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A ``python3`` kernelspec for ``sys.executable``, found first on ``JUPYTER_PATH``."""
    write_kernel_spec(tmp_path / "kernels" / "python3")
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    return "python3"


def test_there_are_notebooks() -> None:
    assert PATHS, f"no notebooks in {NOTEBOOKS}"


@pytest.mark.slow
@pytest.mark.parametrize("path", PATHS, ids=[p.name for p in PATHS])
def test_notebook_runs(path: Path, this_python_kernel: str) -> None:
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        kernel_name=this_python_kernel,
        timeout=300,
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    client.execute()  # raises CellExecutionError on the first failing cell
    errors = [o for c in notebook.cells for o in c.get("outputs", ()) if o.output_type == "error"]
    assert errors == []


@pytest.mark.parametrize("path", PATHS, ids=[p.name for p in PATHS])
def test_notebook_is_saved_without_outputs(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert all(c.outputs == [] and c.execution_count is None for c in code)


PUBLIC = "testbed"  # the public API: the package itself (testbed/__init__.py) ...
PUBLIC_PACKAGES = ("network", "study")  # ... and the two packages the README documents


def _internal(node: ast.Import | ast.ImportFrom) -> list[str]:
    """What an import statement takes from below the public API."""
    import testbed

    public = {PUBLIC, *(f"{PUBLIC}.{name}" for name in PUBLIC_PACKAGES)}
    if isinstance(node, ast.Import):
        modules = [alias.name for alias in node.names]
        return [m for m in modules if m.split(".")[0] == PUBLIC and m not in public]
    module = node.module or ""
    if module.split(".")[0] != PUBLIC:
        return []
    if module != PUBLIC:
        return [] if module in public else [module]
    allowed = {*testbed.__all__, *PUBLIC_PACKAGES}
    return [f"{PUBLIC}.{alias.name}" for alias in node.names if alias.name not in allowed]


@pytest.mark.parametrize("path", PATHS, ids=[p.name for p in PATHS])
def test_notebook_uses_only_the_public_api(path: Path) -> None:
    """``import testbed`` (its ``__all__``) and its ``network`` and ``study`` packages,
    nothing below them: notebooks show what users may rely on."""
    notebook = nbformat.read(path, as_version=4)
    private = []
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        for node in ast.walk(ast.parse(cell.source)):
            if isinstance(node, ast.Import | ast.ImportFrom):
                private += _internal(node)
    assert private == [], f"{path.name} imports internal modules: {private}"


@pytest.mark.parametrize(("statement", "internal"), [
    ("import testbed", []),
    ("from testbed import run, Scenario, network, study", []),
    ("import testbed.network", []),
    ("from testbed.study import compare", []),
    ("import pandas, json", []),
    ("from testbed import hops", ["testbed.hops"]),
    ("from testbed import run, access", ["testbed.access"]),
    ("import testbed.core", ["testbed.core"]),
    ("from testbed.report.html import write_html", ["testbed.report.html"]),
    ("from testbed.network.matrix import Matrix", ["testbed.network.matrix"]),
])  # fmt: skip
def test_the_public_api_check_finds_what_lies_below_it(statement: str,
                                                       internal: list[str]) -> None:
    node = ast.parse(statement).body[0]
    assert isinstance(node, ast.Import | ast.ImportFrom)
    assert _internal(node) == internal
