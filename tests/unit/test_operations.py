"""Operator operations shared by both transports: the CRL a relying party fetches."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from testbed import fault_operations, operations
from testbed.errors import EhrError, RegistrationError
from testbed.events import EventKind
from testbed.faults import FaultKind
from testbed.pki.issuing_mode import IssuingMode


def test_the_current_crl_is_reissued_when_due_and_not_while_the_ca_is_down(
    hospital: Any,
) -> None:
    root = hospital.root
    [issuing] = root.ca.issuing_cas()
    first = operations.current_crl(root, issuing)  # none yet: published now
    assert root.crls.current(issuing.name) is first
    hospital.clock.advance(timedelta(hours=1))
    assert operations.current_crl(root, issuing) is first  # not due (24 h interval)
    hospital.clock.advance(timedelta(hours=24))
    root.ca_outages.begin()
    assert operations.current_crl(root, issuing) is first  # due, but the CA is down
    root.ca_outages.end()
    second = operations.current_crl(root, issuing)
    assert second is not first and second.this_update == hospital.clock.now()


def test_a_pacs_or_ehr_outage_takes_that_service_down_audited_until_healed(
    hospital: Any,
) -> None:
    root = hospital.root
    fault_operations.begin_service_outage(root, FaultKind.PACS_OUTAGE, "pacs-north")
    fault_operations.begin_service_outage(root, FaultKind.EHR_OUTAGE, "ehr")
    assert "pacs-north" in root.outages and "ehr" in root.outages
    fault_operations.end_service_outage(root, FaultKind.PACS_OUTAGE, "pacs-north")
    fault_operations.end_service_outage(root, FaultKind.EHR_OUTAGE, "ehr")
    assert "pacs-north" not in root.outages and "ehr" not in root.outages
    faults = [(e.kind, e.subject, e.data["fault"]) for e in root.log
              if e.kind in (EventKind.FAULT_STARTED, EventKind.FAULT_HEALED)]  # fmt: skip
    assert faults == [
        (EventKind.FAULT_STARTED, "service:pacs-north", "pacs-outage"),
        (EventKind.FAULT_STARTED, "service:ehr", "ehr-outage"),
        (EventKind.FAULT_HEALED, "service:pacs-north", "pacs-outage"),
        (EventKind.FAULT_HEALED, "service:ehr", "ehr-outage"),
    ]
    with pytest.raises(RegistrationError, match="'pacs-north' is not down"):
        fault_operations.end_service_outage(root, FaultKind.PACS_OUTAGE, "pacs-north")
    with pytest.raises(RegistrationError, match="pacs-outage: unknown pacs service 'ehr'"):
        fault_operations.begin_service_outage(root, FaultKind.PACS_OUTAGE, "ehr")
    with pytest.raises(EhrError, match="no identity provider"):
        fault_operations.begin_idp_outage(root)
    with pytest.raises(EhrError, match="no identity provider"):
        fault_operations.begin_idp_key_rotation(root)


def test_an_operator_delivers_the_trust_bundles_now_after_a_rotation(hospital: Any) -> None:
    root = hospital.root
    new = operations.rotate_ca_key(root, site=None, overlap=timedelta(0))
    assert new.certificate not in root.trust.bundle("north", now=hospital.clock.now()).certificates
    delivered = operations.deliver_trust(root)
    assert delivered == {"north": 2, "south": 2}
    assert new.certificate in root.trust.bundle("north", now=hospital.clock.now()).certificates
    updates = [(e.subject, e.data["version"], e.data["by"]) for e in root.log
               if e.kind is EventKind.TRUST_BUNDLE_UPDATED]  # fmt: skip
    assert updates == [("north", 2, "operator"), ("south", 2, "operator")]


def _published(root: Any) -> list[str]:
    return [e.subject for e in root.log if e.kind is EventKind.CRL_PUBLISHED]


def test_an_issuing_ca_that_is_down_signs_no_crl_whoever_asks(make_hospital: Any) -> None:
    """:func:`operations.publish_crls` skips a CA that is down, for the simulation's
    schedule and the live admin API alike; a heal republishes only what is up."""
    root = make_hospital(issuing=IssuingMode.PER_SITE).root
    names = {issuing.site: issuing.name for issuing in root.ca.issuing_cas()}
    fault_operations.begin_ca_outage(root, site="north")
    assert [crl.issuer for crl in operations.publish_crls(root)] == [names["south"]]
    fault_operations.begin_ca_outage(root)  # the whole CA too
    assert operations.publish_crls(root) == []
    assert operations.publish_crls(root, site="south") == []
    before = len(_published(root))
    assert fault_operations.end_ca_outage(root)  # the CA is up; north's own outage holds
    assert _published(root)[before:] == [names["south"]]
    assert fault_operations.end_ca_outage(root, site="north")
    assert _published(root)[before + 1:] == [names["north"]]


def test_a_site_ca_outage_needs_per_site_issuing(hospital: Any) -> None:
    """The rule ``testbed validate`` applies to a scenario's ``ca-outage`` target holds
    for a live fault too: under central issuing no site has an issuing CA to take down."""
    root = hospital.root
    with pytest.raises(RegistrationError, match="central issuing"):
        fault_operations.begin_ca_outage(root, site="north")
    with pytest.raises(RegistrationError, match="unknown site 'west'"):
        fault_operations.begin_ca_outage(root, site="west")
    assert not root.ca_outages.down("north")
    assert not [e for e in root.log if e.kind is EventKind.FAULT_STARTED]


def test_a_retired_device_is_not_re_bootstrapped(hospital: Any) -> None:
    """Offboarding took the device's bootstrap secret for good: re-bootstrapping it does
    nothing and writes nothing (the live admin API answers 409)."""
    root = hospital.root
    hospital.onboard("dev-1")
    operations.offboard(root, "dev-1")
    written = len(root.log)
    assert operations.rebootstrap(root, "dev-1") is None
    assert len(root.log) == written
    assert root.inventory.entry("dev-1").bootstrap_digest is None
    hospital.onboard("dev-2")
    assert operations.rebootstrap(root, "dev-2") is not None


def test_a_generation_made_while_its_ca_is_down_has_no_crl_until_the_ca_is_back(
    make_hospital: Any,
) -> None:
    """A key rotation during its CA's outage signs no CRL for the new generation, on the
    simulation's schedule or live mode's refresh alike (``current_crl`` gives None,
    ``GET /crl/SITE`` 503); the heal publishes it."""
    hospital = make_hospital(issuing=IssuingMode.PER_SITE)
    root = hospital.root
    operations.publish_crls(root)
    fault_operations.begin_ca_outage(root, site="north")
    new = operations.rotate_ca_key(root, site="north", overlap=timedelta(0))
    assert root.crls.current(new.name) is None
    assert operations.current_crl(root, new) is None
    hospital.clock.advance(timedelta(days=2))  # every CRL due
    south = [i for i in root.ca.issuing_cas() if i.site == "south"]
    assert all(operations.current_crl(root, i) is not None for i in south)
    assert root.crls.current(new.name) is None
    assert fault_operations.end_ca_outage(root, site="north")
    current = root.crls.current(new.name)
    assert current is not None and operations.current_crl(root, new) is current
