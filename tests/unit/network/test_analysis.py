"""The analysis on a 3-zone toy hospital, checked by hand; and its laws (Hypothesis).

The blast radius is computed over endpoint classes; the reference at the end of this
file is its formula written the slow way (an endpoint x endpoint weight matrix, a
product over every endpoint each round), and both must agree on the toy hospital
under random designs, on the flagship pilot under each shipped design, and at a
scenario time with identity state."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from testbed import network
from testbed.crosscheck import profiles_for
from testbed.devices import DeviceClass, load_profiles
from testbed.network import (
    CredentialIssuance,
    Design,
    EndpointKind,
    Group,
    IdentityCondition,
    Rule,
    Segmentation,
    Topology,
)
from testbed.network.classes import endpoint_classes
from testbed.network.reach import HospitalLike, Question
from testbed.scenario import load_scenario
from testbed.study import snapshot
from testbed.study.variant import SHIPPED_DESIGNS

IMAGING, BEDSIDE = DeviceClass.IMAGING_MODALITY, DeviceClass.BEDSIDE_MONITOR_GATEWAY
SCOPES = ("system/Observation.c",)
TOY = Topology((
    network.Endpoint("d1", EndpointKind.DEVICE, "s", "a", IMAGING, "ct", SCOPES, True),
    network.Endpoint("d2", EndpointKind.DEVICE, "s", "a", IMAGING, "ct", SCOPES, True),
    network.Endpoint("d3", EndpointKind.DEVICE, "s", "b", BEDSIDE, "gw"),
    network.Endpoint("pacs", EndpointKind.PACS, "s", "c"),
    network.Endpoint("ehr", EndpointKind.EHR, "s", "c"),
))  # fmt: skip
GROUPS = (Group("a", zones=("a",)), Group("b", zones=("b",)), Group("c", zones=("c",)))
TOY_DESIGN = Design(
    "toy", CredentialIssuance.EST_AUTOMATED_RENEWAL, GROUPS,
    rules=(Rule("a", "c", "dicom-tls"), Rule("b", "c", "fhir")),
)  # fmt: skip


def test_reachability_by_hand() -> None:
    table = network.reachability(TOY_DESIGN, TOY)
    pairs = {(r.Src, r.Dst): r.Services for r in table.itertuples()}
    assert pairs == {
        ("d1", "d2"): "dicom,ssh,vnc",  # the same segment: every port
        ("d2", "d1"): "dicom,ssh,vnc",
        ("d1", "pacs"): "dicom-tls",
        ("d2", "pacs"): "dicom-tls",
        ("d3", "ehr"): "fhir",
        ("pacs", "ehr"): "fhir,rdp,ssh",  # the servers' segment
        ("ehr", "pacs"): "dicom,dicom-tls,smb,ssh",
    }


def test_flows_carry_batfish_dispositions_and_the_rule() -> None:
    table = network.flows(TOY_DESIGN, TOY).set_index("Flow")
    assert table.loc["d1->pacs:tcp/2762", "Disposition"] == "ACCEPTED"
    assert table.loc["d1->pacs:tcp/2762", "Rule"] == "rules[0]"
    assert table.loc["d1->ehr:tcp/443", "Disposition"] == "DENIED_IN"
    assert table.loc["d1->d3:tcp/22", "Disposition"] == "DENIED_IN"
    no_route = replace(TOY_DESIGN, routed_sites=False)
    moved = Topology((*TOY.endpoints[:4], replace(TOY.endpoints[4], site="t")))
    assert network.flows(no_route, moved).set_index("Flow").loc[
        "d3->ehr:tcp/443", "Disposition"] == "NO_ROUTE"  # fmt: skip
    partial = replace(TOY_DESIGN, groups=GROUPS[1:])
    assert network.flows(partial, TOY).set_index("Flow").loc[
        "d1->pacs:tcp/2762", "Disposition"] == "DENIED_OUT"  # fmt: skip


def test_identity_conditions_deny_with_their_own_disposition() -> None:
    design = replace(TOY_DESIGN, rules=(
        Rule("a", "c", "dicom-tls", IdentityCondition.AE_TITLE_ALLOWED),
        Rule("b", "c", "fhir", IdentityCondition.TOKEN_WITH_SCOPE, "system/Observation.c"),
    ))  # fmt: skip
    table = network.flows(design, TOY).set_index("Flow")
    assert table.loc["d1->pacs:tcp/2762", "Disposition"] == "ACCEPTED"  # d1 has an AE title
    assert table.loc["d3->ehr:tcp/443", "Disposition"] == "DENIED_IDENTITY"  # d3 lacks the scope
    assert table.loc["d3->ehr:tcp/443", "Identity"] == "token-with-scope"


def test_blast_radius_by_hand() -> None:
    table = network.blast_radius(TOY_DESIGN, TOY, k=1).set_index("Src")
    assert table.loc["d1", "Reachable"] == 2  # d2 and the PACS
    assert table.loc["d1", "Reachable_Devices"] == 1
    assert table.loc["d1", "Devices_Share"] == pytest.approx(0.5)
    assert table.loc["d3", "Reachable"] == 1  # the EHR
    # one round: d2 through ssh (0.6), the PACS through DICOM TLS (0.05), over 4 others
    assert table.loc["d1", "BRE_K"] == pytest.approx((0.6 + 0.05) / 4)
    # two rounds: d2 is tried again by d1; the PACS by d1 and by d2 (q=0.6); the EHR
    # by the PACS (q=0.05) through ssh or rdp in the servers' segment (0.6)
    two = network.bre_k(TOY_DESIGN, TOY, source="d1", k=2)
    d2 = 1 - 0.4 * 0.4
    pacs = 1 - 0.95 * 0.95 * (1 - 0.6 * 0.05)
    ehr = 0.05 * 0.6
    assert two == pytest.approx((d2 + pacs + ehr) / 4)


def test_microsegmentation_separates_members_of_one_group() -> None:
    micro = replace(TOY_DESIGN, segmentation=Segmentation.DEVICE)
    table = network.blast_radius(micro, TOY, k=1).set_index("Src")
    assert table.loc["d1", "Reachable_Devices"] == 0


SERVICES = ["any", "dicom-tls", "dicom", "fhir", "est", "token", "ssh", "vnc", "rdp", "smb"]
#: the toy hospital with a CA and an IdP beside the EHR: FHIR, EST and token share
#: tcp/443 in zone c, so the laws also cover a rule opening a port for several services
TOY_443 = Topology((
    *TOY.endpoints,
    network.Endpoint("ca", EndpointKind.CA, "s", "c"),
    network.Endpoint("idp", EndpointKind.IDP, "s", "c"),
))  # fmt: skip
rules = st.builds(
    Rule,
    st.sampled_from("abc"),
    st.sampled_from("abc"),
    st.sampled_from(SERVICES),
    st.sampled_from([c for c in IdentityCondition if c is not IdentityCondition.TOKEN_WITH_SCOPE]),
    st.none(),
    st.booleans(),
)


def _accepted(design: Design) -> set[tuple[str, str, str]]:
    return {(s.id, d.id, svc) for s, d, svc, v in Question.of(design, TOY_443).each()
            if v.accepted}  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(st.lists(rules, max_size=6), rules, st.sampled_from(list(Segmentation)))
def test_adding_a_rule_never_shrinks_reachability(
    base: list[Rule], extra: Rule, segmentation: Segmentation
) -> None:
    before = replace(TOY_DESIGN, rules=tuple(base), segmentation=segmentation)
    after = replace(before, rules=(*base, extra))
    assert _accepted(before) <= _accepted(after)


@settings(max_examples=150, deadline=None)
@given(st.lists(rules, min_size=1, max_size=6), st.data())
def test_removing_a_rule_never_grows_reachability(base: list[Rule], data: st.DataObject) -> None:
    gone = data.draw(st.integers(0, len(base) - 1))
    before = replace(TOY_DESIGN, rules=tuple(base))
    after = replace(before, rules=tuple(r for i, r in enumerate(base) if i != gone))
    assert _accepted(after) <= _accepted(before)


def test_differential_of_a_design_with_itself_is_empty() -> None:
    assert network.differential(TOY_DESIGN, TOY_DESIGN, TOY).empty


def test_differential_says_what_changes_and_why() -> None:
    wider = replace(TOY_DESIGN, rules=(*TOY_DESIGN.rules, Rule("a", "c", "fhir")))
    diff = network.differential(TOY_DESIGN, wider, TOY)
    assert set(diff["Flow"]) == {"d1->ehr:tcp/443", "d2->ehr:tcp/443"}
    assert set(diff["Reference_Disposition"]) == {"DENIED_IN"}
    assert set(diff["Snapshot_Rule"]) == {"rules[2]"}


def test_assertions_fail_with_the_counter_examples() -> None:
    table = network.flows(TOY_DESIGN, TOY)
    to_ehr = table[table["Dst"] == "ehr"]
    with pytest.raises(network.FlowAssertionError) as caught:
        network.assert_flows_fail(to_ehr)
    assert set(caught.value.rows["Flow"]) == {"d3->ehr:tcp/443", "pacs->ehr:tcp/443",
                                              "pacs->ehr:tcp/22", "pacs->ehr:tcp/3389"}  # fmt: skip
    assert network.assert_flows_succeed(table[table["Flow"] == "d1->pacs:tcp/2762"])
    with pytest.raises(network.FlowAssertionError, match="d1->ehr"):
        network.assert_flows_succeed(table[table["Src"] == "d1"])


ROOT = Path(__file__).resolve().parents[3]
PILOT = ROOT / "scenarios" / "two-site-pilot.yaml"


def _reference(design: network.Design, hospital: HospitalLike, k: int) -> list[tuple[int, float]]:
    """(Reachable, BRE_K) per device, endpoint by endpoint."""
    question = Question.of(design, hospital)
    endpoints = question.topology.endpoints
    index = {e.id: i for i, e in enumerate(endpoints)}
    pivot = {name: s.pivot for name, s in question.catalog.services.items()}
    w = np.zeros((len(endpoints), len(endpoints)))
    reach = np.zeros_like(w, dtype=bool)
    for src, dst, service, verdict in question.each():
        if verdict.accepted:
            u, v = index[src.id], index[dst.id]
            reach[u, v] = True
            w[u, v] = max(w[u, v], pivot[service])
    out = []
    for i, e in enumerate(endpoints):
        if not e.is_device:
            continue
        q = np.zeros(len(endpoints))
        q[i] = 1.0
        for _ in range(k):
            survive = np.prod(1.0 - q[:, None] * w, axis=0)
            q = 1.0 - (1.0 - q) * survive
        q[i] = 0.0
        out.append((int(reach[i].sum()), float(q.sum() / (len(endpoints) - 1))))
    return out


def _library(design: network.Design, hospital: HospitalLike, k: int) -> list[tuple[int, float]]:
    table = network.blast_radius(design, hospital, k=k)
    return list(zip(table["Reachable"], table["BRE_K"], strict=True))


def _same(a: list[tuple[int, float]], b: list[tuple[int, float]]) -> None:
    assert [r for r, _ in a] == [r for r, _ in b]
    assert [p for _, p in a] == pytest.approx([p for _, p in b], rel=1e-9, abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(st.lists(rules, max_size=6), st.sampled_from(list(Segmentation)), st.integers(0, 4))
def test_classes_equal_endpoints_on_random_designs(
    chosen: list[network.Rule], segmentation: Segmentation, k: int
) -> None:
    design = replace(TOY_DESIGN, rules=tuple(chosen), segmentation=segmentation)
    _same(_library(design, TOY, k), _reference(design, TOY, k))


@pytest.mark.parametrize("name", SHIPPED_DESIGNS)
def test_classes_equal_endpoints_on_the_flagship(name: str) -> None:
    scenario = load_scenario(PILOT)
    topology = Topology.from_scenario(scenario, load_profiles(profiles_for(scenario, ROOT)))
    design = network.load_design(name)
    _same(_library(design, topology, 3), _reference(design, topology, 3))
    classes = endpoint_classes(Question.of(design, topology))
    assert len(classes) < len(topology.endpoints)  # some endpoints are alike


def test_classes_equal_endpoints_at_a_scenario_time() -> None:
    drill = ROOT / "scenarios" / "revocation-offboarding-drill.yaml"
    design = network.load_design("per-site-vlans")
    later = snapshot(drill, "20d", design="per-site-vlans")  # ward-b offboarded
    _same(_library(design, later, 3), _reference(design, later, 3))
