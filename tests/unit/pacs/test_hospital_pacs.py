"""The composition root owns one PACS per PACS service, and the DICOM path both
transports call (testbed/dicom.py): endpoints, TLS profiles, allow-lists following the
inventory, the network hop before the PACS, and the instance-store seam."""

from __future__ import annotations

import random
import typing
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509

from testbed import operations
from testbed.clock import ManualClock
from testbed.crosscheck import cross_check
from testbed.decisions import Hop, Reason
from testbed.errors import RegistrationError, ScenarioError
from testbed.events import EventKind, EventLog
from testbed.hospital import Hospital as RealHospital
from testbed.pacs import (
    AssociationRequest,
    MemoryStore,
    PacsEndpoint,
    StoreRequest,
    TlsOffer,
    ZoneFrom,
)
from testbed.pacs.ae_title import pacs_ae_title
from testbed.pacs.store import InstanceStore
from testbed.pacs.tls_profile import TlsProfile
from testbed.sites import PacsTls, Service, ServiceKind, Site
from tests.conftest import NOW, PROFILES, REPO, Hospital, scenario_for_tests
from tests.unit.pacs.builders import make_dataset

MODERN = TlsOffer.of(["tls1.2", "tls1.3"])
ZERO = timedelta(0)


def _onboard(h: Hospital, device: str, ae: str, *, zone: str = "imaging") -> x509.Certificate:
    """Register through the shared operation (allow-lists follow), enroll, promote."""
    record = replace(h.record(device, zone=zone), ae_title=ae, dicom_endpoints=("pacs-north",))
    h.passwords[device] = operations.register(h.root, record)
    cert = h.enroll(device)
    h.promote(device)
    h.publish_crls(now=NOW)
    return cert


def _request(cert: x509.Certificate | None, ae: str = "APEXCT001", *,
             source: tuple[str, str] | None = ("north", "imaging"),
             called: str = "PACS_NORTH") -> AssociationRequest:  # fmt: skip
    return AssociationRequest(ae, called, cert, source, MODERN)


def _reason(h: Hospital, request: AssociationRequest) -> Reason:
    return h.root.dicom.associate("pacs-north", request, now=NOW).decision.reason


def test_one_pacs_per_pacs_service_with_its_endpoint_and_profile(hospital: Hospital) -> None:
    pacs = hospital.root.pacs
    assert sorted(pacs) == ["pacs-north", "pacs-south"]  # the EHR has none
    north = pacs["pacs-north"].policy
    assert north.endpoint == PacsEndpoint("pacs-north", "north", "PACS_NORTH")
    assert north.profile is TlsProfile.BCP195_NON_DOWNGRADING
    assert len(north.allow_list) == 0


def test_a_declared_ae_title_and_a_legacy_site_are_used() -> None:
    base = scenario_for_tests()
    sites = (replace(base.sites[0], pacs_tls="legacy"), *base.sites[1:])
    services = tuple(replace(s, ae_title=" RADNORTH") if s.name == "pacs-north" else s
                     for s in base.services)  # fmt: skip
    scenario = replace(base, sites=sites, services=services)
    root = RealHospital(scenario, profiles=PROFILES, clock=ManualClock(NOW),
                        rng=random.Random(1), log=EventLog())  # fmt: skip
    assert root.pacs["pacs-north"].policy.endpoint.ae_title == "RADNORTH"
    assert root.pacs["pacs-north"].policy.profile is TlsProfile.LEGACY
    assert root.pacs["pacs-south"].policy.profile is TlsProfile.BCP195_NON_DOWNGRADING


def test_the_scenario_tls_names_are_the_profiles() -> None:
    assert set(typing.get_args(PacsTls)) == {p.value for p in TlsProfile}


def test_each_pacs_gets_its_store_from_the_seam() -> None:
    made: dict[str, InstanceStore] = {}

    def instances(endpoint: PacsEndpoint) -> InstanceStore:
        made[endpoint.service] = MemoryStore()
        return made[endpoint.service]

    root = RealHospital(scenario_for_tests(), profiles=PROFILES, clock=ManualClock(NOW),
                        rng=random.Random(1), log=EventLog(), instances=instances)  # fmt: skip
    assert sorted(made) == ["pacs-north", "pacs-south"]
    assert all(root.pacs[s].store is made[s] for s in made)


