"""Modeled fidelity reaches the same decisions as full fidelity (DESIGN principle 3).

For a scenario run at both levels: the same access decisions (time, subject,
service, allowed, reason, hop, purpose), the same enrollment answers (issued,
renewed, refused with its reason) and the same measures.  Every shipped scenario,
then small generated ones with random lifetimes, faults and key rotations.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from testbed.pki.fidelity import Fidelity
from testbed.pki.modeled import ModeledCertificate
from testbed.run import RunResult, run_scenario
from testbed.scenario import Scenario

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))
_ANSWERS = ("certificate-issued", "certificate-renewed", "enrollment-refused")

Stream = list[tuple[Any, ...]]


def outcomes(result: RunResult) -> tuple[Stream, Stream, dict[str, Any]]:
    """The run's access decisions, its enrollment answers and its measures."""
    decisions: Stream = []
    answers: Stream = []
    for event in result.testbed.log:
        e = event.to_dict()
        if e["kind"] == "access-decision":
            decisions.append((e["time"], e["subject"], e["service"], e["allowed"], e["reason"],
                              e["hop"], e["purpose"]))  # fmt: skip
        elif e["kind"] in _ANSWERS:
            answers.append((e["time"], e["kind"], e["subject"], e.get("endpoint"),
                            e.get("status"), e.get("reason"), e.get("serial"),
                            e.get("not_after")))  # fmt: skip
    return decisions, answers, dict(result.report.measures)


def assert_same_at_both_levels(scenario: Scenario | Path) -> tuple[Stream, Stream]:
    """Run ``scenario`` at both levels; their outcomes must be equal."""
    full = run_scenario(scenario, fidelity=Fidelity.FULL)
    modeled = run_scenario(scenario, fidelity=Fidelity.MODELED)
    issued = [a.certificate for a in modeled.testbed.agents if a.certificate is not None]
    assert all(isinstance(c, ModeledCertificate) for c in issued)  # really modeled
    expected, got = outcomes(full), outcomes(modeled)
    assert got[0] == expected[0], "access decisions differ"
    assert got[1] == expected[1], "enrollment answers differ"
    assert got[2] == expected[2], "measures differ"
    return expected[0], expected[1]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.stem)
def test_every_shipped_scenario_decides_alike_at_both_levels(scenario: Path) -> None:
    decisions, answers = assert_same_at_both_levels(scenario)
    assert decisions and answers


def test_the_scenario_declares_its_level_and_the_run_may_override_it() -> None:
    scenario = run_scenario(SCENARIOS[0]).testbed.scenario
    assert scenario.fidelity is Fidelity.FULL  # the default
    result = run_scenario(SCENARIOS[0], fidelity=Fidelity.MODELED)
    assert result.report.to_dict()["fidelity"] == "modeled"  # the report says so
    modeled = result.testbed
    assert modeled.scenario.fidelity is Fidelity.MODELED
    assert modeled.hospital.ca.artefacts.fidelity is Fidelity.MODELED
    assert modeled.hospital.verifier.artefacts is modeled.hospital.ca.artefacts


# -- generated scenarios ------------------------------------------------------

_GROUPS = (  # (profile, site, zone); the legacy ultrasound: RSA keys, renewed by hand
    ("bedside-monitor-gateway", "north", "bedside"),
    ("bedside-monitor-gateway", "south", "bedside"),
    ("ct-ai-onbox", "north", "imaging"),
    ("ct-ai-onbox", "south", "imaging"),
    ("legacy-ultrasound", "south", "imaging"),
)


def _hours(draw: st.DrawFn, low: int, high: int) -> int:
    return draw(st.integers(min_value=low, max_value=high))


@st.composite
def _window(draw: st.DrawFn, days: int) -> dict[str, str]:
    start = _hours(draw, 1, days * 24 - 2)
    end = _hours(draw, start + 1, days * 24)
    return {"start": f"{start}h", "end": f"{end}h"}


