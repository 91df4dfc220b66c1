"""The DICOM measures, the unauthorized-store oracle, the PACS's own trust view, and a
PACS that moves (issue 12): each rule on the real hospital of ``tests/conftest.py``."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
from cryptography import x509

from testbed import operations
from testbed.clock import ManualClock
from testbed.decisions import Hop, Reason
from testbed.events import EventKind, EventLog
from testbed.hospital import Hospital as RealHospital
from testbed.metrics import DicomCounts
from testbed.pacs import AssociationRequest, MemoryStore, PacsEndpoint, StoreRequest, TlsOffer
from testbed.pacs.store import InstanceStore, StoredInstance
from testbed.scenario import DicomSettings
from tests.conftest import NOW, PROFILES, Hospital, scenario_for_tests
from tests.unit.pacs.builders import make_dataset

MODERN = TlsOffer.of(["tls1.2", "tls1.3"])


def _request(cert: x509.Certificate | None, ae: str = "APEXCT001",
             called: str = "PACS_NORTH") -> AssociationRequest:  # fmt: skip
    return AssociationRequest(ae, called, cert, ("north", "imaging"), MODERN)


def _onboard(h: Hospital, device: str = "ct-1", ae: str = "APEXCT001") -> x509.Certificate:
    record = replace(h.record(device), ae_title=ae, dicom_endpoints=("pacs-north",))
    h.passwords[device] = operations.register(h.root, record)
    cert = h.enroll(device)
    h.promote(device)
    h.publish_crls(now=NOW)
    return cert


class _Forgetful(MemoryStore):
    """A broken store that does not find what it keeps (a durable store that lost
    its index, say): the PACS then stores the same instance twice."""

    def get(self, sop_instance_uid: str) -> StoredInstance | None:
        return None

    def add(self, instance: StoredInstance) -> None:
        self._by_uid[f"{instance.sop_instance_uid}#{len(self)}"] = instance


def _dicom_hospital(instances: type[MemoryStore] = MemoryStore) -> Hospital:
    h = Hospital()
    scenario = replace(scenario_for_tests(), dicom=DicomSettings())

    def store(endpoint: PacsEndpoint) -> InstanceStore:
        return instances()

    h.root = RealHospital(scenario, profiles=PROFILES, clock=h.clock, rng=h.rng, log=h.log,
                          instances=store)  # fmt: skip
    h.access, h.metrics = h.root.access, h.root.metrics
    h.ca, h.trust, h.crls, h.inventory = h.root.ca, h.root.trust, h.root.crls, h.root.inventory
    h.est, h.nac, h.outages = h.root.est, h.root.nac, h.root.outages
    return h


def test_associations_and_stores_are_counted_by_reason() -> None:
    h = _dicom_hospital()
    cert = _onboard(h)
    dicom, counts = h.root.dicom, h.metrics.dicom
    assert counts is not None
    association = dicom.associate("pacs-north", _request(cert), now=NOW).association
    assert association is not None
    dicom.associate("pacs-north", _request(cert, "NOBODY"), now=NOW)
    dicom.store(StoreRequest(association, make_dataset()), now=NOW)
    dicom.store(StoreRequest(association, make_dataset()), now=NOW)  # a resend
    bad = make_dataset(n=2)
    del bad.PatientID
    dicom.store(StoreRequest(association, bad), now=NOW)
    assert counts.by_reason() == {
        "associations": {"ae-title-not-allowed": 1, "ok": 1},
        "stores": {"dataset-invalid": 1, "ok": 2},
    }
    m = counts.measures()
    assert (m["dicom_instances_stored"], m["dicom_retries_answered"], m["duplicates"]) == (1, 1, 0)
    assert m["dicom_stores_refused"] == 1 and m["dicom_associations_refused"] == 1


def test_a_second_copy_is_counted_as_a_duplicate() -> None:
    """The measure watches the answers, not the store's promise: a store that loses
    track of what it keeps makes the resend a second copy, and it is counted."""
    h = _dicom_hospital(_Forgetful)
    cert = _onboard(h)
    association = h.root.dicom.associate("pacs-north", _request(cert), now=NOW).association
    assert association is not None
    for _ in range(2):
        h.root.dicom.store(StoreRequest(association, make_dataset()), now=NOW)
    assert h.metrics.dicom is not None and h.metrics.dicom.duplicates == 1


def test_duplicates_are_per_pacs() -> None:
    counts = DicomCounts()
    for service in ("pacs-north", "pacs-south"):
        counts.store(service=service, sop_instance_uid="1.2.3", allowed=True, reason="ok",
                     duplicate=False)  # fmt: skip
    assert counts.duplicates == 0 and counts.instances_stored == 2


def test_a_hospital_without_dicom_counts_nothing(hospital: Hospital) -> None:
    assert hospital.metrics.dicom is None
    assert "duplicates" not in hospital.metrics.measures()


def test_a_store_on_a_revoked_certificate_the_pacs_cannot_see_yet_is_unauthorized() -> None:
    h = _dicom_hospital()
    cert = _onboard(h)
    association = h.root.dicom.associate("pacs-north", _request(cert), now=NOW).association
    assert association is not None
    operations.revoke(h.root, "ct-1")  # no CRL published since: the PACS still accepts it
    answer = h.root.dicom.store(StoreRequest(association, make_dataset()), now=NOW)
    assert answer.stored
    (event,) = h.log.of_kind(EventKind.UNAUTHORIZED_ACCESS)
    assert event.subject == "ct-1" and event.data["why"] == "the certificate was revoked at the CA"
    assert event.data["sop_instance_uid"] == answer.instance.sop_instance_uid  # type: ignore[union-attr]
    assert h.metrics.unauthorized_access == 1
    assert h.metrics.dicom is not None and h.metrics.dicom.unauthorized_stores == 1


def test_an_authorized_store_is_not_flagged() -> None:
    h = _dicom_hospital()
    cert = _onboard(h)
    association = h.root.dicom.associate("pacs-north", _request(cert), now=NOW).association
    assert association is not None
    assert h.root.dicom.store(StoreRequest(association, make_dataset()), now=NOW).stored
    assert not h.log.of_kind(EventKind.UNAUTHORIZED_ACCESS)


def test_the_pacs_can_distrust_the_ca_while_the_site_trusts_it(hospital: Hospital) -> None:
    cert = _onboard(hospital)
    root = hospital.root
    root.pacs_trust.withhold("north")
    answer = root.dicom.associate("pacs-north", _request(cert), now=NOW)
    assert (answer.decision.reason, answer.decision.hop) == (Reason.CERT_UNTRUSTED_AT_SITE,
                                                              Hop.TLS)  # fmt: skip
    assert hospital.attempt("ct-1", cert).allowed  # the access path (FHIR) still trusts it
    assert not root.pacs_trust.bundle("south", now=NOW).missing
    root.pacs_trust.release("north")
    assert root.dicom.associate("pacs-north", _request(cert), now=NOW).accepted


def test_a_pacs_that_moves_refuses_the_old_endpoint(hospital: Hospital) -> None:
    cert = _onboard(hospital)
    dicom = hospital.root.dicom
    port = dicom.ports["pacs-north"]
    assert dicom.associate("pacs-north", _request(cert), now=NOW, port=port).accepted
    dicom.move("pacs-north", port=11112, ae_title=" PACS_NEW")
    endpoint, now_port = dicom.endpoint("pacs-north")
    assert (endpoint.ae_title, now_port) == ("PACS_NEW", 11112)
    old_port = dicom.associate("pacs-north", _request(cert), now=NOW, port=port).decision
    assert (old_port.reason, old_port.hop) == (Reason.DICOM_PORT_CLOSED, Hop.NETWORK)
    old_title = dicom.associate("pacs-north", _request(cert), now=NOW, port=11112).decision
    assert old_title.reason is Reason.CALLED_AE_UNKNOWN
    moved = _request(cert, called="PACS_NEW")
    assert dicom.associate("pacs-north", moved, now=NOW, port=11112).accepted
    assert dicom.associate("pacs-north", moved, now=NOW).accepted  # live: no port named
    with pytest.raises(ValueError, match="16 characters"):
        dicom.move("pacs-north", ae_title="A" * 17)


def test_the_dicom_port_comes_from_the_scenario() -> None:
    scenario = replace(scenario_for_tests(), dicom=DicomSettings(port=4242))
    root = RealHospital(scenario, profiles=PROFILES, clock=ManualClock(NOW),
                        rng=random.Random(1), log=EventLog())  # fmt: skip
    assert root.dicom.ports == {"pacs-north": 4242, "pacs-south": 4242}
