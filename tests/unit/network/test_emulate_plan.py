"""What an emulation would build, checked without building it (no root needed): the
plan's namespaces and flows, and the compiled nftables ruleset against the model."""

from __future__ import annotations

import signal
from datetime import UTC, datetime
from pathlib import Path

import pytest

import testbed
from testbed import network
from testbed.crosscheck import DEFAULT_PROFILES
from testbed.devices import load_profiles
from testbed.errors import EmulationError
from testbed.network.catalog import EndpointKind, load_catalog
from testbed.network.design import DESIGNS, load_design
from testbed.network.emulate import Plan, compile_ruleset, host, plan
from testbed.network.emulate.namespaces import PREFIX_VARIABLE, new_prefix
from testbed.network.emulate.signals import Guard
from testbed.network.topology import Topology

PILOT = Path(__file__).resolve().parents[3] / "scenarios" / "two-site-pilot.yaml"
SHIPPED = sorted(p.stem for p in DESIGNS.glob("*.yaml"))


@pytest.fixture(scope="module")
def pilot() -> Topology:
    return Topology.from_scenario(testbed.load_scenario(PILOT), load_profiles(DEFAULT_PROFILES))


def _plan(name: str, pilot: Topology, at: datetime | None = None) -> Plan:
    return plan(load_design(name), pilot, at=at or datetime(2026, 1, 5, tzinfo=UTC))


def test_one_namespace_per_site_and_zone_and_one_source_per_place(pilot: Topology) -> None:
    the_plan = _plan("per-site-vlans", pilot)
    zones = {(d.site, d.zone) for d in pilot.devices}
    assert {(link.site, link.zone) for link in the_plan.links} == zones
    places = {(d.site, d.zone, d.device_class) for d in pilot.devices}
    assert sorted((s.place.site, s.place.zone, s.place.device_class)
                  for s in the_plan.sources) == sorted(places)  # fmt: skip
    catalog = load_catalog()
    ports = sum(len(catalog.listens(a.kind, None)) for a in pilot.assets)
    # and one device target per place whose class listens on TCP (device to device)
    devices = [t for t in the_plan.targets if t.endpoint.is_device]
    assert {(t.endpoint.site, t.endpoint.zone, t.endpoint.device_class) for t in devices} == {
        p for p in places if catalog.listens(EndpointKind.DEVICE, p[2])}
    ports += sum(len(catalog.listens(t.endpoint.kind, t.endpoint.device_class)) for t in devices)
    assert len(the_plan.flows) == len(the_plan.sources) * ports
    addresses = [s.address for s in the_plan.sources] + [t.address for t in the_plan.targets]
    assert len(set(addresses)) == len(addresses)
    assert all(str(t.address).startswith("10.79.") for t in devices)


@pytest.mark.parametrize(("name", "opened"), [
    ("flat-shared-credentials", "all"), ("zero-trust-microsegmentation", "none")])
def test_device_to_device_flows_are_probed_as_the_blast_radius_sees_them(
    pilot: Topology, name: str, opened: str
) -> None:
    """The flat design's blast radius is every other device: every device-to-device
    flow is open; zero trust's reaches no device: none is (ports, as the kernel sees)."""
    the_plan = _plan(name, pilot)
    to_devices = [f for f in the_plan.flows if f.target.endpoint.is_device]
    assert to_devices
    opens = {f.network_open for f in to_devices}
    assert opens == ({True} if opened == "all" else {False})
    reached = network.blast_radius(name, pilot)["Reachable_Devices"]
    assert (reached > 0).all() if opened == "all" else (reached == 0).all()


def test_the_namespace_prefix_can_be_chosen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PREFIX_VARIABLE, raising=False)  # an xdist worker sets its own
    assert new_prefix().startswith("tb") and len(new_prefix()) == 10
    monkeypatch.setenv(PREFIX_VARIABLE, "netfin")
    assert new_prefix().startswith("netfin") and new_prefix() != new_prefix()
    monkeypatch.setenv(PREFIX_VARIABLE, "Bad-Name")
    with pytest.raises(EmulationError, match="TESTBED_NETNS_PREFIX='Bad-Name': expected"):
        new_prefix()


@pytest.mark.parametrize("name", SHIPPED)
def test_the_compiled_ruleset_opens_what_the_model_opens(pilot: Topology, name: str) -> None:
    """Offline, flow by flow: an element lets the flow through exactly when the model
    does (the model decides at layer 4, as the filter does: a rule opens its port to
    every service on it in the destination's group)."""
    the_plan = _plan(name, pilot)
    ruleset = compile_ruleset(the_plan)
    differ = [f for f in the_plan.flows if (ruleset.element_for(f) is not None) != f.network_open]
    assert differ == []
    assert any(f.network_open for f in the_plan.flows)


def test_the_chain_is_the_same_for_every_design(pilot: Topology) -> None:
    """Rules become set elements, never rules: only the sets' contents differ."""
    def chain(text: str) -> str:
        return text[text.index("chain input"):]

    chains = {chain(compile_ruleset(_plan(n, pilot)).text()) for n in SHIPPED}
    assert len(chains) == 1
    sizes = {n: len(compile_ruleset(_plan(n, pilot)).elements) for n in SHIPPED}
    assert sizes["zero-trust-microsegmentation"] > sizes["flat-shared-credentials"] > 0


def test_an_expired_exception_leaves_the_ruleset(pilot: Topology) -> None:
    before = compile_ruleset(_plan("zero-trust-microsegmentation", pilot))
    after = compile_ruleset(_plan("zero-trust-microsegmentation", pilot,
                                  at=datetime(2026, 10, 1, tzinfo=UTC)))  # fmt: skip
    label = "exception ultrasound-cleartext-worklist"
    assert any(e.label == label for e in before.elements)
    assert not any(e.label == label for e in after.elements)
    assert len(after.elements) < len(before.elements)


def test_a_signal_during_cleanup_waits_for_it() -> None:
    guard = Guard()
    cleaned = []
    with pytest.raises(SystemExit) as stopped, guard.cleaning():
        guard.handle(signal.SIGTERM, None)
        cleaned.append(True)  # the cleanup went on
    assert cleaned == [True]
    assert stopped.value.code == 128 + signal.SIGTERM
    with pytest.raises(KeyboardInterrupt):
        guard.handle(signal.SIGINT, None)  # armed again: raises at once


def test_what_the_host_lacks_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Not root and no tools on the PATH: each named, in the words the command's exit 2
    and the emulation tests' skip use."""
    monkeypatch.setattr(host.os, "geteuid", lambda: 1000)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert host.missing() == (
        "root (network namespaces and nftables need CAP_NET_ADMIN)",
        "the 'ip' command (apt-get install iproute2)",
        "the 'nft' command (apt-get install nftables)",
    )
    with pytest.raises(EmulationError) as refused:
        host.require()
    assert refused.value.missing == host.missing()
    assert str(refused.value).startswith("cannot emulate here: needs root")
