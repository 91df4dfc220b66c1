"""Where a device of a profile may send to a service: every site and zone with the
network hop's decision (the running hospital's answer, which ``pacs-check`` asks to
place its devices whatever the scenario's network: an allow list or a design)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from testbed.errors import RegistrationError
from testbed.live.hospital import LiveHospital


def _hospital(repo_root: Path, tmp_path: Path, design: str | None = None) -> LiveHospital:
    data = yaml.safe_load((repo_root / "scenarios" / "two-site-pilot.yaml").read_text())
    if design is not None:
        data["design"] = design
        data.pop("network", None)
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return LiveHospital.from_file(path)


def _allowed(zones: list[dict[str, object]]) -> list[tuple[object, object]]:
    return [(z["site"], z["zone"]) for z in zones if z["allowed"]]


def test_the_allow_list_lets_only_the_imaging_zone_reach_the_pacs(
    repo_root: Path, tmp_path: Path
) -> None:
    zones = _hospital(repo_root, tmp_path).zones_reaching("pacs-north", "ct-ai-onbox")
    assert len(zones) == 6  # two sites of three zones
    assert _allowed(zones) == [("north", "imaging")]
    assert {z["reason"] for z in zones if not z["allowed"]} == {"route-blocked"}


def test_a_design_is_asked_instead(repo_root: Path, tmp_path: Path) -> None:
    live = _hospital(repo_root, tmp_path, "zero-trust-microsegmentation")
    zones = live.zones_reaching("pacs-north", "ct-ai-onbox")
    assert _allowed(zones) == [("north", "imaging"), ("north", "bedside"),
                               ("north", "datacenter")]  # fmt: skip


def test_an_unknown_service_or_profile_is_named(repo_root: Path, tmp_path: Path) -> None:
    live = _hospital(repo_root, tmp_path)
    with pytest.raises(RegistrationError, match=r"profile: no 'nope'; profiles: .*ct-ai-onbox"):
        live.zones_reaching("pacs-north", "nope")
    with pytest.raises(RegistrationError, match=r"service: no service 'nope'.*pacs-north"):
        live.zones_reaching("nope", "ct-ai-onbox")
