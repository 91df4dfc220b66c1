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
from pydantic import TypeAdapter

from testbed.pki.fidelity import Fidelity
from testbed.pki.modeled import ModeledCertificate
from testbed.run import RunResult, run_scenario
from testbed.scenario import Scenario
from tests.scenarios.generated import small_scenarios

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))
_ANSWERS = ("certificate-issued", "certificate-renewed", "enrollment-refused")
#: the identity provider's and the EHR's answers (a scenario with an ``ehr`` block)
_EHR_ANSWERS = ("token-granted", "token-refused", "ehr-write", "fhir-delivery")

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
        elif e["kind"] in _EHR_ANSWERS:
            answers.append((e["time"], e["kind"], e["subject"], e.get("reason"),
                            e.get("status"), e.get("scope"), e.get("delivered")))  # fmt: skip
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
    clinical = modeled.testbed.hospital.clinical
    assert clinical is None or clinical.jose.fidelity is Fidelity.MODELED  # tokens too
    expected, got = outcomes(full), outcomes(modeled)
    assert got[0] == expected[0], "access decisions differ"
    assert got[1] == expected[1], "enrollment answers differ"
    assert got[2] == expected[2], "measures differ"
    return expected[0], expected[1]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.stem)
def test_every_shipped_scenario_decides_alike_at_both_levels(scenario: Path) -> None:
    decisions, answers = assert_same_at_both_levels(scenario)
    assert decisions and answers


def test_tokens_are_modeled_values_that_decide_as_real_ones() -> None:
    """The shipped EHR scenario: at modeled fidelity no token or assertion is a real JWS
    (the signature part is a digest), and the IdP's and EHR's answers are the same."""
    ehr = ROOT / "scenarios" / "ehr-smart-resilience.yaml"
    _, answers = assert_same_at_both_levels(ehr)
    kinds = {a[1] for a in answers}
    assert {"token-granted", "token-refused", "ehr-write", "fhir-delivery"} <= kinds
    refused = {a[3] for a in answers if a[1] in ("token-refused", "ehr-write")}
    assert {"token-replayed", "scope-not-authorized", "token-key-unknown", "token-expired",
            "patient-context-mismatch"} <= refused  # fmt: skip


def test_the_scenario_declares_its_level_and_the_run_may_override_it() -> None:
    scenario = run_scenario(SCENARIOS[0]).testbed.scenario
    assert scenario.fidelity is Fidelity.FULL  # the default
    result = run_scenario(SCENARIOS[0], fidelity=Fidelity.MODELED)
    assert result.report.to_dict()["fidelity"] == "modeled"  # the report says so
    modeled = result.testbed
    assert modeled.scenario.fidelity is Fidelity.MODELED
    assert modeled.hospital.ca.artefacts.fidelity is Fidelity.MODELED
    assert modeled.hospital.verifier.artefacts is modeled.hospital.ca.artefacts


# -- generated scenarios (tests/scenarios/generated.py) -------------------------


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_scenarios())
def test_generated_scenarios_decide_alike_at_both_levels(data: dict[str, Any]) -> None:
    assert_same_at_both_levels(TypeAdapter(Scenario).validate_python(data))
