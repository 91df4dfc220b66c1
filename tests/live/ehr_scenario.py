"""The live EHR scenario the live tests and ``make bench-ehr`` share: one site, a
bedside zone that may reach the EHR, and a ``bedside-ai-writer`` profile (the shipped
bedside gateway, allowed to read its Observations back)."""

from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCOPE = "system/Observation.cr system/Patient.rs system/Encounter.rs"

SCENARIO = """\
name: live-ehr
seed: 11
start: 2026-01-05T00:00:00Z
duration: 1d
trust_domain: ehr.example
profiles_dir: profiles
sites:
  - {name: north, zones: [bedside, datacenter]}
services:
  - {name: ehr, kind: ehr, site: north, zone: datacenter}
network:
  - {from: bedside, to: ehr}
fleet:
  - {profile: bedside-ai-writer, count: 1, site: north, zone: bedside, owner: nursing}
ehr:
  census: {locations: 4, patients: 40}
  token_lifetime: LIFETIME
"""


def write_scenario(directory: Path, *, lifetime: str = "300s") -> Path:
    """A one-site EHR scenario (tokens living ``lifetime``) and its profiles: the
    shipped ones plus ``bedside-ai-writer``, a bedside gateway that may also read
    Observations back (the live tests use it too)."""
    profiles = directory / "profiles"
    shutil.copytree(ROOT / "fixtures" / "profiles", profiles)
    gateway = (profiles / "bedside-monitor-gateway.yaml").read_text()
    writer = gateway.replace("system/Observation.c,", "system/Observation.cr,")
    if writer == gateway:
        raise RuntimeError("the bedside gateway profile no longer grants system/Observation.c")
    (profiles / "bedside-ai-writer.yaml").write_text(writer.replace("model:", "model: Writer"))
    path = directory / "live-ehr.yaml"
    path.write_text(SCENARIO.replace("LIFETIME", lifetime))
    return path
