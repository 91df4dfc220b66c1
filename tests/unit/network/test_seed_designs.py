"""Facts of each seed design's row (seed §9), on the flagship pilot's hospital."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

import testbed
from testbed import network
from testbed.crosscheck import DEFAULT_PROFILES
from testbed.devices import load_profiles
from testbed.network import Topology
from testbed.network.matrix import Held

PILOT = Path(__file__).resolve().parents[3] / "scenarios" / "two-site-pilot.yaml"
DURING = datetime(2026, 2, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def pilot() -> Topology:
    return Topology.from_scenario(testbed.load_scenario(PILOT), load_profiles(DEFAULT_PROFILES))



def test_flat_blast_radius_is_the_whole_device_population(pilot: Topology) -> None:
    table = network.blast_radius("flat-shared-credentials", pilot, k=3)
    assert (table["Reachable_Devices"] == len(pilot.devices) - 1).all()
    assert (table["Reachable_Assets"] == len(pilot.assets)).all()
    assert network.policy_size("flat-shared-credentials", at=DURING)["Any_Any_Cells"][0] >= 1


def test_flat_lets_everything_through_on_the_shared_credential(pilot: Topology) -> None:
    """Nothing is filtered, and the services ask for the department's shared
    credential, which every endpoint holds: no device certificate is in play."""
    flows = network.flows("flat-shared-credentials", pilot)
    assert set(flows["Disposition"]) == {"ACCEPTED"}
    crossing = flows[flows["Rule"] != "segment"]
    assert not crossing.empty and set(crossing["Identity"]) == {"shared-credential"}
    design = network.load_design("flat-shared-credentials")
    rule = design.rules[0]
    assert Held(shared=True).meets(rule) and not Held(certificate=True).meets(rule)


def test_per_site_vlans_contain_by_site_but_drift(pilot: Topology) -> None:
    table = network.reachability("per-site-vlans", pilot)
    devices = {d.id: d for d in pilot.devices}
    device_pairs = table[table["Src"].isin(devices) & table["Dst"].isin(devices)]
    for row in device_pairs.itertuples():
        assert devices[row.Src].site == devices[row.Dst].site  # a VLAN per site
    size = network.policy_size("per-site-vlans", at=DURING)
    assert size["Exceptions_Overdue"][0] == 1  # manual policy drift: a review missed
    assert any(r.service == "any" for r in network.load_design("per-site-vlans").rules)
    # the FHIR rules open tcp/443 to the servers' VLAN, where the CA's EST and the
    # IdP's token endpoint listen too: open in the network (the kernel agrees), but
    # the design sets no identity condition on them, so no flow to them is accepted
    flows = network.flows("per-site-vlans", pilot, sources=lambda e: e.is_device,
                          destinations=lambda e: str(e.kind) in {"ca", "idp"})  # fmt: skip
    on_443 = flows[flows["Dst_Port"] == 443]
    assert len(on_443) == 2 * len(pilot.devices)
    assert set(on_443["Disposition"]) == {"DENIED_IDENTITY"}
    assert set(on_443["Rule"]) == {"rules[2]", "rules[3]"}  # the FHIR rules
    assert set(flows[flows["Dst_Port"] != 443]["Disposition"]) == {"DENIED_IN"}


def test_central_ca_asks_every_clinical_api_for_a_device_certificate(pilot: Topology) -> None:
    flows = network.flows("central-ca-automated-renewal", pilot,
                          sources=lambda e: e.is_device,
                          destinations=lambda e: str(e.kind) in {"pacs", "ehr"})  # fmt: skip
    api = flows[(flows["Disposition"] == "ACCEPTED") & flows["Service"].isin(["fhir", "dicom-tls"])]
    assert not api.empty and set(api["Identity"]) == {"valid-device-certificate"}
    register = network.exception_register("central-ca-automated-renewal", at=DURING)
    assert list(register["Status"]) == ["open"]
    # the legacy ultrasound has a rule for EST only; EST shares tcp/443 with FHIR in
    # the servers' VLAN, so it reaches the EHR, with the certificate FHIR asks of all
    fhir = flows.set_index("Flow").loc["legacy-ultrasound-south-001->ehr:tcp/443"]
    assert (fhir["Disposition"], fhir["Rule"], fhir["Identity"]) == (
        "ACCEPTED", "rules[5]", "valid-device-certificate")  # fmt: skip


def test_fhir_first_scopes_the_ehr_and_beats_flat(pilot: Topology) -> None:
    flows = network.flows("fhir-first-scoped-identities", pilot).set_index("Flow")
    # the legacy ultrasound holds no SMART scope: the EHR refuses it by identity
    assert flows.loc["legacy-ultrasound-south-001->ehr:tcp/443", "Disposition"] == "DENIED_IDENTITY"
    fhir = network.blast_radius("fhir-first-scoped-identities", pilot, k=3)["BRE_K"].mean()
    flat = network.blast_radius("flat-shared-credentials", pilot, k=3)["BRE_K"].mean()
    assert fhir < flat


def test_zero_trust_leaves_critical_assets_only_on_their_apis(pilot: Topology) -> None:
    design = "zero-trust-microsegmentation"
    # while the legacy exception is open, it is the one counter-example
    with pytest.raises(network.FlowAssertionError) as caught:
        network.assert_no_exposure(design, pilot, at=DURING)
    assert set(caught.value.rows["Rule"]) == {"exception ultrasound-cleartext-worklist"}
    # once it expires, the CA, IdP, EHR and PACS are reachable only on their API ports
    assert network.assert_no_exposure(design, pilot, at=datetime(2026, 10, 1, tzinfo=UTC))
    table = network.blast_radius(design, pilot, k=3)
    assert (table["Reachable_Devices"] == 0).all()  # no east-west between devices
    assert table["BRE_K"].max() < network.blast_radius(
        "per-site-vlans", pilot, k=3)["BRE_K"].min()  # fmt: skip


@pytest.mark.parametrize("design", ["flat-shared-credentials", "per-site-vlans",
    "central-ca-automated-renewal", "fhir-first-scoped-identities",
    "zero-trust-microsegmentation"])  # fmt: skip
def test_differential_of_each_seed_design_with_itself_is_empty(
    pilot: Topology, design: str
) -> None:
    assert network.differential(design, design, pilot).empty
