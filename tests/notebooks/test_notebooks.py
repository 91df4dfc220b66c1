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


def _public() -> dict[str, set[str]]:
    """Each public module and the names it offers: ``testbed``'s ``__all__`` and its
    public packages; each public package's ``__all__``."""
    import importlib

    import testbed

    offered = {PUBLIC: {*testbed.__all__, *PUBLIC_PACKAGES}}
    for name in PUBLIC_PACKAGES:
        module = f"{PUBLIC}.{name}"
        offered[module] = set(importlib.import_module(module).__all__)
    return offered


def _private_uses(source: str, bound: dict[str, str]) -> list[str]:
    """What ``source`` takes from below the public API: internal modules imported, names
    imported or read as attributes that a public module does not offer.  ``bound``
    (local name -> public module) carries imports from one cell to the next."""
    offered = _public()
    private: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] != PUBLIC:
                    continue
                if alias.name not in offered:
                    private.append(alias.name)
                elif alias.asname is not None:
                    bound[alias.asname] = alias.name
                else:
                    bound[PUBLIC] = PUBLIC  # `import testbed.network` binds testbed
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == PUBLIC:
            module = node.module or ""
            if module not in offered:
                private.append(module)
                continue
            for alias in node.names:
                if alias.name not in offered[module]:
                    private.append(f"{module}.{alias.name}")
                elif f"{module}.{alias.name}" in offered:  # a public package, by name
                    bound[alias.asname or alias.name] = f"{module}.{alias.name}"
    for node in ast.walk(ast.parse(source)):
        # testbed.X, network.X, testbed.network.X: X must be offered
        if isinstance(node, ast.Attribute):
            module = _module_of(node.value, bound)
            if module is not None and node.attr not in offered[module]:
                private.append(f"{module}.{node.attr}")
    return private


def _module_of(node: ast.expr, bound: dict[str, str]) -> str | None:
    """The public module an expression names (a bound name, or one of its public
    packages read as an attribute), else None."""
    if isinstance(node, ast.Name):
        return bound.get(node.id)
    if isinstance(node, ast.Attribute):
        parent = _module_of(node.value, bound)
        if parent == PUBLIC and node.attr in PUBLIC_PACKAGES:
            return f"{PUBLIC}.{node.attr}"
    return None


@pytest.mark.parametrize("path", PATHS, ids=[p.name for p in PATHS])
def test_notebook_uses_only_the_public_api(path: Path) -> None:
    """``import testbed`` (its ``__all__``) and its ``network`` and ``study`` packages
    (their ``__all__``), nothing below them, imported or read as an attribute:
    notebooks show what users may rely on."""
    notebook = nbformat.read(path, as_version=4)
    private: list[str] = []
    bound: dict[str, str] = {}
    for cell in notebook.cells:
        if cell.cell_type == "code":
            private += _private_uses(cell.source, bound)
    assert private == [], f"{path.name} uses internal modules or names: {private}"


@pytest.mark.parametrize(("source", "private"), [
    ("import testbed", []),
    ("from testbed import run, Scenario, network, study", []),
    ("import testbed.network", []),
    ("from testbed.study import compare", []),
    ("import pandas, json\npandas.hops", []),
    ("import testbed\ntestbed.run(1); testbed.network.load_design('x')", []),
    ("from testbed import network as n\nn.blast_radius", []),
    ("from testbed import hops", ["testbed.hops"]),
    ("from testbed import run, access", ["testbed.access"]),
    ("import testbed.core", ["testbed.core"]),
    ("from testbed.report.html import write_html", ["testbed.report.html"]),
    ("from testbed.network.matrix import Matrix", ["testbed.network.matrix"]),
    ("from testbed.network import matrix", ["testbed.network.matrix"]),
    ("from testbed.study import sweeps", ["testbed.study.sweeps"]),
    ("import testbed\ntestbed.hops.TlsHop", ["testbed.hops"]),
    ("import testbed as tb\ntb.core", ["testbed.core"]),
    ("import testbed\ntestbed.network.matrix", ["testbed.network.matrix"]),
    ("from testbed import study\nstudy.sweeps.x", ["testbed.study.sweeps"]),
])  # fmt: skip
def test_the_public_api_check_finds_what_lies_below_it(source: str, private: list[str]) -> None:
    assert _private_uses(source, {}) == private


def test_the_public_api_check_remembers_imports_from_earlier_cells() -> None:
    bound: dict[str, str] = {}
    assert _private_uses("from testbed import network", bound) == []
    assert _private_uses("network.matrix", bound) == ["testbed.network.matrix"]