def test_a_registered_device_associates_stores_once_and_releases(hospital: Hospital) -> None:
    cert = _onboard(hospital, "ct-1", "APEXCT001")
    dicom = hospital.root.dicom
    answer = dicom.associate("pacs-north", _request(cert), now=NOW)
    association = answer.association
    assert association is not None, answer.decision
    assert association.device_id == "ct-1" and association.called_ae == "PACS_NORTH"
    first = dicom.store(StoreRequest(association, make_dataset()), now=NOW)
    again = dicom.store(StoreRequest(association, make_dataset()), now=NOW)
    assert first.stored and not first.duplicate
    assert again.stored and again.duplicate  # a retry after a lost answer: no copy
    assert len(hospital.root.pacs["pacs-north"].store) == 1
    assert dicom.echo(association, now=NOW).decision.allowed
    dicom.release(association)
    closed = dicom.store(StoreRequest(association, make_dataset(n=2)), now=NOW)
    assert closed.decision.reason is Reason.NO_ASSOCIATION


def test_an_offboarded_device_leaves_the_allow_list(hospital: Hospital) -> None:
    cert = _onboard(hospital, "ct-1", "APEXCT001")
    assert "APEXCT001" in hospital.root.allow_lists.current("pacs-north")
    operations.offboard(hospital.root, "ct-1")
    assert "APEXCT001" not in hospital.root.allow_lists.current("pacs-north")
    assert _reason(hospital, _request(cert)) is Reason.ROUTE_BLOCKED  # off NAC too
    hospital.nac.admit("ct-1")  # even back on the network (no CRL published since):
    assert _reason(hospital, _request(cert)) is Reason.AE_TITLE_NOT_ALLOWED
    assert not hospital.root.pacs["pacs-north"].open_associations


def test_a_suspended_device_stays_listed_and_is_refused_until_resumed(hospital: Hospital) -> None:
    cert = _onboard(hospital, "ct-1", "APEXCT001")
    operations.suspend(hospital.root, "ct-1")
    assert "APEXCT001" in hospital.root.allow_lists.current("pacs-north")
    assert _reason(hospital, _request(cert)) is Reason.DEVICE_SUSPENDED
    operations.resume(hospital.root, "ct-1")
    assert _reason(hospital, _request(cert)) is Reason.OK


def test_a_title_held_by_another_device_is_refused_at_registration(hospital: Hospital) -> None:
    _onboard(hospital, "ct-1", "APEXCT001")
    record = replace(hospital.record("ct-2"), ae_title="APEXCT001 ",
                     dicom_endpoints=("pacs-north",))  # fmt: skip
    with pytest.raises(RegistrationError, match="already 'ct-1'"):
        operations.register(hospital.root, record)
    assert hospital.inventory.get("ct-2") is None  # nothing changed


def test_a_withheld_title_is_refused_until_restored(hospital: Hospital) -> None:
    cert = _onboard(hospital, "ct-1", "APEXCT001")
    lists = hospital.root.allow_lists
    lists.withhold("pacs-north", "APEXCT001")
    assert _reason(hospital, _request(cert)) is Reason.AE_TITLE_NOT_ALLOWED
    lists.restore("pacs-north", "APEXCT001")
    assert _reason(hospital, _request(cert)) is Reason.OK


def test_the_network_hop_comes_first_and_is_recorded_by_the_pacs(hospital: Hospital) -> None:
    cert = _onboard(hospital, "ct-1", "APEXCT001")
    answer = hospital.root.dicom.associate(
        "pacs-north", _request(cert, source=("north", "bedside")), now=NOW
    )
    assert (answer.decision.reason, answer.decision.hop) == (Reason.ROUTE_BLOCKED, Hop.NETWORK)
    assert answer.device_id == "ct-1" and answer.rejection is not None
    (event,) = hospital.log.of_kind(EventKind.DICOM_ASSOCIATION)
    assert event.subject == "ct-1" and event.data["reason"] == "route-blocked"
    hospital.nac.remove("ct-1")
    assert _reason(hospital, _request(cert)) is Reason.ROUTE_BLOCKED
    assert _reason(hospital, _request(cert, source=None)) is Reason.ROUTE_BLOCKED


def test_an_unknown_peer_without_a_certificate_is_refused_at_the_network(
    hospital: Hospital,
) -> None:
    assert _reason(hospital, _request(None, "NOBODY")) is Reason.ROUTE_BLOCKED


def test_a_listed_title_without_a_certificate_is_refused_for_the_certificate(
    hospital: Hospital,
) -> None:
    _onboard(hospital, "ct-1", "APEXCT001")
    assert _reason(hospital, _request(None)) is Reason.CERT_MISSING


def test_the_pacs_outage_refuses_associations(hospital: Hospital) -> None:
    cert = _onboard(hospital, "ct-1", "APEXCT001")
    hospital.outages.begin("pacs-north")
    assert _reason(hospital, _request(cert)) is Reason.SERVICE_UNAVAILABLE
    hospital.outages.end("pacs-north")
    assert _reason(hospital, _request(cert)) is Reason.OK


