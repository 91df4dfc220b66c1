"""A scenario that selects a design runs end to end, and the network hop refuses
what the design denies, with a reason; an exception stops allowing when it expires."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import testbed
from testbed.access import Attempt
from testbed.decisions import Hop, Reason
from testbed.errors import ScenarioError
from testbed.events import EventKind
from testbed.network.policy import DesignPolicy

# imaging may store to the PACS; the EHR is reachable only through an exception that
# expires on the third day of the five-day tiny scenario.  The EHR has a group of its
# own: in the servers' group the EST rule would open its port (tcp/443) to imaging
# too, and the exception's expiry would close nothing (test_shared_port_* below)
DESIGN = """\
name: pacs-only
credentials: est-automated-renewal
groups:
  - {name: imaging, kinds: [device], zones: [imaging]}
  - {name: ehr, kinds: [ehr]}
  - {name: servers, kinds: [pacs, ca, idp]}
rules:
  - {from: imaging, to: servers, service: dicom-tls, identity: ae-title-allowed}
  - {from: imaging, to: servers, service: est}
exceptions:
  - {id: ehr-for-now, from: imaging, to: ehr, service: fhir, identity: token-with-scope,
     scope: system/Observation.c, owner: radiology, reason: until the FHIR gateway lands,
     expires: 2026-01-08T00:00:00Z, review: 2026-01-07T00:00:00Z}
"""


def _scenario(tmp_path: Path, tiny_scenario: str, design: str = DESIGN) -> Path:
    (tmp_path / "pacs-only.yaml").write_text(design, encoding="utf-8")
    text = tiny_scenario.replace("network:\n  - {from: imaging, to: pacs-north}\n"
                                 "  - {from: imaging, to: ehr}\n", "design: pacs-only.yaml\n")
    path = tmp_path / "scenario.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_network_hop_refuses_what_the_design_denies(
    tmp_path: Path, tiny_scenario: str
) -> None:
    result = testbed.run_scenario(_scenario(tmp_path, tiny_scenario))
    expiry = datetime(2026, 1, 8, tzinfo=UTC)
    decisions = result.testbed.log.of_kind(EventKind.ACCESS_DECISION)
    to_ehr = [e for e in decisions if e.data["service"] == "ehr" and e.data["purpose"] == "traffic"]
    before = [e for e in to_ehr if e.time < expiry]
    after = [e for e in to_ehr if e.time >= expiry]
    assert before and all(e.data["allowed"] for e in before)  # the exception allows
    assert after and not any(e.data["allowed"] for e in after)  # expired: it stops
    refusal = after[0].data
    assert (refusal["hop"], refusal["reason"]) == ("network", "route-blocked")
    assert "DENIED_IN" in str(refusal["detail"]) and "fhir" in str(refusal["detail"])
    to_pacs = [e for e in decisions if e.data["service"] == "pacs-north"
               and e.data["purpose"] == "traffic"]  # fmt: skip
    assert to_pacs and all(e.data["allowed"] for e in to_pacs)
    assert result.report.measures["unauthorized_access"] == 0


def test_shared_port_an_expired_exception_closes_nothing_another_rule_opens(
    tmp_path: Path, tiny_scenario: str
) -> None:
    """The same design with the EHR in the servers' group: the EST rule opens tcp/443
    from imaging to every service on it there, the EHR's FHIR included, so the
    network hop keeps letting FHIR through after the exception expires (layer 4, as
    the kernel does) and still asks for the scope FHIR's exception named."""
    shared = DESIGN.replace("  - {name: ehr, kinds: [ehr]}\n", "").replace(
        "kinds: [pacs, ca, idp]", "kinds: [pacs, ehr, ca, idp]").replace(
        "from: imaging, to: ehr,", "from: imaging, to: servers,")  # fmt: skip
    result = testbed.run_scenario(_scenario(tmp_path, tiny_scenario, shared))
    expiry = datetime(2026, 1, 8, tzinfo=UTC)
    decisions = result.testbed.log.of_kind(EventKind.ACCESS_DECISION)
    to_ehr = [e for e in decisions if e.data["service"] == "ehr" and e.data["purpose"] == "traffic"]
    after = [e for e in to_ehr if e.time >= expiry]
    assert after and all(e.data["allowed"] for e in after)
    policy = result.testbed.hospital.policy
    assert isinstance(policy, DesignPolicy)
    when = expiry + timedelta(days=1)
    unscoped = policy.verdict(site="north", zone="imaging", service="ehr", peer=None, now=when)
    assert str(unscoped.disposition) == "DENIED_IDENTITY"
    assert "through rules[1] (est, tcp/443)" in unscoped.detail
    refused = policy.decide(site="north", zone="imaging", service="ehr", peer=None, now=when)
    assert (refused.hop, refused.reason) == (Hop.NETWORK, Reason.SCOPE_INSUFFICIENT)


def test_an_identity_condition_refuses_with_its_own_reason(
    tmp_path: Path, tiny_scenario: str
) -> None:
    result = testbed.run_scenario(_scenario(tmp_path, tiny_scenario))
    hospital = result.testbed.hospital
    device = "ct-ai-onbox-north-001"
    source = ("north", "imaging")
    now = datetime(2026, 1, 6, tzinfo=UTC)
    # no certificate presented: the PACS rule asks for an AE title (held), the EST
    # rule for nothing; the exception's token scope is held: all pass the network hop
    attempt = Attempt(device, "pacs-north", None, source)
    decision = hospital.access.decide(attempt, now=now)
    assert decision.hop is not Hop.NETWORK
    # the design's policy is what the hop asks
    policy = hospital.policy
    later = policy.decide(site="north", zone="imaging", service="ehr", peer=None,
                          now=now + timedelta(days=1))  # fmt: skip
    assert (later.hop, later.reason) == (Hop.NETWORK, Reason.SCOPE_INSUFFICIENT)


def test_an_exception_expired_fault_names_an_exception_of_the_design(
    tmp_path: Path, tiny_scenario: str
) -> None:
    """A fault on an exception the design does not have is refused before the run,
    naming the field and the design's exceptions."""
    path = _scenario(tmp_path, tiny_scenario)
    fault = ("faults:\n  - {kind: exception-expired, target: 'exception:ehr-forever', "
             "start: 1d, end: 2d}\n")  # fmt: skip
    path.write_text(path.read_text(encoding="utf-8") + fault, encoding="utf-8")
    with pytest.raises(ScenarioError) as refused:
        testbed.load_scenario(path)
    assert refused.value.field == "faults[0].target"
    assert "ehr-for-now" in refused.value.expected and refused.value.got == "exception:ehr-forever"
