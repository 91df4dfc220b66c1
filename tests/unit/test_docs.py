"""The docs stay true: every measure is defined, every module named exists."""

from __future__ import annotations

import re
from pathlib import Path

from testbed.expectations import Metric
from testbed.faults import RENAMED_KINDS, FaultKind

ROOT = Path(__file__).resolve().parents[2]


def test_every_measure_is_defined_in_docs_measures() -> None:
    text = (ROOT / "docs" / "measures.md").read_text(encoding="utf-8")
    defined = set(re.findall(r"^\| `([a-z_]+)` \|", text, flags=re.MULTILINE))
    assert defined == {m.value for m in Metric}


# a path from the top of the repository, anywhere inside backticks
_PATH = re.compile(r"(?<![\w/.-])((?:testbed|benchmarks|fixtures|scenarios|docs|tests|notebooks"
                   r"|\.ci)/[\w/.*-]*[\w*])")
# a path inside the package, as the docs write them (`pki/leaf.py`, `sim/*`, `live/commands`)
_PACKAGE_PATH = re.compile(r"^(?:pki|sim|live|network|report|smart|ehr|pacs|study|certify"
                           r"|faults)/[\w/.*-]*[\w*]$")


def _exists(path: str) -> bool:
    """A file, a directory, a module without its ``.py``, or a glob that matches."""
    if "*" in path:
        return any(ROOT.glob(path))
    return (ROOT / path.rstrip("/")).exists() or (ROOT / f"{path}.py").exists()


def _named_paths(text: str) -> list[str]:
    """Every path the text names inside backticks, from the repository's top."""
    found = []
    for span in re.findall(r"`([^`\n]+)`", text):
        found += _PATH.findall(span)
        found += [f"testbed/{t}" for t in re.findall(r"[\w/.*-]+", span) if _PACKAGE_PATH.match(t)]
    return found


def test_every_path_the_docs_name_exists() -> None:
    """README.md and docs/*.md: every path in backticks, also inside a longer span
    (`testbed/sim/traffic.py: TrafficEngine.deliver`) or relative to the package."""
    documents = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    named = {(d.name, p) for d in documents for p in _named_paths(d.read_text(encoding="utf-8"))}
    assert len({p for _, p in named}) > 100, "the docs name few paths: is the pattern broken?"
    assert sorted((d, p) for d, p in named if not _exists(p)) == []


def test_the_path_pattern_finds_paths_inside_longer_spans() -> None:
    text = ("`testbed/sim/traffic.py: TrafficEngine.deliver`, `pki/leaf.py`, `sim/*`, "
            "`make bench` and `live/commands` but not `runs/demo/report.html`")
    assert sorted(_named_paths(text)) == ["testbed/live/commands", "testbed/pki/leaf.py",
                                          "testbed/sim/*", "testbed/sim/traffic.py"]
    assert all(_exists(p) for p in _named_paths(text))
    assert not _exists("testbed/sim/absent.py") and not _exists("testbed/absent/*")


def test_every_fault_kind_and_former_name_is_in_docs_faults() -> None:
    text = (ROOT / "docs" / "faults.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([a-z-]+)` \|", text, flags=re.MULTILINE))
    assert documented == {k.value for k in FaultKind} | set(RENAMED_KINDS)


def _table_layers() -> dict[str, set[str]]:
    """docs/architecture.md's layers table: each layer's modules, as dotted names under
    ``testbed`` (``pki/*`` is ``pki``, ``testbed/__init__.py`` the package itself)."""
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    start = text.index("| layer | modules |")
    rows = text[start:].split("\n\n", 1)[0].splitlines()[2:]
    layers: dict[str, set[str]] = {}
    for row in rows:
        name, modules = (cell.strip() for cell in row.strip("|").split("|"))
        layer = re.sub(r"\s*\(.*\)$", "", name)
        layers[layer] = {
            "" if m == "testbed/__init__.py" else m.removesuffix("/*").replace("/", ".")
            for m in re.findall(r"`([\w/.*]+)`", modules)
        }
    return layers


def test_the_architecture_table_names_the_layering_tests_layers() -> None:
    """Every module in the layer the layering test puts it in, and nothing else."""
    from tests.unit.test_layering import LAYERS

    assert _table_layers() == {name: set(members) for name, members in LAYERS}


def test_the_architecture_and_the_cli_name_every_command() -> None:
    """The commands docs/architecture.md and ``testbed.cli``'s docstring list are the
    ones ``testbed`` has."""
    from testbed import cli

    cli._register_live_commands()
    commands = set(cli.cli.commands)
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    listed = re.search(r"testbed\.cli \(([^)]*)\)", text)
    assert listed is not None
    assert set(re.split(r",\s*", listed.group(1))) == commands
    docstring = (cli.__doc__ or "").split(":", 1)[1].split(".\n", 1)[0]
    assert set(re.split(r",\s*", docstring.strip())) == commands
