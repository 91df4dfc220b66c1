"""``testbed pacs-check``'s report: a table on the terminal, JSON and JUnit XML files."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from xml.etree import ElementTree

from rich.table import Table

from testbed.live.pacs_check.checks import Outcome, Target, summary

__all__ = ["table", "write_json", "write_junit"]


def table(target: Target, outcomes: list[Outcome]) -> Table:
    """One row per check: id, what it checks, PASS/FAIL, what was seen."""
    title = f"pacs-check {target.host}:{target.port} (called AE {target.called_ae})"
    out = Table(title=title)
    for column in ("check", "expectation", "verdict", "observed"):
        out.add_column(column)
    for o in outcomes:
        verdict = "[green]PASS[/]" if o.passed else "[red]FAIL[/]"
        out.add_row(o.id, o.description, verdict, o.observed)
    return out


def write_json(path: Path, target: Target, outcomes: list[Outcome]) -> None:
    """The target, every outcome and the summary, as JSON."""
    body = {"target": asdict(target), "summary": summary(outcomes),
            "checks": [asdict(o) for o in outcomes]}  # fmt: skip
    path.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")


def write_junit(path: Path, target: Target, outcomes: list[Outcome]) -> None:
    """One JUnit test case per check; a failed check carries what was observed."""
    failed = [o for o in outcomes if not o.passed]
    suite = ElementTree.Element("testsuite", name=f"pacs-check {target.host}:{target.port}",
                                tests=str(len(outcomes)), failures=str(len(failed)),
                                time=f"{sum(o.seconds for o in outcomes):.3f}")  # fmt: skip
    for o in outcomes:
        case = ElementTree.SubElement(suite, "testcase", classname="pacs-check", name=o.id,
                                      time=f"{o.seconds:.3f}")  # fmt: skip
        if not o.passed:
            failure = ElementTree.SubElement(case, "failure", message=o.description)
            failure.text = o.observed
        else:
            ElementTree.SubElement(case, "system-out").text = o.observed
    ElementTree.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)
