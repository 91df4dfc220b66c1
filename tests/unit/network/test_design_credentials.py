"""A design's credential issuance reaches the hospital: under manual certificates every
device is enrolled and renewed by an operator, whatever EST its profile supports."""

from __future__ import annotations

from pathlib import Path

from testbed.crosscheck import scenario_profiles
from testbed.devices import EnrollmentProtocol
from testbed.scenario import load_scenario

PILOT = Path(__file__).resolve().parents[3] / "scenarios" / "two-site-pilot.yaml"


def test_manual_certificates_enroll_every_device_by_hand() -> None:
    pilot = load_scenario(PILOT)
    plain = scenario_profiles(pilot, PILOT.parent)
    assert any(p.supports_est for p in plain.values())
    vlans = pilot.with_({"design": "per-site-vlans", "network": []})
    manual = scenario_profiles(vlans, PILOT.parent)
    assert set(manual) == set(plain)
    assert all(p.enrollment_protocols == (EnrollmentProtocol.MANUAL,) for p in manual.values())


def test_automated_renewal_keeps_the_profiles() -> None:
    pilot = load_scenario(PILOT)
    central = pilot.with_({"design": "central-ca-automated-renewal", "network": []})
    assert scenario_profiles(central, PILOT.parent) == scenario_profiles(pilot, PILOT.parent)
