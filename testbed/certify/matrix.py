"""The compatibility matrix (seed §6): device x check, with the profile's capabilities.

One row per certified device (adapter) and profile: the verdict of every check, whether
it is certified, and what the profile declares (enrollment protocols, key types,
maximum validity, automated renewal, store and forward, FHIR versions, DICOM TLS) next
to what the run saw (``dicom_tls_negotiated``: the TLS versions of the device's
associations the PACS accepted in the DICOM checks), as ``matrix.csv`` and a
self-contained ``matrix.html``.
"""

from __future__ import annotations

import csv
import html
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from testbed.certify.runner import Certification
from testbed.devices import DeviceProfile
from testbed.units import format_duration

__all__ = ["CAPABILITIES", "OBSERVED", "matrix_rows", "write_matrix"]

CAPABILITIES = ("enrollment_protocols", "key_types", "max_validity", "automated_renewal",
                "store_and_forward", "fhir_versions", "dicom_tls")  # fmt: skip
OBSERVED = ("dicom_tls_negotiated",)


def _negotiated(done: Certification) -> str:
    """The TLS versions of the accepted DICOM associations of the DICOM checks."""
    versions = {str(e.data.get("tls_version")) for r in done.results if r.check.suite == "dicom"
                for e in r.evidence.events
                if e.kind == "dicom-association" and e.data.get("allowed")}  # fmt: skip
    return " ".join(sorted(versions)) or "-"


def _capability(profile: DeviceProfile, name: str) -> str:
    value = getattr(profile, name)
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, tuple):
        return " ".join(str(v) for v in value) or "-"
    return str(value)


def matrix_rows(
    runs: Sequence[tuple[str, Certification, DeviceProfile]],
) -> tuple[list[str], list[list[str]]]:
    """The header and one row per ``(device label, certification, profile)``."""
    checks: list[str] = []
    for _, done, _ in runs:
        checks += [r.check.id for r in done.results if r.check.id not in checks]
    header = ["device", "profile", "certified", *checks, *CAPABILITIES, *OBSERVED]
    rows = []
    for label, done, profile in runs:
        verdicts = {r.check.id: r.verdict.value for r in done.results}
        rows.append([label, profile.id, "yes" if done.certified else "no",
                     *(verdicts.get(c, "-") for c in checks),
                     *(_capability(profile, c) for c in CAPABILITIES),
                     _negotiated(done)])  # fmt: skip
    return header, rows


def write_matrix(
    runs: Sequence[tuple[str, Certification, DeviceProfile]], out: Path
) -> tuple[Path, Path]:
    """Write ``matrix.csv`` and ``matrix.html`` into ``out``; their paths."""
    header, rows = matrix_rows(runs)
    table = out / "matrix.csv"
    with table.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        writer.writerows(rows)
    e = html.escape
    head = "".join(f"<th>{e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f'<td class="{e(c)}">{e(c)}</td>' for c in row) + "</tr>"
                   for row in rows)  # fmt: skip
    page = out / "matrix.html"
    page.write_text(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>compatibility matrix"
        "</title><style>body{font-family:system-ui,sans-serif;margin:2em}table{border-"
        "collapse:collapse}td,th{border:1px solid #ccc;padding:.3em}.pass{background:#dfd}"
        ".fail{background:#fdd}.error{background:#fcb}.skip{background:#eee}</style></head>"
        f"<body><h1>Compatibility matrix</h1><table><tr>{head}</tr>{body}</table></body>"
        "</html>\n", encoding="utf-8")  # fmt: skip
    return table, page
