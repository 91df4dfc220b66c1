"""Reachability at a scenario time sees identity state: a CA outage longer than the
certificate lifetime closes certificate-conditioned flows and not shared-credential
ones; an offboarded device has no ACCEPTED flow at any later time, unless its design's
credential is shared (nobody can take it back from one device)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from testbed import network
from testbed.network.identity import Snapshot
from testbed.study import snapshot, snapshots

ROOT = Path(__file__).resolve().parents[3]
OUTAGE = ROOT / "scenarios" / "ca-outage-longer-than-lifetime.yaml"  # lifetime 7d, CA down 8d-18d
DRILL = ROOT / "scenarios" / "revocation-offboarding-drill.yaml"  # ward-b offboarded at 13d9h
CENTRAL, FLAT = "central-ca-automated-renewal", "flat-shared-credentials"
BEFORE, DURING, AFTER = "6d", "16d", "25d"


def _device_flows(design: str, at: Snapshot) -> pd.DataFrame:
    return network.flows(design, at, sources=lambda e: e.is_device)


def _certificate_flows(table: pd.DataFrame) -> pd.DataFrame:
    return table[table["Identity"] == "valid-device-certificate"]


def test_a_ca_outage_longer_than_the_lifetime_closes_certificate_flows() -> None:
    before, during, after = snapshots(OUTAGE, [BEFORE, DURING, AFTER], design=CENTRAL)
    assert before.identity.certified and not during.identity.certified  # every leaf expired
    opened = _certificate_flows(_device_flows(CENTRAL, before))
    assert not opened.empty and set(opened["Disposition"]) == {"ACCEPTED"}
    closed = _device_flows(CENTRAL, during).set_index("Flow").loc[opened["Flow"]]
    assert set(closed["Disposition"]) == {"DENIED_IDENTITY"}
    # flows that ask for no identity (enrollment at the CA) stay open: the way back
    est = _device_flows(CENTRAL, during).query("Service == 'est'")
    assert not est.empty and set(est["Disposition"]) == {"ACCEPTED"}
    # the CA is back and the devices re-bootstrapped: the flows open again
    reopened = _device_flows(CENTRAL, after).set_index("Flow").loc[opened["Flow"]]
    assert set(reopened["Disposition"]) == {"ACCEPTED"}


def test_shared_credential_flows_and_their_blast_radius_stay_open() -> None:
    before, during = snapshots(OUTAGE, [BEFORE, DURING], design=FLAT)
    assert not during.identity.certified
    flows_before = _device_flows(FLAT, before)
    flows_during = _device_flows(FLAT, during)
    assert set(flows_during["Disposition"]) == {"ACCEPTED"}
    assert flows_during["Flow"].tolist() == flows_before["Flow"].tolist()
    blast_before = network.blast_radius(FLAT, before)
    blast_during = network.blast_radius(FLAT, during)
    assert blast_during.equals(blast_before)
    # the certificate design's blast radius shrinks with its identities
    central_before, central_during = snapshots(OUTAGE, [BEFORE, DURING], design=CENTRAL)
    shrunk = network.blast_radius(CENTRAL, central_during)["Reachable_Assets"].sum()
    assert shrunk < network.blast_radius(CENTRAL, central_before)["Reachable_Assets"].sum()


@pytest.mark.parametrize("design", ["zero-trust-microsegmentation", CENTRAL])
def test_an_offboarded_device_has_no_accepted_flow_at_any_later_time(design: str) -> None:
    times = ["13d", "13d10h", "14d", "20d", "29d", "31d"]
    taken = snapshots(DRILL, times, design=design)
    ward_b = [f"ward-b-00{i}" for i in (1, 2, 3)]
    before = network.flows(design, taken[0], sources=lambda e: e.id in ward_b)
    assert "ACCEPTED" in set(before["Disposition"])  # before offboarding they reach things
    for later in taken[1:]:
        table = network.flows(design, later, sources=lambda e: e.id in ward_b)
        assert not table.empty and set(table["Disposition"]) == {"DENIED_OUT"}, later.at
        assert table["Rule"].eq("nac").all()
    # the ward's other devices keep their flows
    kept = network.flows(design, taken[-1], sources=lambda e: e.id == "ward-a-001")
    assert "ACCEPTED" in set(kept["Disposition"])


def test_a_shared_credential_outlives_offboarding() -> None:
    """Under the flat design NAC and the services admit by the department's shared
    credential, so the offboarded ward's devices keep every flow they had: the stale
    access the run's oracle counts (tests/sim/test_shared_credentials.py)."""
    taken = snapshots(DRILL, ["13d", "14d", "31d"], design=FLAT)
    ward_b = [f"ward-b-00{i}" for i in (1, 2, 3)]
    before = network.flows(FLAT, taken[0], sources=lambda e: e.id in ward_b)
    assert set(before["Disposition"]) == {"ACCEPTED"}
    for later in taken[1:]:
        assert not set(later.identity.active) & set(ward_b)  # retired
        table = network.flows(FLAT, later, sources=lambda e: e.id in ward_b)
        assert table["Flow"].tolist() == before["Flow"].tolist()
        assert set(table["Disposition"]) == {"ACCEPTED"}, later.at


def test_a_snapshot_is_deterministic_and_ordered_as_asked() -> None:
    late, early = snapshots(OUTAGE, [DURING, BEFORE], design=CENTRAL)
    assert (late.at - early.at).days == 10
    assert snapshot(OUTAGE, DURING, design=CENTRAL) == late


def test_a_time_outside_the_run_is_refused() -> None:
    with pytest.raises(ValueError, match="within the run"):
        snapshot(OUTAGE, "400d")
