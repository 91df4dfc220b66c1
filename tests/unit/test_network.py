"""Zone policy: allow list, site-specific rules, nested blocks."""

from __future__ import annotations

import pytest

from testbed.decisions import Hop, Reason
from testbed.network import ZonePolicy


@pytest.fixture
def policy() -> ZonePolicy:
    return ZonePolicy([("imaging", "pacs-north", "north"), ("bedside", "ehr", None)])


@pytest.mark.parametrize(
    ("site", "zone", "service", "allowed"),
    [
        ("north", "imaging", "pacs-north", True),
        ("south", "imaging", "pacs-north", False),  # the rule is for north only
        ("north", "bedside", "ehr", True),
        ("south", "bedside", "ehr", True),  # no site: every site
        ("north", "bedside", "pacs-north", False),
        ("north", "guest", "ehr", False),
    ],
)
def test_the_allow_list(
    policy: ZonePolicy, site: str, zone: str, service: str, allowed: bool
) -> None:
    decision = policy.decide(site=site, zone=zone, service=service)
    assert decision.allowed is allowed
    assert decision.hop is Hop.NETWORK
    assert decision.reason is (Reason.OK if allowed else Reason.ROUTE_BLOCKED)


def test_a_refusal_says_which_rule_is_missing(policy: ZonePolicy) -> None:
    decision = policy.decide(site="south", zone="imaging", service="pacs-north")
    assert decision.detail == "no rule lets zone 'imaging' at 'south' reach 'pacs-north'"


def test_blocks_nest_and_heal(policy: ZonePolicy) -> None:
    policy.block("bedside", "ehr", "south")
    policy.block("bedside", "ehr", "south")
    assert not policy.decide(site="south", zone="bedside", service="ehr").allowed
    assert policy.decide(site="north", zone="bedside", service="ehr").allowed
    policy.unblock("bedside", "ehr", "south")
    assert not policy.decide(site="south", zone="bedside", service="ehr").allowed
    policy.unblock("bedside", "ehr", "south")
    assert policy.decide(site="south", zone="bedside", service="ehr").allowed


def test_a_block_without_a_site_blocks_every_site(policy: ZonePolicy) -> None:
    policy.block("bedside", "ehr")
    for site in ("north", "south"):
        decision = policy.decide(site=site, zone="bedside", service="ehr")
        assert decision.reason is Reason.ROUTE_BLOCKED
        assert decision.detail == "bedside->ehr blocked"


def test_unblocking_an_open_route_raises(policy: ZonePolicy) -> None:
    with pytest.raises(ValueError, match="bedside->ehr at every site is not blocked"):
        policy.unblock("bedside", "ehr")


def test_allow_adds_a_rule(policy: ZonePolicy) -> None:
    assert not policy.decide(site="south", zone="imaging", service="pacs-north").allowed
    policy.allow("imaging", "pacs-north", "south")
    assert policy.decide(site="south", zone="imaging", service="pacs-north").allowed
