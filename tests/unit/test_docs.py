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


def test_every_path_the_architecture_names_exists() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    paths = set(re.findall(r"`((?:testbed|benchmarks|fixtures|scenarios|docs)/[\w/.-]*)`", text))
    assert paths, "the architecture names no paths"
    missing = sorted(p for p in paths if not (ROOT / p.rstrip("/")).exists())
    assert not missing


def test_every_fault_kind_and_former_name_is_in_docs_faults() -> None:
    text = (ROOT / "docs" / "faults.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([a-z-]+)` \|", text, flags=re.MULTILINE))
    assert documented == {k.value for k in FaultKind} | set(RENAMED_KINDS)