@pytest.mark.parametrize(
    ("name", "declared", "expected"),
    [("pacs-east", None, "PACS_EAST"), ("pacs-with-a-very-long-name", None, "PACS_WITH_A_VERY"),
     ("pacs-east", "  EAST ", "EAST")],
)  # fmt: skip
def test_the_pacs_ae_title_default_is_derived_from_the_name(
    name: str, declared: str | None, expected: str
) -> None:
    assert pacs_ae_title(name, declared) == expected


def _check(services: tuple[Service, ...]) -> None:
    scenario = replace(scenario_for_tests(), services=services)
    cross_check(scenario, file="s.yaml", base=REPO / "scenarios")


@pytest.mark.parametrize(
    ("services", "field", "expected"),
    [
        ((Service("ehr", ServiceKind.EHR, "north", "datacenter", ae_title="EHR"),),
         "services[0].ae_title", "only a pacs service"),
        ((Service("pacs-north", ServiceKind.PACS, "north", "datacenter", ae_title="A\\B"),),
         "services[0].ae_title", "backslash"),
        ((Service("pacs-north", ServiceKind.PACS, "north", "datacenter"),
          Service("pacs-south", ServiceKind.PACS, "south", "datacenter", ae_title="PACS_NORTH")),
         "services[1].ae_title", "also 'pacs-north'"),
    ],
    ids=["not-a-pacs", "invalid", "shared"],
)  # fmt: skip
def test_scenario_ae_titles_are_checked(
    services: tuple[Service, ...], field: str, expected: str
) -> None:
    full = (*services, Service("ehr-x", ServiceKind.EHR, "north", "datacenter"))
    with pytest.raises(ScenarioError) as raised:
        _check(full)
    assert raised.value.field == field and expected in str(raised.value)


def test_a_site_names_a_known_tls_profile(tmp_path: Path) -> None:
    from pydantic import TypeAdapter

    from testbed.inputs import validate

    with pytest.raises(ScenarioError, match="pacs_tls"):
        validate(TypeAdapter(Site), {"name": "x", "zones": ["a"], "pacs_tls": "tls1.0"},
                 file="s.yaml")  # fmt: skip


def test_every_change_of_what_a_pacs_trusts_or_lists_moves_the_revision(
    hospital: Hospital,
) -> None:
    """A live acceptor rebuilds its TLS context when the revision's ``changes`` moved
    (testbed/live/dicom/tls.py): each change of a PACS's trust or allow-list must move
    them."""
    root = hospital.root
    changes: list[tuple[str, typing.Callable[[], object]]] = [
        ("register", lambda: _onboard(hospital, "ct-1", "APEXCT001")),
        ("withhold title", lambda: root.allow_lists.withhold("pacs-north", "APEXCT001")),
        ("restore title", lambda: root.allow_lists.restore("pacs-north", "APEXCT001")),
        ("pacs distrusts", lambda: root.pacs_trust.withhold("north")),
        ("pacs trusts", lambda: root.pacs_trust.release("north")),
        ("rotate CA key", lambda: operations.rotate_ca_key(root, site=None, overlap=ZERO)),
        ("offboard", lambda: operations.offboard(root, "ct-1")),
    ]
    for what, change in changes:
        before = root.revision.changes
        change()
        assert root.revision.changes > before, what


def test_a_list_change_of_no_pacs_leaves_the_revision(hospital: Hospital) -> None:
    revision = hospital.root.revision
    lists, before = hospital.root.allow_lists, (revision.value, revision.changes)
    lists.add(hospital.record("ct-9"))  # no AE title, no DICOM endpoint
    lists.remove("ct-9")
    assert (revision.value, revision.changes) == before


def test_a_live_zone_source_is_recorded_and_the_simulations_shape_is_kept(
    hospital: Hospital,
) -> None:
    cert = _onboard(hospital, "ct-1", "APEXCT001")
    log = hospital.root.log
    for zone_from in (None, ZoneFrom.REGISTRATION, ZoneFrom.SOURCE):
        since = len(list(log))
        request = replace(_request(cert), zone_from=zone_from)
        answer = hospital.root.dicom.associate("pacs-north", request, now=NOW)
        assert answer.decision.allowed
        event = [e for e in list(log)[since:] if e.kind is EventKind.DICOM_ASSOCIATION][-1]
        assert event.data.get("zone_from", "absent") == (
            "absent" if zone_from is None else zone_from.value)  # fmt: skip
