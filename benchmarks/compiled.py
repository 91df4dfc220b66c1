"""The testbed's hot path compiled with mypyc: a speed build, the same code.

``python -m benchmarks.compiled`` (``make compiled``) copies ``testbed/`` to
``build/compiled/testbed`` and compiles the modules of :data:`MODULES` there with
mypyc (part of mypy, which the project already type-checks with; it turns
type-annotated modules into C extensions, as black and mypy ship themselves).  Run
a script or the ``testbed`` command with ``PYTHONPATH=build/compiled`` and ``import
testbed`` finds that copy, its compiled modules ahead of their sources; everything
else in it is the same Python (``python -m`` puts the working directory first:
:func:`environment`).  Nothing in ``testbed/`` changes, and the default install stays pure Python
(a fresh machine needs no C compiler for ``make demo`` or ``make test``).

What it buys is measured, never assumed: ``benchmarks.run --compiled-sizes`` runs
the benchmark scenario under this build beside the pure one, and
``tests/bench/test_compiled.py`` requires byte-identical ``events.jsonl`` and
``report.json`` for every shipped scenario and the benchmark scenario, and that the
compiled modules were the ones imported.

Why these modules: they are what a year of traffic, renewals and decisions runs
through (the steady turns and the engine, the access point and its hops, the log,
the listeners, the inventory, EST, the CA and its records, the modeled PKI, the
device processes).  Left out: modules whose dataclasses name a type imported only for
type checking, in an import cycle (``pki/fidelity``, ``sim/context``: a compiled
dataclass resolves its field types when it is built; the CA's value types moved to
``pki/issuance`` so that ``pki/ca`` and ``pki/records`` could join), and everything
outside the year's hot path.  Code in a compiled module must not rely on the
identity of a tuple it reads back (mypyc unboxes tuples of known types:
:mod:`testbed.sim.traffic` compares queue heads by a flag for that reason), and a
compiled class cannot be patched at run time (the benchmark's phase timers run on
the pure build).

The build is cached: it is redone only when a source under ``testbed/``, this list
or mypy's version changed (``build/compiled/.digest``).
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

__all__ = ["MODULES", "OUT", "build", "environment", "main"]

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "build" / "compiled"

#: compiled with mypyc, as paths under testbed/ (one group: calls between them are native)
MODULES = (
    "access.py",
    "clock.py",
    "decisions.py",
    "drift_index.py",
    "drift_watch.py",
    "events.py",
    "hops.py",
    "inventory.py",
    "lifecycle.py",
    "metrics.py",
    "oracle.py",
    "revision.py",
    "standing.py",
    "pki/ca.py",
    "pki/est.py",
    "pki/issuance.py",
    "pki/leaf.py",
    "pki/modeled.py",
    "pki/outage.py",
    "pki/records.py",
    "pki/renewal.py",
    "pki/revocation.py",
    "pki/trust.py",
    "pki/verify.py",
    "sim/agent.py",
    "sim/device.py",
    "sim/enrollment.py",
    "sim/schedule.py",
    "sim/traffic.py",
)


def _sources(root: Path) -> list[Path]:
    return sorted(p for p in (root / "testbed").rglob("*")
                  if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".so")


def _digest(root: Path) -> str:
    """What the build depends on: every source file, the module list, mypy's version."""
    h = hashlib.sha256()
    h.update(repr(MODULES).encode())
    h.update(metadata.version("mypy").encode())
    h.update(sys.version.encode())
    for path in _sources(root):
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def build(root: Path = ROOT, out: Path = OUT, *, force: bool = False) -> Path:
    """Build (or find up to date) the compiled copy; the directory to put on PYTHONPATH.

    Raises :class:`RuntimeError` with mypyc's output when it fails."""
    digest = _digest(root)
    out.parent.mkdir(parents=True, exist_ok=True)
    # one build at a time (test workers may ask together): the others wait, then find it
    with open(out.parent / f"{out.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stamp = out / ".digest"
        if not force and stamp.is_file() and stamp.read_text(encoding="utf-8") == digest:
            return out
        _build(root, out, digest)
    return out


def _build(root: Path, out: Path, digest: str) -> None:
    started = time.perf_counter()
    print(f"compiling {len(MODULES)} modules of testbed/ with mypyc into {out} "
          "(a few minutes) ...", file=sys.stderr, flush=True)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    shutil.copytree(root / "testbed", out / "testbed",
                    ignore=shutil.ignore_patterns("__pycache__", "*.so"))
    # the package finds its fixtures beside itself (testbed/crosscheck.py)
    (out / "fixtures").symlink_to(root / "fixtures", target_is_directory=True)
    # the project's own mypy settings; no pyproject.toml in the build directory, so
    # setuptools (which builds the extensions there) does not read the project's table
    done = subprocess.run(
        [sys.executable, "-m", "mypyc", "--config-file", str(root / "pyproject.toml"),
         *(f"testbed/{m}" for m in MODULES)],
        cwd=out, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False,
    )
    if done.returncode != 0:
        tail = "\n".join(done.stdout.splitlines()[-40:])
        raise RuntimeError(f"mypyc failed (exit {done.returncode}) in {out}:\n{tail}")
    (out / ".digest").write_text(digest, encoding="utf-8")
    print(f"compiled in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)


def environment(out: Path = OUT) -> tuple[Path, dict[str, str]]:
    """Where to run a ``python -m`` command and with which environment so that
    ``import testbed`` finds the compiled copy (``-m`` puts the working directory
    first on ``sys.path``, so it runs in ``out``) and ``import benchmarks`` the
    checkout's."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join((str(out), str(ROOT)))
    return out, env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.compiled", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--force", action="store_true", help="build even if up to date")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    try:
        out = build(out=args.out, force=args.force)
    except RuntimeError as error:
        print(error, file=sys.stderr)
        return 1
    print(f"PYTHONPATH={out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
