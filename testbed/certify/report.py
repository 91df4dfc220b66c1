"""The certification's outputs: ``certify.json`` (Inferno-style), ``certify.html``
(self-contained) and ``certify.junit.xml``.

``certify.json`` holds, per check, its id, title, suite, requirement references,
whether it is required, the verdict (pass, fail, skip, error), the reason, and the
evidence: the audit events it rests on (file, line, seq, kind, subject, data: each
exists in the hospital's audit log) and the adapter exchanges (request, answer, exit
code, standard error excerpt).
"""

from __future__ import annotations

import html
import json
from collections import Counter
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from testbed.certify.runner import Certification
from testbed.clock import isoformat
from testbed.verdicts import Verdict

__all__ = ["to_json", "write_outputs"]

JSON, HTML, JUNIT = "certify.json", "certify.html", "certify.junit.xml"


def to_json(done: Certification) -> dict[str, Any]:
    """The certification as ``certify.json`` holds it."""
    counts = Counter(r.verdict.value for r in done.results)
    return {
        "kit": "testbed certify",
        "format": 1,
        "scenario": done.scenario,
        "profile": done.profile,
        "adapter": list(done.adapter),
        "hospital": {"state_dir": str(done.state_dir), "audit_log": "events.jsonl"},
        "started": isoformat(done.started),
        "finished": None if done.finished is None else isoformat(done.finished),
        "certified": done.certified,
        "summary": {v.value: counts.get(v.value, 0) for v in Verdict},
        "checks": [r.to_json() for r in done.results],
    }


_STYLE = """body{font-family:system-ui,sans-serif;margin:2em;max-width:70em}
table{border-collapse:collapse;width:100%}td,th{border:1px solid #ccc;padding:.3em;
vertical-align:top;text-align:left}.pass{background:#dfd}.fail{background:#fdd}
.error{background:#fcb}.skip{background:#eee}details pre{white-space:pre-wrap;font-size:.8em}"""


def _row(check: dict[str, Any]) -> str:
    e = html.escape
    evidence = json.dumps(check["evidence"], indent=1)
    required = "required" if check["required"] else "optional"
    return (f'<tr class="{e(check["verdict"])}"><td><b>{e(check["id"])}</b></td>'
            f'<td>{e(check["title"])}<br><small>{e(", ".join(check["requirements"]))}; '
            f'{required}</small></td><td>{e(check["verdict"])}</td>'
            f'<td>{e(check["reason"])}<details><summary>how it is judged, evidence '
            f'({len(check["evidence"]["events"])} events, '
            f'{len(check["evidence"]["exchanges"])} exchanges)</summary>'
            f'<p>{e(check["description"])}</p><pre>{e(evidence)}</pre></details></td></tr>')


def to_html(report: dict[str, Any]) -> str:
    """``certify.html``: one page, no external resources."""
    e = html.escape
    verdict = "CERTIFIED" if report["certified"] else "NOT CERTIFIED"
    summary = ", ".join(f"{n} {v}" for v, n in report["summary"].items())
    rows = "\n".join(_row(c) for c in report["checks"])
    return (f"<!doctype html><html><head><meta charset=\"utf-8\"><title>testbed certify: "
            f"{e(report['profile'])}</title><style>{_STYLE}</style></head><body>"
            f"<h1>{verdict}: profile {e(report['profile'])}</h1>"
            f"<p>scenario {e(report['scenario'])}; adapter "
            f"<code>{e(' '.join(report['adapter']))}</code>; {e(summary)}; "
            f"{e(report['started'])} to {e(str(report['finished']))}; audit log "
            f"<code>{e(report['hospital']['state_dir'])}/events.jsonl</code></p>"
            f"<table><tr><th>check</th><th>title</th><th>verdict</th><th>reason</th></tr>"
            f"{rows}</table></body></html>\n")  # fmt: skip


def to_junit(report: dict[str, Any]) -> bytes:
    """JUnit XML: one test case per check (fail -> failure, error -> error, skip ->
    skipped)."""
    summary = report["summary"]
    suite = ElementTree.Element("testsuite", name=f"testbed certify {report['profile']}",
                                tests=str(len(report["checks"])),
                                failures=str(summary["fail"]), errors=str(summary["error"]),
                                skipped=str(summary["skip"]))  # fmt: skip
    for check in report["checks"]:
        case = ElementTree.SubElement(suite, "testcase", classname=f"certify.{check['suite']}",
                                      name=f"{check['id']} {check['title']}")  # fmt: skip
        tag = {"fail": "failure", "error": "error", "skip": "skipped"}.get(check["verdict"])
        if tag is not None:
            ElementTree.SubElement(case, tag, message=check["reason"])
    return bytes(ElementTree.tostring(suite, encoding="utf-8", xml_declaration=True))


def write_outputs(done: Certification, out: Path) -> dict[str, Path]:
    """Write the three files into ``out``; their paths."""
    out.mkdir(parents=True, exist_ok=True)
    report = to_json(done)
    paths = {"json": out / JSON, "html": out / HTML, "junit": out / JUNIT}
    paths["json"].write_text(json.dumps(report, indent=2) + "\n")
    paths["html"].write_text(to_html(report))
    paths["junit"].write_bytes(to_junit(report))
    return paths
