"""``testbed validate``: every problem of every file in one run, located, with advice.

A file with ten different mistakes gets ten messages with their lines and columns in
file order; misspelled keys and values get a "did you mean"; warnings name fleets that
cannot work and ``--strict`` makes them errors; ``--format json|github`` are for tools.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from testbed.cli import main

# ten mistakes (a misspelled key is two problems: the unknown key, the missing one)
TEN_MISTAKES = """\
name: ten
seed: "7"
start: 2026-01-05T00:00:00+01:00
duration: 5days
recovery_window: 1d
sites:
  - name: north
    zonez: [imaging, datacenter]
services:
  - {name: pacs-north, kind: pacss, site: north, zone: datacenter}
  - {name: ehr, kind: ehr, site: north, zone: datacenter}
network:
  - {from: imaging, to: pacs-north}
fleet:
  - {profile: ct-ai-onbox, count: 0, site: north, zone: imaging}
faults:
  - {kind: ca_outage, start: 1d, end: 2d}
  - {kind: clock-skew, target: 'device:x', ofset: 1h, start: 1d, end: 2d}
expectations:
  unauthorised_access: 0
"""

EXPECTED = [  # (line, column, field, fragment of the message, suggestion)
    (2, 1, "seed", "a whole number", None),
    (3, 1, "start", "UTC+0100", None),
    (4, 1, "duration", "a duration like", None),
    (7, 5, "sites[0].zones", "this required field", None),
    (8, 5, "sites[0].zonez", "a known field here", "zones"),
    (10, 24, "services[0].kind", "'pacs'", "pacs"),
    (15, 5, "fleet[0].owner", "this required field", None),
    (15, 28, "fleet[0].count", "at least 1", None),
    (17, 6, "faults[0].kind", "one of 'renewal-agent-broken'", "ca-outage"),
    (18, 5, "faults[1].offset", "this required field", None),
    (18, 44, "faults[1].ofset", "a known field here", "offset"),
    (20, 3, "expectations.unauthorised_access", "'unauthorized_access'", "unauthorized_access"),
]

_LINE = re.compile(r"(?P<file>[^:]+):(?P<line>\d+):(?P<column>\d+): error: (?P<field>[^:]+): "
                   r"expected (?P<rest>.*)")  # fmt: skip


def test_ten_mistakes_get_every_message_in_one_run(
    write_scenario: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_scenario(TEN_MISTAKES)
    assert main(["validate", str(path)]) == 2
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert lines[-1] == f"{len(EXPECTED)} problems in 1 of 1 file"
    found = [_LINE.fullmatch(line) for line in lines[:-1]]
    assert all(found), lines
    got = [(int(m["line"]), int(m["column"]), m["field"], m["rest"]) for m in found if m]
    assert [g[:3] for g in got] == [e[:3] for e in EXPECTED]  # file order, located
    for (_, _, _, rest), (_, _, _, fragment, hint) in zip(got, EXPECTED, strict=True):
        assert fragment in rest
        assert (f"did you mean {hint!r}?" in rest) if hint else ("did you mean" not in rest)
    assert out == ""


def test_json_lists_every_finding_for_tools(
    write_scenario: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_scenario(TEN_MISTAKES)
    assert main(["validate", "--format", "json", str(path)]) == 2
    report = json.loads(capsys.readouterr().out)
    assert report["failed"] == len(EXPECTED) and report["files"] == 1
    rows = report["findings"]
    assert [(r["line"], r["column"], r["field"]) for r in rows] == [e[:3] for e in EXPECTED]
    assert {r["severity"] for r in rows} == {"error"}
    assert rows[4]["hint"] == "zones" and rows[5]["got"] == "pacss"


def test_github_format_annotates_the_lines(
    write_scenario: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_scenario(TEN_MISTAKES)
    assert main(["validate", "--format", "github", str(path)]) == 2
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(EXPECTED)
    file = str(path).replace(":", "%3A").replace(",", "%2C")
    assert lines[0] == f"::error file={file},line=2,col=1,title=seed::expected a whole number, " \
        "not text (write it without quotes) (got '7')"
    assert lines[4].startswith(f"::error file={file},line=8,col=5,title=sites[0].zonez::")


def test_several_files_are_checked_in_one_run(
    write_scenario: Callable[..., Path], tiny_scenario: str, capsys: pytest.CaptureFixture[str]
) -> None:
    good = write_scenario(tiny_scenario, name="good.yaml")
    bad = write_scenario(tiny_scenario.replace("count: 2", "count: two"), name="bad.yaml")
    assert main(["validate", str(good), str(bad)]) == 2
    out, err = capsys.readouterr()
    assert out == f"{good}: valid (1 site, 2 devices, 0 faults, 1 expectation)\n"
    assert err.splitlines() == [
        f"{bad}:16:28: error: fleet[0].count: expected a whole number, not text "
        "(write it without quotes) (got 'two')",
        "1 problem in 1 of 2 files",
    ]
    assert main(["validate", str(good), str(good)]) == 0


@pytest.mark.parametrize(
    ("start", "why"),
    [("2026-01-05T00:00:00+02:00", "UTC+0200"), ("2026-01-05T00:00:00", "no time zone")],
)
def test_a_time_outside_utc_is_refused_not_converted(
    write_scenario: Callable[..., Path], tiny_scenario: str, start: str, why: str,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    path = write_scenario(tiny_scenario.replace("2026-01-05T00:00:00Z", start))
    assert main(["validate", str(path)]) == 2
    first = capsys.readouterr().err.splitlines()[0]
    assert first.startswith(f"{path}:3:1: error: start: expected a UTC time such as ")
    assert why in first


# --- warnings ---------------------------------------------------------------------

NO_ROUTE = ("network:\n  - {from: imaging, to: pacs-north}\n  - {from: imaging, to: ehr}\n",
            "network:\n  - {from: imaging, to: pacs-north}\n")  # fmt: skip


def _profiles(tmp_path: Path, **changes: str) -> None:
    """A copy of the shipped profiles with ``ct-ai-onbox``'s lines changed."""
    from testbed.crosscheck import DEFAULT_PROFILES

    target = tmp_path / "profiles"
    target.mkdir()
    for source in DEFAULT_PROFILES.glob("*.yaml"):
        text = source.read_text(encoding="utf-8")
        if source.stem == "ct-ai-onbox":
            for key, value in changes.items():
                text = re.sub(rf"(?m)^{key}:.*$", f"{key}: {value}", text)
        (target / source.name).write_text(text, encoding="utf-8")


