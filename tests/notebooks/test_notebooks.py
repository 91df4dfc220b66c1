"""Every notebook runs top to bottom without error, and is stored without outputs.

Notebooks execute with nbclient in a ``python3`` kernel whose spec is written for
this interpreter (``sys.executable``), so the kernel imports the same installed
package whatever kernelspecs the machine has; the working directory is ``notebooks/``.
"""

from __future__ import annotations

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


PUBLIC = "testbed"  # the public API is the package itself (testbed/__init__.py)


@pytest.mark.parametrize("path", PATHS, ids=[p.name for p in PATHS])
def test_notebook_uses_only_the_public_api(path: Path) -> None:
    """``import testbed`` and nothing below it: notebooks show what users may rely on."""
    import ast

    notebook = nbformat.read(path, as_version=4)
    private = []
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        for node in ast.walk(ast.parse(cell.source)):
            if isinstance(node, ast.ImportFrom) and node.module is not None:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            private += [n for n in names if n.split(".")[0] == PUBLIC and n != PUBLIC]
    assert private == [], f"{path.name} imports internal modules: {private}"
