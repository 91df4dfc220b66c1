"""The cross-check reports every problem of a file at once, in file order, each with
its line and a "did you mean" where a known name is close (issue 14)."""

from __future__ import annotations

from pathlib import Path

import pytest

from testbed.errors import ScenarioError
from testbed.scenario import load_scenario

BAD = """\
name: bad
seed: 1
start: 2026-01-05T00:00:00Z
duration: 30d
sites:
  - {name: north, zones: [imaging, bedside]}
services:
  - {name: pacs-north, kind: pacs, site: north, zone: imaging}
  - {name: ehr-north, kind: ehr, site: north, zone: imaging}
fleet:
  - {profile: ct-ai-onbox, count: 2, site: nort, zone: imaging, owner: r}
  - {profile: bedside-monitor-gatway, count: 2, site: north, zone: bedsid, owner: r}
faults:
  - {kind: ca-outage, start: 1d, end: 40d}
  - {kind: renewal-agent-broken, target: gruop:ct-ai-onbox-nort, start: 1d, end: 2d}
  - {kind: clock-skew, target: device:ct-ai-onbox-nort-01, offset: 1h, start: 1d, end: 2d}
operations:
  - {at: 3d, action: offboard, target: site:nrth}
  - {at: 31d, action: resume, target: site:north}
"""


@pytest.fixture
def problems(tmp_path: Path) -> tuple[ScenarioError, ...]:
    path = tmp_path / "bad.yaml"
    path.write_text(BAD, encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    return caught.value.problems


def test_every_problem_at_once_in_file_order(problems: tuple[ScenarioError, ...]) -> None:
    found = [(p.line, p.field, p.got, p.hint) for p in problems]
    assert found == [
        (11, "fleet[0].site", "nort", "north"),
        (12, "fleet[1].profile", "bedside-monitor-gatway", "bedside-monitor-gateway"),
        (12, "fleet[1].zone", "bedsid", "bedside"),
        (14, "faults[0].end", None, None),
        (15, "faults[1].target", "gruop:ct-ai-onbox-nort", "group:ct-ai-onbox-nort"),
        (16, "faults[2].target", "device:ct-ai-onbox-nort-01", "ct-ai-onbox-nort-001"),
        (18, "operations[0].target", "nrth", "north"),
        (19, "operations[1].at", None, None),
        (19, "operations[1].at", None, None),
    ]


def test_the_message_lists_every_problem_with_did_you_mean(
    problems: tuple[ScenarioError, ...],
) -> None:
    error = ScenarioError.of(problems)
    lines = str(error).splitlines()
    assert len(lines) == len(problems) == 9
    assert "did you mean 'bedside'?" in lines[2]


def test_a_check_that_needs_a_wrong_name_is_skipped(problems: tuple[ScenarioError, ...]) -> None:
    """An unknown site gives one message: not a second one for its zone; an unknown
    profile: not one for its enrollment, AE titles or services."""
    fields = [p.field for p in problems]
    assert "fleet[0].zone" not in fields
    assert fields.count("fleet[1].profile") == 1


def test_one_problem_is_still_one_error(tmp_path: Path) -> None:
    path = tmp_path / "one.yaml"
    path.write_text(BAD.split("fleet:")[0] + "fleet:\n"
                    "  - {profile: ct-ai-onbox, count: 2, site: north, zone: imagin, owner: r}\n",
                    encoding="utf-8")  # fmt: skip
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert len(caught.value.problems) == 1
    assert (caught.value.line, caught.value.hint) == (11, "imaging")
