"""A phased migration: devices ranked by the seed's three factors, phases in rank
order, and each phase a valid design between the flat start and the target."""

from __future__ import annotations

from pathlib import Path

import pytest

from testbed import network
from testbed.devices import DeviceClass
from testbed.errors import ScenarioError
from testbed.network.migration import UNMIGRATED, load_priorities
from testbed.study import topology

ROOT = Path(__file__).resolve().parents[3]
PILOT = topology(ROOT / "scenarios" / "two-site-pilot.yaml")
ZERO = network.load_design("zero-trust-microsegmentation")


def test_devices_are_ranked_by_their_weighted_score() -> None:
    ranking = network.rank_devices(PILOT)
    assert list(ranking["Rank"]) == list(range(1, 13))
    assert list(ranking["Score"]) == sorted(ranking["Score"], reverse=True)
    # 0.4 x impact + 0.35 x sensitivity + 0.25 x age, from fixtures/network/migration.yaml
    first = ranking.iloc[0]
    assert first["Profile"] == "ct-ai-onbox" and first["Score"] == pytest.approx(4.25)
    ultrasound = ranking[ranking["Profile"] == "legacy-ultrasound"].iloc[0]
    assert ultrasound["Technical_Age"] == 5 and ultrasound["Score"] == pytest.approx(3.85)


def test_phases_follow_the_ranking_and_cover_every_class_once() -> None:
    phases = network.phases_by_rank(network.rank_devices(PILOT), 3)
    assert phases == [(DeviceClass.IMAGING_MODALITY, DeviceClass.BEDSIDE_MONITOR_GATEWAY),
                      (DeviceClass.ULTRASOUND,), (DeviceClass.AI_INFERENCE_SERVER,)]  # fmt: skip
    with pytest.raises(ValueError, match="between 1 and 4"):
        network.phases_by_rank(network.rank_devices(PILOT), 5)


def test_a_phase_moves_only_its_classes(tmp_path: Path) -> None:
    phase = network.phase_design(ZERO, [DeviceClass.BEDSIDE_MONITOR_GATEWAY], name="phase-1")
    assert phase.groups[0].name == UNMIGRATED
    # a file made from it loads back equal, through the same validation as any design
    path = tmp_path / "phase-1.yaml"
    path.write_text(network.design_text(phase), encoding="utf-8")
    assert network.load_design(path) == phase
    reach = network.blast_radius(phase, PILOT).set_index("Src")
    flat = network.blast_radius("flat-shared-credentials", PILOT).set_index("Src")
    zero = network.blast_radius(ZERO, PILOT).set_index("Src")
    moved, kept = "bedside-monitor-gateway-north-001", "ct-ai-onbox-north-001"
    assert reach.loc[moved, "Reachable"] == zero.loc[moved, "Reachable"]  # zero trust's rules
    # the other unmigrated devices only: two CTs, the inference box, the ultrasound
    assert reach.loc[kept, "Reachable_Devices"] == 4
    assert reach.loc[kept, "Reachable_Devices"] < flat.loc[kept, "Reachable_Devices"]
    everything = network.phase_design(ZERO, list(DeviceClass), name="done")
    assert everything.groups == ZERO.groups and everything.rules == ZERO.rules


def test_a_priorities_file_is_validated_at_the_boundary(tmp_path: Path) -> None:
    bad = tmp_path / "priorities.yaml"
    bad.write_text("weights: {clinical_impact: 1}\nprofiles:\n"
                   "  ct-ai-onbox: {clinical_impact: 6, data_sensitivity: 1, technical_age: 1}\n",
                   encoding="utf-8")  # fmt: skip
    with pytest.raises(ScenarioError, match=r"profiles\.ct-ai-onbox\.clinical_impact"):
        load_priorities(bad)
    bad.write_text("weights: {beauty: 1}\nprofiles: {}\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"weights\.beauty: expected one of"):
        load_priorities(bad)
    partial = load_priorities(ROOT / "fixtures" / "network" / "migration.yaml")
    only_ct = type(partial)(partial.weights, {"ct-ai-onbox": partial.profiles["ct-ai-onbox"]})
    with pytest.raises(ValueError, match="no scores for profile 'ai-inference-edge'"):
        network.rank_devices(PILOT, only_ct)