@pytest.mark.parametrize(
    ("case", "code", "fragment"),
    [
        ("no-route", "no-route", "no network rule lets zone 'imaging' at 'north' reach 'ehr'"),
        ("lifetime-capped", "lifetime-capped", "allows certificates of at most 10d"),
        ("manual-renewal-too-slow", "manual-renewal-too-slow",
         "renewal window (lifetime 2d x (1 - renew_at 0.66) = 16h19m12s) is shorter than"),
    ],
)  # fmt: skip
def test_each_warning_class_and_strict(
    write_scenario: Callable[..., Path], tiny_scenario: str, tmp_path: Path, case: str,
    code: str, fragment: str, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    text = tiny_scenario
    if case == "no-route":
        text = text.replace(*NO_ROUTE)
    else:
        text = text.replace("seed: 7", "seed: 7\nprofiles_dir: profiles")
        if case == "lifetime-capped":
            _profiles(tmp_path, max_validity="10d")
        else:
            text = text.replace("recovery_window: 1d", "recovery_window: 1d\npki: {lifetime: 2d}")
            _profiles(tmp_path, automated_renewal="false")
    path = write_scenario(text)
    assert main(["validate", str(path)]) == 0  # a warning alone passes
    out, err = capsys.readouterr()
    assert "warning: fleet[0]" in err and fragment in err, err
    assert out.startswith(f"{path}: valid")
    assert main(["validate", "--strict", "--format", "json", str(path)]) == 2
    rows = json.loads(capsys.readouterr().out)["findings"]
    assert [r["code"] for r in rows] == [code]
    assert rows[0]["line"] == {"no-route": 15, "lifetime-capped": 17}.get(case, 18)


def test_the_shipped_scenarios_are_valid(capsys: pytest.CaptureFixture[str]) -> None:
    shipped = sorted(Path(__file__).resolve().parents[2].joinpath("scenarios").glob("*.yaml"))
    assert main(["validate", *map(str, shipped)]) == 0
    out = capsys.readouterr().out
    assert out.count(": valid (") == len(shipped)
