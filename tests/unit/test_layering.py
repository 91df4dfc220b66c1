"""The package's import structure: layers that only import downwards, and no cycles.

Layers, lowest first (docs/architecture.md): foundation -> domain services -> the
hospital (composition root and operations) -> transports (simulation, live) -> reports
-> entry points.  A module may import its own layer or a lower one; imports needed only
for type checking (``if TYPE_CHECKING:``) are allowed upwards, since they never run.
Among runtime imports at module level there must be no cycle.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "testbed"

LAYERS: tuple[tuple[str, frozenset[str]], ...] = (
    ("foundation", frozenset({
        "errors", "clock", "units", "inputs", "events", "event_json", "event_sink",
        "background_writer", "decisions", "lifecycle", "sites", "memory", "expectations",
        "faults", "verdicts", "targets", "revision", "holds", "positions", "suggest",
        "operation_action", "json_nesting",
    })),
    ("domain services", frozenset({
        "pki", "devices", "inventory", "drift_index", "network", "approval", "offboard",
        "diagnosis", "metrics", "access", "hops", "oracle", "scenario", "crosscheck", "standing",
        "smart", "ehr", "pacs", "advice", "incidents", "write_oracle", "registry_drift",
    })),
    ("the hospital", frozenset({
        "hospital", "operations", "fault_operations", "store", "clinical", "fhir_access", "dicom",
        "drift_watch",
    })),
    # the emulation drives the kernel (namespaces, nftables, real sockets): a transport
    ("transports", frozenset({"core", "sim", "live", "network.emulate"})),
    ("reports", frozenset({"report"})),
    # live mode's commands (serve, devices) and emulate are command-line entry points;
    # studies (compare, sweep, snapshots) run scenarios as the runner does
    ("entry points", frozenset({"runner", "api", "cli", "pytest_plugin", "", "live.commands",
                                "network.emulate.command", "validation", "progress",
                                "study", "certify"})),
)  # fmt: skip


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(module: str) -> int:
    """The layer of the longest dotted prefix of ``module`` that LAYERS names."""
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        prefix = ".".join(parts[:end])
        for index, (_, members) in enumerate(LAYERS):
            if prefix in members:
                return index
    raise AssertionError(f"testbed.{module} is in no layer: add it to LAYERS")


def _type_checking_blocks(tree: ast.Module) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def _imports(path: Path, *, module_level_only: bool) -> Iterator[tuple[str, bool]]:
    """``(imported testbed module, for type checking only)`` of one file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = _type_checking_blocks(tree)
    nodes = tree.body if module_level_only else list(ast.walk(tree))
    for node in nodes:
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module is not None:
            if node.module == "testbed":
                names = [f"testbed.{alias.name}" for alias in node.names]
            elif node.module.split(".")[0] == "testbed":
                names = [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names if a.name.split(".")[0] == "testbed"]
        else:
            continue
        for name in names:
            yield name.removeprefix("testbed").removeprefix("."), node.lineno in typing_only


def _files() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", _files(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_modules_import_only_their_own_layer_or_lower(path: Path) -> None:
    module = _module(path)
    own = _layer(module)
    upwards = [
        f"testbed.{name} ({LAYERS[_layer(name)][0]})"
        for name, typing_only in _imports(path, module_level_only=False)
        if name and not typing_only and _layer(name) > own
    ]
    assert not upwards, f"testbed.{module} ({LAYERS[own][0]}) imports upwards: {upwards}"


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in _files():
        deps = {name for name, typing_only in _imports(path, module_level_only=True)
                if name and not typing_only}  # fmt: skip
        graph[_module(path)] = deps
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if nxt not in state and (found := visit(nxt)) is not None:
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)) is not None:
            return found
    return None


def test_no_import_cycle_at_module_level() -> None:
    cycle = _cycle(_graph())
    assert cycle is None, "import cycle: " + " -> ".join(f"testbed.{m}" for m in cycle or [])


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_every_import_is_absolute() -> None:
    """The checks above read ``testbed...`` imports only: a relative import would pass
    them unseen.  (The packages' lazy exports, ``import_module`` in a module
    ``__getattr__``, re-export their own submodules: same layer.)"""
    relative = [
        f"{path.relative_to(PACKAGE)}:{node.lineno}"
        for path in _files()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.ImportFrom) and node.level > 0
    ]
    assert not relative, f"relative imports: {relative}"
