"""Same scenario and seed: byte-identical events and report; another seed: other events."""

from __future__ import annotations

from pathlib import Path

import pytest

from testbed.run import run_scenario, write_outputs

PILOT = Path(__file__).resolve().parents[2] / "scenarios" / "two-site-pilot.yaml"

pytestmark = pytest.mark.slow


def _run(out: Path, **options: object) -> dict[str, bytes]:
    paths = write_outputs(run_scenario(PILOT, **options), out)  # type: ignore[arg-type]
    return {name: paths[name].read_bytes() for name in ("events.jsonl", "report.json")}


@pytest.fixture(scope="module")
def first(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    return _run(tmp_path_factory.mktemp("first"))


def test_the_same_seed_gives_byte_identical_outputs(
    first: dict[str, bytes], tmp_path: Path
) -> None:
    second = _run(tmp_path)
    assert first["events.jsonl"]  # a run writes events
    assert second["events.jsonl"] == first["events.jsonl"]
    assert second["report.json"] == first["report.json"]


def test_another_seed_gives_other_events(first: dict[str, bytes], tmp_path: Path) -> None:
    other = _run(tmp_path, seed=20261129)
    assert other["events.jsonl"] != first["events.jsonl"]


def test_another_seed_in_the_file_gives_other_events(
    first: dict[str, bytes], tmp_path: Path
) -> None:
    """The same check without the seed override: the file itself says another seed."""
    text = PILOT.read_text(encoding="utf-8")
    assert text.count("seed: 20261128") == 1
    copy = tmp_path / PILOT.name
    copy.write_text(text.replace("seed: 20261128", "seed: 20261129"), encoding="utf-8")
    other = write_outputs(run_scenario(copy), tmp_path / "out")
    assert other["events.jsonl"].read_bytes() != first["events.jsonl"]


# A rotation whose new bundle reaches the site unread, then a stale-bundle fault: the
# bundle a site holds used to be applied when someone read it (found by a review).
UNREAD_ARRIVAL = """\
name: unread-arrival
seed: 11
start: 2026-01-05T00:00:00Z
duration: 6d
recovery_window: 2d
sites: [{name: north, zones: [imaging, datacenter]}]
services:
  - {name: pacs-north, kind: pacs, site: north, zone: datacenter}
  - {name: ehr, kind: ehr, site: north, zone: datacenter}
network: [{from: imaging, to: pacs-north}, {from: imaging, to: ehr}]
pki: {lifetime: 4d, renew_at: 0.5, jitter: 0.0, renewal_retry: 1h, crl_interval: 12h,
      crl_validity: 2d, trust_distribution_delay: 1h}
workload: {interval: 1h, retry: 10m}
fleet: [{profile: ct-ai-onbox, count: 1, site: north, zone: imaging, owner: radiology}]
operations: [{at: 1d22h10m, action: rotate-ca-key, target: ca, overlap: 0s}]
faults:
  - {kind: trust-bundle-stale, target: 'site:north', start: 1d23h59m45s, end: 3d}
"""


def test_a_bundle_that_arrives_unread_is_held_when_a_stale_fault_starts(tmp_path: Path) -> None:
    scenario = tmp_path / "unread-arrival.yaml"
    scenario.write_text(UNREAD_ARRIVAL, encoding="utf-8")
    result = run_scenario(scenario)
    # the new bundle had arrived (1 h after the rotation) before the fault froze it
    assert result.report.measures["clinical_downtime_minutes"] == 0


# A small hospital with an IdP and an EHR and every EHR fault: tokens (their jti from
# the IdP's own seeded generator), FHIR writes and refusals come out the same.
EHR_SMALL = """\
name: ehr-determinism
seed: 11
start: 2026-01-05T00:00:00Z
duration: 3d
recovery_window: 1d
sites: [{name: north, zones: [bedside, datacenter]}]
services: [{name: ehr, kind: ehr, site: north, zone: datacenter}]
network: [{from: bedside, to: ehr}]
pki: {lifetime: 2d, renew_at: 0.5}
ehr: {census: {locations: 2, patients: 6}}
workload: {interval: 1h, retry: 10m}
fleet: [{profile: bedside-monitor-gateway, count: 3, site: north, zone: bedside,
         owner: icu}]
faults:
  - {kind: token-expired, target: device:bedside-monitor-gateway-north-001, start: 6h, end: 10h}
  - {kind: idp-outage, start: 12h, end: 14h}
  - {kind: idp-key-rotation, start: 16h, end: 18h}
  - {kind: ehr-outage, target: service:ehr, answers_lost: 20m, start: 1d, end: 1d2h}
  - {kind: patient-moved, target: device:bedside-monitor-gateway-north-002, start: 1d4h,
     end: 1d8h}
  - {kind: scope-drift, target: device:bedside-monitor-gateway-north-003, start: 1d10h,
     end: 1d12h}
  - {kind: client-credential-leaked, target: device:bedside-monitor-gateway-north-001,
     start: 2d, end: 2d4h}
"""


def test_the_same_seed_gives_the_same_tokens_and_writes(tmp_path: Path) -> None:
    path = tmp_path / "ehr.yaml"
    path.write_text(EHR_SMALL, encoding="utf-8")
    runs = [write_outputs(run_scenario(path), tmp_path / name) for name in ("a", "b")]
    first, second = (r["events.jsonl"].read_bytes() for r in runs)
    assert second == first
    assert runs[0]["report.json"].read_bytes() == runs[1]["report.json"].read_bytes()
    for kind in (b'"token-granted"', b'"token-refused"', b'"ehr-write"', b'"fhir-delivery"'):
        assert kind in first
    other = tmp_path / "other.yaml"
    other.write_text(EHR_SMALL.replace("seed: 11", "seed: 12"), encoding="utf-8")
    assert write_outputs(run_scenario(other), tmp_path / "c")["events.jsonl"].read_bytes() != first
