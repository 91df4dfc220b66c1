"""The mypyc build of the testbed's hot path decides, records and reports exactly as
the pure one (:mod:`benchmarks.compiled`).

Each scenario runs twice in fresh interpreters, once on each build, and every output
file must be the same byte for byte; a check first that the compiled modules are the
ones imported, so that the comparison cannot pass by running the pure code twice.
The build takes about two minutes the first time and is cached (``build/compiled``).
"""

from __future__ import annotations

import importlib
import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))
OUTPUTS = ("events.jsonl", "report.json", "report.html")

pytestmark = pytest.mark.skipif(
    shutil.which("cc") is None, reason="mypyc needs a C compiler (cc) to build extensions"
)


@pytest.fixture(scope="module")
def compiled() -> ModuleType:
    """``benchmarks.compiled``, with its build done (the benchmarks are not installed)."""
    sys.path.insert(0, str(ROOT))
    try:
        module = importlib.import_module("benchmarks.compiled")
    finally:
        sys.path.remove(str(ROOT))
    module.build()
    return module


def _run(compiled: ModuleType | None, *args: str) -> str:
    """``python ARGS`` on the compiled build (or the pure one, with None); its stdout."""
    cwd, env = (ROOT, None) if compiled is None else compiled.environment()
    done = subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _same_outputs(first: Path, second: Path) -> None:
    for name in OUTPUTS:
        a, b = (first / name).read_bytes(), (second / name).read_bytes()
        assert a == b, f"{name} differs between the pure and the compiled build"


def test_the_compiled_modules_are_the_ones_imported(compiled: ModuleType) -> None:
    names = [f"testbed.{m.removesuffix('.py').replace('/', '.')}" for m in compiled.MODULES]
    code = ("import importlib, json, sys; "
            f"print(json.dumps([importlib.import_module(n).__file__ for n in {names!r}]))")
    files = json.loads(_run(compiled, "-c", code))
    assert len(files) == len(compiled.MODULES) > 20
    build = str(compiled.OUT / "testbed")
    for name, file in zip(names, files, strict=True):
        assert file.startswith(build) and file.endswith(".so"), f"{name}: {file}"
    # and the pure run imports the sources
    pure = json.loads(_run(None, "-c", code))
    assert all(file.endswith(".py") for file in pure)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_every_shipped_scenario_gives_the_same_outputs(
    compiled: ModuleType, scenario: Path, tmp_path: Path
) -> None:
    for build, out in ((None, tmp_path / "pure"), (compiled, tmp_path / "compiled")):
        _run(build, "-m", "testbed.cli", "run", str(scenario), "--out", str(out))
    _same_outputs(tmp_path / "pure", tmp_path / "compiled")


def test_the_benchmark_scenario_gives_the_same_outputs(
    compiled: ModuleType, tmp_path: Path
) -> None:
    """The benchmark's own scenario (10 sites, a CA outage, a blocked route, renewals
    every few weeks) long enough for renewals, steady turns and the outage."""
    counts = []
    for build, out in ((None, tmp_path / "pure"), (compiled, tmp_path / "compiled")):
        spec = {"mode": "testbed", "devices": 200, "fidelity": "modeled", "duration": "120d",
                "outputs": True, "out_dir": str(out)}
        result = json.loads(_run(build, "-m", "benchmarks.worker", json.dumps(spec))
                            .strip().splitlines()[-1])  # fmt: skip
        counts.append({k: result[k] for k in ("events", "decisions", "renewals_done")})
    assert counts[0] == counts[1] and counts[0]["renewals_done"] > 0
    _same_outputs(tmp_path / "pure", tmp_path / "compiled")
