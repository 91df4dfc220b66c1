"""Operator operations shared by both transports: the CRL a relying party fetches."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from testbed import fault_operations, operations
from testbed.errors import EhrError, RegistrationError
from testbed.events import EventKind
from testbed.faults import FaultKind


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
