"""``testbed validate``: every problem in every file at once, as text, JSON or CI annotations.

:func:`check` loads one scenario file the way ``testbed run`` does and keeps what it
found: the errors (each with its line and column, from
:class:`~testbed.errors.ScenarioError`) or, for a valid file, the warnings of
:mod:`testbed.advice`.  :func:`render` writes the findings of many files:

- ``text``: ``file:line:column: error: field: expected ...`` (as compilers write it,
  so editors and terminals link to the line), then a summary;
- ``json``: one object per finding (file, line, column, field, severity, code,
  message, expected, got, hint), for tools;
- ``github``: GitHub Actions workflow commands (``::error file=...,line=...::``),
  which annotate the lines of a pull request.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from testbed.advice import advise
from testbed.crosscheck import profiles_for
from testbed.devices import load_profiles
from testbed.errors import ScenarioError
from testbed.inputs import load_located
from testbed.positions import parse_field_path
from testbed.scenario import Scenario, load_scenario

__all__ = ["FileCheck", "Finding", "Format", "check", "diagnostics", "render"]


class Format(StrEnum):
    """How ``testbed validate`` writes its findings."""

    TEXT = "text"
    JSON = "json"
    GITHUB = "github"


@dataclass(frozen=True, slots=True)
class Finding:
    """One error or warning at one place of one file."""

    file: str
    severity: str  # "error" or "warning"
    field: str
    message: str
    line: int | None = None
    column: int | None = None
    code: str | None = None
    expected: str | None = None
    got: object = None
    hint: str | None = None

    def diagnostic(self, *, strict: bool = False) -> str:
        """``file:line:column: error: field: message``, as compilers write it."""
        place = self.file if self.line is None else f"{self.file}:{self.line}:{self.column or 1}"
        severity = "error" if self.severity == "error" or strict else "warning"
        field = f"{self.field}: " if self.field else ""
        return f"{place}: {severity}: {field}{self.message}"

    def as_json(self) -> dict[str, object]:
        """The finding as JSON-ready values."""
        got = self.got if isinstance(self.got, str | int | float | bool) else None
        return {"file": self.file, "line": self.line, "column": self.column,
                "field": self.field, "severity": self.severity, "code": self.code,
                "message": self.message, "expected": self.expected, "got": got,
                "hint": self.hint}  # fmt: skip


@dataclass(frozen=True, slots=True)
class FileCheck:
    """What checking one file found; ``scenario`` when it is valid."""

    file: str
    findings: tuple[Finding, ...] = ()
    scenario: Scenario | None = None
    deprecations: tuple[str, ...] = field(default=())

    def errors(self, *, strict: bool) -> int:
        """Findings that fail the check (warnings too when ``strict``)."""
        return sum(1 for f in self.findings if f.severity == "error" or strict)


def check(path: Path) -> FileCheck:
    """Load ``path`` as ``testbed run`` would and keep every finding."""
    file = str(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DeprecationWarning)
        try:
            scenario = load_scenario(path)
        except ScenarioError as error:
            return FileCheck(file, tuple(_error(p) for p in error.problems))
    deprecations = tuple(str(w.message) for w in caught if w.category is DeprecationWarning)
    profiles = load_profiles(profiles_for(scenario, path.parent))
    _, where = load_located(path)
    findings = []
    for advice in advise(scenario, profiles):
        at = where.of(parse_field_path(advice.field))
        findings.append(Finding(file, "warning", advice.field, advice.message,
                                at[0] if at else None, at[1] if at else None,
                                code=advice.code))  # fmt: skip
    return FileCheck(file, tuple(findings), scenario, deprecations)


def diagnostics(error: ScenarioError) -> list[str]:
    """Every problem ``error`` carries, one diagnostic line each (``testbed run`` and
    every command that reads a scenario print these)."""
    return [_error(problem).diagnostic() for problem in error.problems]


def _error(problem: ScenarioError) -> Finding:
    message = problem.sentence().removeprefix(f"{problem.file}: ")
    message = message.removeprefix(f"{problem.field}: ") if problem.field else message
    return Finding(problem.file, "error", problem.field, message, problem.line,
                   problem.column, expected=problem.expected, got=problem.got,
                   hint=problem.hint)  # fmt: skip


def render(checks: Sequence[FileCheck], form: Format, *, strict: bool) -> tuple[str, str]:
    """The findings of ``checks`` as ``form``: (standard output, standard error).  Text
    writes its diagnostics to standard error, as compilers do, and names each valid
    file on standard output; JSON and annotations are all standard output."""
    if form is Format.JSON:
        rows = [f.as_json() for c in checks for f in c.findings]
        return json.dumps({"files": len(checks), "findings": rows,
                           "failed": sum(c.errors(strict=strict) for c in checks)},
                          indent=2) + "\n", ""  # fmt: skip
    if form is Format.GITHUB:
        return "".join(_annotation(f, strict=strict) for c in checks for f in c.findings), ""
    return _text(checks, strict=strict)


def _text(checks: Sequence[FileCheck], *, strict: bool) -> tuple[str, str]:
    lines: list[str] = []
    valid: list[str] = []
    for c in checks:
        for note in c.deprecations:
            lines.append(f"warning: {note}")
        lines.extend(f.diagnostic(strict=strict) for f in c.findings)
        if c.scenario is not None and not c.errors(strict=strict):
            valid.append(f"{c.file}: valid ({_summary(c.scenario)})\n")
    failed = sum(c.errors(strict=strict) for c in checks)
    bad_files = sum(1 for c in checks if c.errors(strict=strict))
    if failed:
        lines.append(f"{failed} problem{'s' if failed != 1 else ''} in {bad_files} of "
                     f"{len(checks)} file{'s' if len(checks) != 1 else ''}")  # fmt: skip
    return "".join(valid), "".join(f"{line}\n" for line in lines)


def _summary(scenario: Scenario) -> str:
    devices = sum(g.count for g in scenario.fleet)
    parts = [(len(scenario.sites), "site"), (devices, "device"),
             (len(scenario.faults), "fault"), (len(scenario.expectations), "expectation")]
    return ", ".join(f"{n:,} {word}{'s' if n != 1 else ''}" for n, word in parts)


def _annotation(f: Finding, *, strict: bool) -> str:
    """A GitHub Actions workflow command for one finding."""
    level = "error" if f.severity == "error" or strict else "warning"
    props = [f"file={_escape(f.file, prop=True)}"]
    if f.line is not None:
        props.append(f"line={f.line}")
        if f.column is not None:
            props.append(f"col={f.column}")
    if f.field:
        props.append(f"title={_escape(f.field, prop=True)}")
    return f"::{level} {','.join(props)}::{_escape(f.message, prop=False)}\n"


def _escape(text: str, *, prop: bool) -> str:
    """GitHub's escaping of workflow command data (and of property values)."""
    out = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return out.replace(":", "%3A").replace(",", "%2C") if prop else out
