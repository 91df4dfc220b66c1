"""The kernel against the model: designs built in namespaces and probed with real TCP.

Every test here builds namespaces and nftables rules (root, ``ip``, ``nft``; the
``host`` fixture skips otherwise, naming what is missing) and checks afterwards that
the host's namespaces and ruleset are as before.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest

from testbed.network.design import DESIGNS
from testbed.network.emulate import Built, Emulated, Plan, emulate
from testbed.network.emulate.ruleset import TABLE

from .conftest import PILOT, kernel_state


@pytest.fixture(autouse=True)
def leaves_nothing_behind(host: None) -> Iterator[None]:
    """Every test ends with the host's namespaces and nftables ruleset as it began."""
    before = kernel_state()
    yield
    assert kernel_state() == before


#: every design shipped in fixtures/designs (a new design file joins this test)
SHIPPED = sorted(p.stem for p in DESIGNS.glob("*.yaml"))


def test_the_five_seed_designs_are_all_emulated() -> None:
    assert len(SHIPPED) >= 5 and "per-site-vlans" in SHIPPED


@pytest.mark.parametrize("design", SHIPPED)
def test_the_kernel_enforces_what_the_model_says(
    plan_of: Callable[[str], Plan], design: str
) -> None:
    result = emulate(plan_of(design))
    counts = result.comparison.counts()
    assert counts["flows"] == len(result.plan.flows) > 0
    assert result.comparison.drift == ()
    assert counts["open_in_kernel"] == counts["open_in_model"] > 0
    opened = {(r.flow.source.label, r.flow.target.endpoint.id, r.flow.port)
              for r in result.comparison.rows if r.kernel_open}  # fmt: skip
    expected = {(f.source.label, f.target.endpoint.id, f.port)
                for f in result.plan.flows if f.network_open}  # fmt: skip
    assert opened == expected
    assert counts["open_in_model"] < counts["flows"] or design == "flat-shared-credentials"


def test_zero_trust_refuses_in_the_kernel_what_it_refuses_in_the_model(
    plan_of: Callable[[str], Plan],
) -> None:
    """Not everything open: administration ports stay refused (a reset, not a timeout)."""
    result = emulate(plan_of("zero-trust-microsegmentation"))
    ssh = [r for r in result.comparison.rows if r.flow.service == "ssh"]
    assert ssh and {r.said for r in ssh} == {"refused"}
    assert {str(r.flow.verdict.disposition) for r in ssh} == {"DENIED_IN"}


@pytest.mark.parametrize(("design", "reached"), [
    ("per-site-vlans", {("ca", "est"): "DENIED_IDENTITY", ("idp", "token"): "DENIED_IDENTITY"}),
    ("central-ca-automated-renewal", {("idp", "token"): "DENIED_IDENTITY",
                                      ("ehr", "fhir"): "ACCEPTED"}),
])  # fmt: skip
def test_a_rule_on_a_port_opens_every_service_on_it_in_the_model_and_the_kernel(
    plan_of: Callable[[str], Plan], design: str, reached: dict[tuple[str, str], str],
) -> None:
    """per-site-vlans opens tcp/443 from the device VLANs to the servers' VLAN for FHIR;
    the CA's EST and the IdP's token endpoint listen on 443 in that VLAN, so the kernel
    lets devices reach them, and so does the model (layer 4 since issue 13's fix),
    saying through which rule; the design sets no identity condition on them there,
    so the model accepts no flow to them (DENIED_IDENTITY: open in the network,
    refused at the service).  Central CA opens 443 for FHIR and EST, so the IdP's token
    endpoint is reached the same way, and the legacy ultrasound, which has a rule for
    EST only, reaches the EHR's FHIR, accepted with the certificate FHIR asks of every
    other group."""
    result = emulate(plan_of(design))
    assert result.comparison.drift == ()
    through = {(r.flow.target.endpoint.id, r.flow.service): str(r.flow.verdict.disposition)
               for r in result.comparison.rows
               if r.kernel_open and r.flow.port == 443 and " through " in r.flow.verdict.detail}
    assert through == reached
    rows = [r for r in result.comparison.rows if (r.flow.target.endpoint.id, r.flow.service)
            in reached and " through " in r.flow.verdict.detail]  # fmt: skip
    assert rows and all(r.kernel_open and r.flow.network_open for r in rows)
    assert all(r.element is not None and r.element.service in ("fhir", "est") for r in rows)


@pytest.mark.parametrize("design", ["per-site-vlans", "zero-trust-microsegmentation"])
def test_device_to_device_flows_are_enforced_as_the_model_says(
    plan_of: Callable[[str], Plan], design: str
) -> None:
    """A compromised device pivoting to another device's port (what the blast radius
    counts) is probed in the kernel too: under per-site VLANs a device reaches exactly
    the devices of its own VLAN at its site (the segment), under zero trust none (a
    reset from the filter)."""
    result = emulate(plan_of(design))
    assert result.comparison.drift == ()
    rows = [r for r in result.comparison.rows if r.flow.target.endpoint.is_device]
    assert rows
    opened = {r.kernel_open for r in rows}
    if design == "per-site-vlans":
        assert opened == {True, False}
        assert all(r.kernel_open == (r.flow.verdict.rule == "segment") for r in rows)
    else:
        assert opened == {False} and {r.said for r in rows} == {"refused"}