@st.composite
def _fault(draw: st.DrawFn, days: int, groups: list[str]) -> dict[str, Any]:
    kind = draw(st.sampled_from([
        "ca-outage", "revoked-certificate", "blocked-route", "trust-bundle-missing",
        "trust-bundle-stale", "clock-skew", "renewal-agent-broken",
    ]))  # fmt: skip
    fault: dict[str, Any] = {"kind": kind, **draw(_window(days))}
    site = draw(st.sampled_from(["north", "south"]))
    target = f"group:{draw(st.sampled_from(groups))}"
    if kind in ("revoked-certificate", "renewal-agent-broken"):
        fault |= {"target": target, "count": 1}
    elif kind == "blocked-route":
        fault |= {"from": draw(st.sampled_from(["imaging", "bedside"])), "to": "ehr", "site": site}
    elif kind.startswith("trust-bundle"):
        fault |= {"target": f"site:{site}"}
    elif kind == "clock-skew":
        ahead = draw(st.booleans())
        # a clock ahead by more than a certificate's renewal margin renews it again at
        # the instant it is issued, forever (the run never advances): ahead skews stay
        # under the shortest margin (lifetime 24 h, renewal at half, 10 % jitter)
        offset = _hours(draw, 1, 8) if ahead else _hours(draw, 1, 72)
        fault |= {"target": target, "offset": f"{offset}h", "ahead": ahead}
    return fault


def _one_skew(faults: list[dict[str, Any]]) -> bool:
    """Overlapping skews of one device add up: at most one per scenario (see above)."""
    return sum(f["kind"] == "clock-skew" for f in faults) <= 1


@st.composite
def small_scenarios(draw: st.DrawFn) -> dict[str, Any]:
    """A few devices at two sites for a few days, with faults and maybe a rotation."""
    days = draw(st.integers(min_value=4, max_value=8))
    keys = draw(st.lists(st.sampled_from(_GROUPS), min_size=1, max_size=3, unique=True))
    fleet = [{"profile": p, "count": 1 if p == "legacy-ultrasound" else draw(st.integers(1, 2)),
              "site": s, "zone": z, "owner": "biomed",
              "onboard_spread": f"{_hours(draw, 0, 12)}h"} for p, s, z in keys]  # fmt: skip
    groups = [f"{p}-{s}" for p, s, _ in keys]
    issuing = draw(st.sampled_from(["central", "per-site"]))
    operations = []
    if draw(st.booleans()):
        site = draw(st.sampled_from(["north", "south"]))
        target = "ca" if issuing == "central" else f"site:{site}"
        operations.append({"at": f"{_hours(draw, 2, days * 24 - 2)}h", "action": "rotate-ca-key",
                           "target": target, "overlap": f"{_hours(draw, 0, 12)}h"})  # fmt: skip
    return {
        "name": "generated", "seed": draw(st.integers(0, 2**32)),
        "start": "2026-01-05T00:00:00Z", "duration": f"{days}d", "recovery_window": "2d",
        "sites": [{"name": n, "zones": ["imaging", "bedside", "datacenter"]}
                  for n in ("north", "south")],
        "services": [{"name": "pacs-north", "kind": "pacs", "site": "north", "zone": "datacenter"},
                     {"name": "pacs-south", "kind": "pacs", "site": "south", "zone": "datacenter"},
                     {"name": "ehr", "kind": "ehr", "site": "north", "zone": "datacenter"}],
        "network": [{"from": "imaging", "to": "pacs-north", "site": "north"},
                    {"from": "imaging", "to": "pacs-south", "site": "south"},
                    {"from": "imaging", "to": "ehr"}, {"from": "bedside", "to": "ehr"}],
        "pki": {"issuing": issuing,
                "lifetime": f"{_hours(draw, 24, 96)}h",
                "renew_at": draw(st.sampled_from([0.5, 0.66, 0.8])),
                "jitter": draw(st.sampled_from([0.0, 0.05, 0.1])),
                "renewal_retry": "1h", "crl_interval": f"{_hours(draw, 6, 24)}h",
                "crl_validity": "2d", "trust_distribution_delay": f"{_hours(draw, 0, 6)}h",
                "manual_recovery_delay": "4h", "manual_enrollment_delay": "2h"},
        "workload": {"interval": "2h", "retry": "30m"},
        "fleet": fleet,
        "faults": draw(st.lists(_fault(days, groups), max_size=3).filter(_one_skew)),
        "operations": operations,
    }  # fmt: skip


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_scenarios())
def test_generated_scenarios_decide_alike_at_both_levels(data: dict[str, Any]) -> None:
    assert_same_at_both_levels(TypeAdapter(Scenario).validate_python(data))
