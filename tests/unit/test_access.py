"""The access point: each hop's denial reason, one event per decision, the oracle."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from testbed.access import Attempt
from testbed.decisions import Hop, Reason
from testbed.events import EventKind
from testbed.lifecycle import LifecycleEvent
from testbed.oracle import wrongly_allowed
from testbed.pki.full import FullArtefacts
from testbed.pki.modeled import ModeledArtefacts

NOW = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)
SOURCE = ("north", "imaging")


@pytest.fixture(params=[FullArtefacts, ModeledArtefacts], ids=["full", "modeled"])
def ready(request: pytest.FixtureRequest, make_hospital: Callable[..., Any]) -> Any:
    """A hospital with ``ct-1`` in production and a fresh CRL: the next attempt is allowed.

    At both fidelity levels: every decision here must be the same at each.
    """
    hospital = make_hospital(artefacts=request.param())
    assert hospital.start == NOW
    hospital.cert = hospital.onboard("ct-1")
    hospital.publish_crls(now=NOW)
    return hospital


def _one_event_per_decision(hospital: Any) -> None:
    events = hospital.decision_events()
    assert len(events) == hospital.metrics.decisions
    assert hospital.log.kept_of(EventKind.ACCESS_DECISION) == len(events)
    assert hospital.metrics.allowed + hospital.metrics.denied == hospital.metrics.decisions


def test_a_device_in_production_with_a_good_certificate_is_allowed(ready: Any) -> None:
    decision = ready.attempt("ct-1", ready.cert, now=LATER)
    assert decision.allowed
    assert (decision.reason, decision.hop) == (Reason.OK, Hop.SERVICE)
    [event] = ready.decision_events()
    assert event == {
        "seq": event["seq"],
        "time": "2026-01-05T09:00:00Z",
        "kind": "access-decision",
        "subject": "ct-1",
        "service": "pacs-north",
        "allowed": True,
        "reason": "ok",
        "hop": "service",
        "purpose": "traffic",
        "serial": f"{ready.cert.serial_number:x}",
        "detail": None,
    }
    assert ready.metrics.unauthorized_access == 0
    _one_event_per_decision(ready)


# Each setup spoils the ready hospital in one way and returns the attempt's arguments.
Setup = Callable[[Any], dict[str, Any]]


def _unknown(h: Any) -> dict[str, Any]:
    return {"device_id": "ghost"}


def _retired(h: Any) -> dict[str, Any]:
    h.transition("ct-1", LifecycleEvent.OFFBOARD)
    return {}


def _suspended(h: Any) -> dict[str, Any]:
    h.transition("ct-1", LifecycleEvent.SUSPEND)
    return {}


def _not_admitted(h: Any) -> dict[str, Any]:
    h.nac.remove("ct-1")
    return {}


def _no_zone_rule(h: Any) -> dict[str, Any]:
    cert = h.onboard("bed-1", zone="bedside", services=("pacs-north",))
    return {"device_id": "bed-1", "cert": cert}


def _blocked_route(h: Any) -> dict[str, Any]:
    h.policy.block("imaging", "pacs-north", "north")
    return {}


def _no_certificate(h: Any) -> dict[str, Any]:
    return {"cert": None}


def _expired(h: Any) -> dict[str, Any]:
    return {"now": NOW + timedelta(days=31)}


def _not_yet_valid(h: Any) -> dict[str, Any]:
    return {"now": NOW - timedelta(hours=1)}


def _revoked(h: Any) -> dict[str, Any]:
    h.ca.revoke(h.cert.serial_number, now=NOW + timedelta(minutes=10))
    h.publish_crls(now=NOW + timedelta(minutes=20))
    return {}


def _no_crl(h: Any) -> dict[str, Any]:
    for issuing in h.ca.issuing_cas():
        h.crls.withdraw(issuing.name)
    return {}


def _stale_crl(h: Any) -> dict[str, Any]:
    return {"now": NOW + timedelta(days=8)}  # the CRL's nextUpdate is 7 days out


def _withheld_trust(h: Any) -> dict[str, Any]:
    h.trust.withhold("north")
    return {}


def _superseded(h: Any) -> dict[str, Any]:
    renewed = h.reenroll("ct-1", h.cert, now=NOW + timedelta(minutes=30))
    assert renewed.status == 200
    return {}


def _another_devices_certificate(h: Any) -> dict[str, Any]:
    return {"cert": h.onboard("ct-2")}  # ct-1 presents ct-2's certificate


def _out_of_scope(h: Any) -> dict[str, Any]:
    cert = h.onboard("ct-2", services=("pacs-north",))  # the zone may reach ehr, ct-2 may not
    return {"device_id": "ct-2", "cert": cert, "service": "ehr"}


def _service_down(h: Any) -> dict[str, Any]:
    h.outages.begin("pacs-north")
    return {}


DENIALS: dict[str, tuple[Setup, Reason, Hop]] = {
    "not-registered": (_unknown, Reason.NOT_REGISTERED, Hop.REGISTRATION),
    "device-retired": (_retired, Reason.DEVICE_RETIRED, Hop.REGISTRATION),
    "device-suspended": (_suspended, Reason.DEVICE_SUSPENDED, Hop.REGISTRATION),
    "route-blocked-nac": (_not_admitted, Reason.ROUTE_BLOCKED, Hop.NETWORK),
    "route-blocked-no-zone-rule": (_no_zone_rule, Reason.ROUTE_BLOCKED, Hop.NETWORK),
    "route-blocked-fault": (_blocked_route, Reason.ROUTE_BLOCKED, Hop.NETWORK),
    "cert-missing": (_no_certificate, Reason.CERT_MISSING, Hop.TLS),
    "cert-expired": (_expired, Reason.CERT_EXPIRED, Hop.TLS),
    "cert-not-yet-valid": (_not_yet_valid, Reason.CERT_NOT_YET_VALID, Hop.TLS),
    "cert-revoked": (_revoked, Reason.CERT_REVOKED, Hop.TLS),
    "revocation-unknown-no-crl": (_no_crl, Reason.REVOCATION_UNKNOWN, Hop.TLS),
    "revocation-unknown-stale-crl": (_stale_crl, Reason.REVOCATION_UNKNOWN, Hop.TLS),
    "cert-untrusted-at-site": (_withheld_trust, Reason.CERT_UNTRUSTED_AT_SITE, Hop.TLS),
    "cert-superseded": (_superseded, Reason.CERT_SUPERSEDED, Hop.TLS),
    "identity-mismatch": (_another_devices_certificate, Reason.IDENTITY_MISMATCH, Hop.TLS),
    "scope-insufficient": (_out_of_scope, Reason.SCOPE_INSUFFICIENT, Hop.APPLICATION),
    "service-unavailable": (_service_down, Reason.SERVICE_UNAVAILABLE, Hop.SERVICE),
}


@pytest.mark.parametrize(("setup", "reason", "hop"), DENIALS.values(), ids=DENIALS.keys())
def test_each_hop_denies_with_its_reason(
    ready: Any, setup: Setup, reason: Reason, hop: Hop
) -> None:
    args: dict[str, Any] = {"device_id": "ct-1", "cert": ready.cert, "now": LATER}
    args.update(setup(ready))
    before = len(ready.log)
    decision = ready.access.decide(
        Attempt(args["device_id"], args.get("service", "pacs-north"), args["cert"],
                ready.source(args["device_id"])),
        now=args["now"],
    )
    assert not decision.allowed
    assert (decision.reason, decision.hop) == (reason, hop)
    events = ready.decision_events()
    assert len(events) == 1
    assert events[0]["reason"] == reason.value
    assert events[0]["hop"] == hop.value
    assert events[0]["allowed"] is False
    assert events[0]["subject"] == args["device_id"]
    assert len(ready.log) == before + 1  # the decision is the only event
    assert ready.metrics.denial_reasons == {reason.value: 1}
    assert ready.metrics.denied == 1
    assert ready.metrics.unauthorized_access == 0
    _one_event_per_decision(ready)


def test_the_trust_bundle_comes_back_after_a_withhold(ready: Any) -> None:
    ready.trust.withhold("north")
    assert ready.attempt("ct-1", ready.cert, now=LATER).reason is Reason.CERT_UNTRUSTED_AT_SITE
    ready.trust.release("north", now=LATER)
    assert ready.attempt("ct-1", ready.cert, now=LATER).allowed
    _one_event_per_decision(ready)


def test_the_network_hop_judges_where_the_traffic_comes_from(ready: Any) -> None:
    """ct-1 is registered in imaging; the same device and certificate from the bedside
    zone, which has no route to the PACS, is refused at the network hop."""
    bedside = ready.access.decide(
        Attempt("ct-1", "pacs-north", ready.cert, ("north", "bedside")), now=LATER
    )
    assert (bedside.reason, bedside.hop) == (Reason.ROUTE_BLOCKED, Hop.NETWORK)
    nowhere = ready.access.decide(Attempt("ct-1", "pacs-north", ready.cert, None), now=LATER)
    assert (nowhere.reason, nowhere.hop) == (Reason.ROUTE_BLOCKED, Hop.NETWORK)
    assert ready.attempt("ct-1", ready.cert, now=LATER).allowed


def test_a_blocked_route_heals(ready: Any) -> None:
    ready.policy.block("imaging", "pacs-north", None)
    assert ready.attempt("ct-1", ready.cert, now=LATER).reason is Reason.ROUTE_BLOCKED
    ready.policy.unblock("imaging", "pacs-north", None)
    assert ready.attempt("ct-1", ready.cert, now=LATER).allowed


def test_the_renewed_certificate_is_the_one_allowed(ready: Any) -> None:
    renewed = ready.reenroll("ct-1", ready.cert, now=NOW + timedelta(minutes=30))
    assert ready.attempt("ct-1", renewed.certificate, now=LATER).allowed
    assert ready.attempt("ct-1", ready.cert, now=LATER).reason is Reason.CERT_SUPERSEDED


def test_a_preproduction_test_certificate_is_not_superseded(ready: Any) -> None:
    test_cert = ready.reenroll("ct-1", ready.cert, now=NOW + timedelta(minutes=30)).certificate
    entry = ready.inventory.entry("ct-1")
    entry.test_serials.add(ready.cert.serial_number)
    assert entry.serial == test_cert.serial_number
    assert ready.attempt("ct-1", ready.cert, now=LATER).allowed


def test_every_decision_writes_exactly_one_event(ready: Any) -> None:
    cases = [
        ("ct-1", ready.cert, "pacs-north", LATER),
        ("ghost", ready.cert, "pacs-north", LATER),
        ("ct-1", None, "pacs-north", LATER),
        ("ct-1", ready.cert, "pacs-south", LATER),
        ("ct-1", ready.cert, "ehr", LATER),
        ("ct-1", ready.cert, "pacs-north", NOW + timedelta(days=31)),
        ("ct-1", ready.cert, "pacs-north", NOW + timedelta(days=8)),
    ]
    for count, (device_id, cert, service, now) in enumerate(cases, start=1):
        decision = ready.access.decide(Attempt(device_id, service, cert, SOURCE), now=now)
        events = ready.decision_events()
        assert len(events) == count
        assert (events[-1]["subject"], events[-1]["service"]) == (device_id, service)
        assert (events[-1]["allowed"], events[-1]["reason"]) == (
            decision.allowed, decision.reason.value)
    assert ready.metrics.allowed == 2
    assert ready.metrics.denial_reasons == {
        "not-registered": 1, "cert-missing": 1, "route-blocked": 1,
        "cert-expired": 1, "revocation-unknown": 1,
    }  # fmt: skip
    _one_event_per_decision(ready)


def test_a_device_cannot_authenticate_with_another_devices_certificate(ready: Any) -> None:
    """ct-2 is registered but not enrolled (the inventory binds no serial yet)."""
    ready.register("ct-2")
    decision = ready.attempt("ct-2", ready.cert, now=LATER)  # ct-1's certificate
    assert not decision.allowed
    assert ready.metrics.unauthorized_access == 0


# -- the oracle --------------------------------------------------------------------------


def test_a_revoked_certificate_allowed_before_the_crl_shows_it_is_unauthorized(ready: Any) -> None:
    revoked_at = NOW + timedelta(minutes=10)
    ready.ca.revoke(ready.cert.serial_number, now=revoked_at)
    # the CRL published at NOW does not list it: the access point cannot know yet
    decision = ready.attempt("ct-1", ready.cert, now=revoked_at + timedelta(minutes=1))
    assert decision.allowed
    assert ready.metrics.unauthorized_access == 1
    assert ready.metrics.stale_access_after_offboarding == 0
    # once the CRL is published, the certificate is refused and nothing more is counted
    ready.publish_crls(now=revoked_at + timedelta(minutes=5))
    later = ready.attempt("ct-1", ready.cert, now=revoked_at + timedelta(minutes=6))
    assert later.reason is Reason.CERT_REVOKED
    assert ready.metrics.unauthorized_access == 1
    _one_event_per_decision(ready)


def test_an_allowance_before_the_revocation_time_is_not_counted(ready: Any) -> None:
    ready.ca.revoke(ready.cert.serial_number, now=NOW + timedelta(hours=2))
    assert ready.attempt("ct-1", ready.cert, now=LATER).allowed
    assert ready.metrics.unauthorized_access == 0


def test_the_oracle_uses_the_inventory_and_the_true_clock(ready: Any) -> None:
    def wrong(attempt: Attempt, now: datetime) -> bool:
        return wrongly_allowed(ready.access.context(attempt, now=now), ready.ca)

    attempt = Attempt("ct-1", "pacs-north", ready.cert, SOURCE)
    assert not wrong(attempt, LATER)
    assert wrong(Attempt("ghost", "pacs-north", ready.cert, SOURCE), LATER)
    assert wrong(Attempt("ct-1", "pacs-north", None, SOURCE), LATER)
    assert wrong(attempt, NOW + timedelta(days=31))
    ready.transition("ct-1", LifecycleEvent.SUSPEND)
    assert wrong(attempt, LATER)