def _first_open(plan: Plan) -> int:
    return next(i for i, f in enumerate(plan.flows) if f.network_open)


def test_an_element_deleted_behind_the_models_back_is_drift(
    plan_of: Callable[[str], Plan],
) -> None:
    plan = plan_of("zero-trust-microsegmentation")
    victim = plan.flows[_first_open(plan)]

    def delete(built: Built) -> None:
        element = built.ruleset.element_for(victim)
        assert element is not None
        built.nft(f"delete element inet {TABLE} {element.set_name} {{ {element.key} }}")

    result = emulate(plan, before_probe=delete)
    element = result.ruleset.element_for(victim)
    covered = {f for f in plan.flows if f.network_open and result.ruleset.element_for(f) == element}
    assert victim in covered
    assert {r.flow for r in result.comparison.drift} == covered
    assert all(not r.kernel_open and "removed behind" in r.cause for r in result.comparison.drift)


def test_an_element_added_behind_the_models_back_is_drift(
    plan_of: Callable[[str], Plan],
) -> None:
    """Someone opens ssh from a device VLAN to the PACS outside change control."""
    plan = plan_of("zero-trust-microsegmentation")
    victim = next(f for f in plan.flows if f.service == "ssh" and f.target.endpoint.kind == "pacs")

    def add(built: Built) -> None:
        src = built.ruleset.source_tags[victim.source.address]
        dst = built.ruleset.destination_tags[victim.target.address]
        built.nft(f"add element inet {TABLE} allow {{ {src:#010x} . {dst:#010x} . 22 }}")

    result = emulate(plan, before_probe=add)
    drift = result.comparison.drift
    assert victim in {r.flow for r in drift}
    assert all(r.kernel_open and "outside the design" in r.cause for r in drift)
    assert {(r.flow.target.endpoint.id, r.flow.port) for r in drift} == {
        (victim.target.endpoint.id, 22)
    }


def test_an_error_mid_run_removes_everything(plan_of: Callable[[str], Plan]) -> None:
    """The hook fails after namespaces, rules and listeners exist; the autouse fixture
    checks they are gone."""
    seen: list[list[str]] = []

    def fail(built: Built) -> None:
        seen.append(built.namespaces.existing())
        raise RuntimeError("injected")

    with pytest.raises(RuntimeError, match="injected"):
        emulate(plan_of("per-site-vlans"), before_probe=fail)
    assert len(seen[0]) == len(plan_of("per-site-vlans").links) + 1  # it had built them


@pytest.mark.parametrize(("signame", "returncode"), [("SIGTERM", 128 + 15), ("SIGINT", -2)])
def test_a_signal_mid_run_removes_everything(signame: str, returncode: int) -> None:
    """A ``kill`` or a Ctrl-C of the emulating process: its finally still runs (then
    SIGTERM exits 143; SIGINT ends Python as an uncaught KeyboardInterrupt does, by
    SIGINT).  The autouse fixture checks nothing is left."""
    script = textwrap.dedent(f"""
        import os, signal, testbed
        from testbed.crosscheck import DEFAULT_PROFILES
        from testbed.devices import load_profiles
        from testbed.network.design import load_design
        from testbed.network.emulate import emulate, plan
        from testbed.network.topology import Topology
        s = testbed.load_scenario({str(PILOT)!r})
        p = plan(load_design("per-site-vlans"),
                 Topology.from_scenario(s, load_profiles(DEFAULT_PROFILES)), at=s.start)
        def kill(built):
            print("built", *built.namespaces.existing(), flush=True)
            os.kill(os.getpid(), signal.{signame})
        emulate(p, before_probe=kill)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, check=False)  # fmt: skip
    assert done.returncode == returncode, done.stderr
    built = done.stdout.split()
    assert built[0] == "built" and len(built) > 2


def test_timings_are_measured(plan_of: Callable[[str], Plan]) -> None:
    result: Emulated = emulate(plan_of("flat-shared-credentials"))
    timings = result.timings
    assert all(t > 0 for t in (timings.namespaces, timings.ruleset, timings.listeners,
                                timings.probe, timings.teardown))  # fmt: skip


def test_an_expired_exception_is_closed_in_the_kernel_too(pilot_at: Callable[..., Plan]) -> None:
    """zero trust's cleartext worklist exception for the ultrasound expires on
    2026-09-30: open in the kernel before, refused after, the model agreeing both
    times."""
    def worklist(result: Emulated) -> set[str]:
        return {r.said for r in result.comparison.rows
                if r.flow.source.place.device_class == "ultrasound" and r.flow.service == "dicom"}

    before = emulate(pilot_at("zero-trust-microsegmentation", datetime(2026, 9, 1, tzinfo=UTC)))
    after = emulate(pilot_at("zero-trust-microsegmentation", datetime(2026, 10, 1, tzinfo=UTC)))
    assert before.comparison.drift == () == after.comparison.drift
    assert "open" in worklist(before)
    assert worklist(after) == {"refused"}
