"""The story of a run: per-fault effects, the incident list and breakdowns.

Checked against values computed by hand on a small hospital, against the pilot's
known facts (its stale trust bundle and short CA outage change nothing, and the
report says so), and against the measures they must add up to on every shipped
scenario; a run read back from its directory tells the same story.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from testbed.report.directory import load_record
from testbed.report.story import BREAKDOWNS, NO_EFFECT, breakdowns, fault_effects, per_device
from testbed.runner import run_scenario, write_outputs

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "scenarios").glob("*.yaml"))

SMALL = """\
name: small
seed: 7
start: 2026-01-05T00:00:00Z
duration: 10d
recovery_window: 1d
sites:
  - {name: north, zones: [bedside, imaging, datacenter]}
services:
  - {name: ehr, kind: ehr, site: north, zone: datacenter}
  - {name: pacs-north, kind: pacs, site: north, zone: datacenter}
network:
  - {from: bedside, to: ehr}
  - {from: imaging, to: ehr}
  - {from: imaging, to: pacs-north}
fleet:
  - {profile: bedside-monitor-gateway, count: 2, site: north, zone: bedside, owner: icu}
  - {profile: ct-ai-onbox, count: 1, site: north, zone: imaging, owner: radiology}
faults:
  - {kind: blocked-route, from: bedside, to: ehr, start: 2d, end: 2d6h}
  - {kind: trust-bundle-stale, target: 'site:north', start: 5d, end: 5d1h}
expectations:
  unauthorized_access: 0
"""


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    path = tmp_path_factory.mktemp("small") / "small.yaml"
    path.write_text(SMALL, encoding="utf-8")
    return run_scenario(path).report.data


def test_a_blocked_route_by_hand(small: dict[str, Any]) -> None:
    """Two bedside gateways retry every 5 minutes (workload default) through a 6-hour
    block: 72 refusals each, 360 minutes down each, one incident each; the CT scanner
    in another zone is untouched."""
    route, stale = small["fault_effects"]
    assert route["target"] == "bedside->ehr"
    assert route["devices"] == ["bedside-monitor-gateway-north-001",
                                "bedside-monitor-gateway-north-002"]  # fmt: skip
    assert (route["denials"], route["downtime_minutes"]) == (144, 720.0)
    assert route["incidents"] == {"out-of-network-scope": 2}
    assert (route["data_lost"], route["renewals_missed"], route["effect"]) == (0, 0, "seen")
    assert stale["effect"] == NO_EFFECT and stale["devices_hit"] == 0
    incidents = small["incidents"]
    assert [(i["device"], i["opened"], i["closed"], i["minutes"], i["faults"])
            for i in incidents] == [
        (f"bedside-monitor-gateway-north-00{n}", "2026-01-07T00:00:00Z",
         "2026-01-07T06:00:00Z", 360.0, ["blocked-route bedside->ehr"])
        for n in (1, 2)
    ]  # fmt: skip
    assert all(i["playbook"].startswith("Is the device out of network scope?")
               for i in incidents)  # fmt: skip


def test_breakdowns_by_hand(small: dict[str, Any]) -> None:
    by = small["breakdowns"]
    assert set(by) == set(BREAKDOWNS)
    zones = {row["zone"]: row for row in by["zone"]}
    assert zones["bedside"]["devices"] == 2 and zones["bedside"]["downtime_minutes"] == 720
    assert zones["bedside"]["top"]["denials"] == [
        "bedside-monitor-gateway-north-001 (72)", "bedside-monitor-gateway-north-002 (72)"]
    assert zones["imaging"]["denials"] == 0 and zones["imaging"]["top"] == {}
    assert [row["ca"] for row in by["ca"]] == ["central issuing CA"]


def test_the_pilots_quiet_faults_say_no_effect_seen() -> None:
    data = run_scenario(ROOT / "scenarios" / "two-site-pilot.yaml").report.data
    effects = {f["kind"]: f for f in data["fault_effects"]}
    assert effects["trust-bundle-stale"]["effect"] == NO_EFFECT
    assert effects["ca-outage"]["effect"] == NO_EFFECT  # 2 days against 30-day leaves
    route = effects["blocked-route"]
    assert route["target"] == "bedside->ehr at south" and route["sites"] == ["south"]
    assert route["devices_hit"] == 3 and route["downtime_minutes"] == 720.0
    agent = effects["renewal-agent-broken"]
    assert agent["devices"] == ["bedside-monitor-gateway-north-001"]
    assert agent["renewals_missed"] == 1 and agent["incidents"] == {"certificate-invalid": 1}


@pytest.mark.parametrize("scenario", SHIPPED, ids=lambda p: p.stem)
def test_the_story_adds_up_to_the_measures(scenario: Path, tmp_path: Path) -> None:
    result = run_scenario(scenario, out=tmp_path)
    measures, record = result.report.measures, result.record
    devices = per_device(record)
    total = sum(d["downtime_minutes"] for d in devices.values())
    assert total == pytest.approx(measures["clinical_downtime_minutes"], abs=1e-6)
    assert len(record.incidents) == measures["incidents"]
    assert sum(d["data_lost"] for d in devices.values()) == measures["data_lost"]
    assert sum(d["unauthorized_access"] for d in devices.values()) == \
        measures["unauthorized_access"]  # fmt: skip
    for by, rows in breakdowns(record).items():
        assert sum(r["devices"] for r in rows) == len(record.groups), by
        assert sum(r["downtime_minutes"] for r in rows) == pytest.approx(total), by
    # the same story read back from the run's directory (folded from events.jsonl)
    write_outputs(result, tmp_path)
    again = load_record(tmp_path)
    assert [(i.device, i.category, i.opened, i.closed) for i in again.incidents] == \
        [(i.device, i.category, i.opened, i.closed) for i in record.incidents]  # fmt: skip
    assert fault_effects(again) == fault_effects(record)


def test_provenance_names_the_tool_and_the_scenario_content(tmp_path: Path) -> None:
    from importlib import metadata

    first = tmp_path / "a" / "small.yaml"
    moved = tmp_path / "b" / "renamed.yaml"
    for path, text in ((first, SMALL), (moved, "# a comment\n" + SMALL)):
        path.parent.mkdir()
        path.write_text(text, encoding="utf-8")
    one = run_scenario(first).report.data["provenance"]
    assert one == {
        "tool": "hospital-device-identity-testbed",
        "version": metadata.version("hospital-device-identity-testbed"),
        "scenario": "small", "scenario_sha256": one["scenario_sha256"], "seed": 7,
        "fidelity": "full", "transport": "simulation",
    }  # fmt: skip
    assert len(one["scenario_sha256"]) == 64
    same = run_scenario(moved).report.data["provenance"]
    assert same["scenario_sha256"] == one["scenario_sha256"]  # content, not file or place
    other = run_scenario(first, seed=8).report.data["provenance"]
    assert other["scenario_sha256"] != one["scenario_sha256"] and other["seed"] == 8
