"""Leaves signed ahead: the CA's plan, the helper's signature, and when the CA adopts one."""

from __future__ import annotations

import base64
import os
import signal
import time
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from testbed.errors import PkiError
from testbed.events import EventLog
from testbed.pki import EnrollmentSubject, EstService, KeyType, TrustDistribution, Verifier
from testbed.pki.ca import LeafPlan
from testbed.pki.est import PreparedLeaf
from testbed.pki.keys import ec_key, make_csr
from testbed.pki.leaf_profile import authority_key_id, build_leaf, leaf_sans, leaf_subject
from testbed.pki.offload import CryptoWorker
from testbed.pki.verify import bundle_index, derive_facts

NOW = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
DAY = timedelta(days=1)
SCALAR = 0x1234_5678_9ABC_DEF0
OWNERSHIP = {"services": ("fhir",), "requester": "biomed", "on_expiry": "renew"}


def _sign_ahead(authority, plan: LeafPlan, scalar: int = SCALAR) -> tuple[bytes, bytes]:
    """What the helper does for a plan: the device's CSR and the leaf (same code, inline)."""
    key = ec_key(KeyType.EC_P256, scalar)
    csr_der = make_csr(key, plan.device_id).public_bytes(Encoding.DER)
    issuing = authority.issuing_ca(plan.issuer)
    leaf = build_leaf(
        issuer=issuing.certificate.subject, issuing_key=issuing.key,
        authority_key=authority_key_id(issuing.key),
        subject=leaf_subject(plan.device_id, authority.trust_domain),
        sans=leaf_sans(authority.trust_domain, plan.site, plan.device_id),
        public=key.public_key(), serial=plan.serial,
        not_before=plan.not_before, not_after=plan.not_after,
    )  # fmt: skip
    return csr_der, leaf.public_bytes(Encoding.DER)


def test_a_plan_needs_a_reserved_serial_and_fixes_the_window(make_ca) -> None:
    authority = make_ca(71)
    assert authority.plan_leaf("ct-1", site="north", lifetime=DAY, now=NOW) is None
    serial = authority.reserve_serial("ct-1")
    assert authority.reserve_serial("ct-1") == serial  # kept until used
    plan = authority.plan_leaf("ct-1", site="north", lifetime=DAY, now=NOW)
    assert plan is not None
    assert (plan.serial, plan.not_before, plan.not_after) == (
        serial, NOW - authority.backdate, NOW + DAY,
    )  # fmt: skip
    assert plan.issuer == authority.issuing_ca_for("north", now=NOW).name


def test_the_reserved_serial_is_used_by_the_next_issuance(make_ca, issue_leaf) -> None:
    authority = make_ca(72)
    serial = authority.reserve_serial("ct-1")
    assert issue_leaf(authority, "ct-1").serial_number == serial
    assert authority.plan_leaf("ct-1", site="north", lifetime=DAY, now=NOW) is None  # used
    assert issue_leaf(authority, "ct-1").serial_number != serial


def test_a_leaf_signed_to_the_plan_is_adopted_like_an_issued_one(make_ca, issue_leaf) -> None:
    authority = make_ca(73)
    authority.reserve_serial("ct-1")
    plan = authority.plan_leaf("ct-1", site="north", lifetime=DAY, now=NOW)
    assert plan is not None
    _, der = _sign_ahead(authority, plan)
    leaf = authority.adopt(der, plan, lifetime=DAY, now=NOW, **OWNERSHIP)
    assert leaf is not None and leaf.serial_number == plan.serial
    record = authority.record(plan.serial)
    assert record is not None and record.device_id == "ct-1" and record.services == ("fhir",)
    assert authority.is_issued(leaf)
    # the same fields an inline issuance gets, but for the key and the signature
    inline = issue_leaf(authority, "ct-1", now=NOW)
    assert leaf.issuer == inline.issuer and leaf.subject == inline.subject
    assert [e.oid for e in leaf.extensions] == [e.oid for e in inline.extensions]
    kind = x509.SubjectAlternativeName
    sans = [c.extensions.get_extension_for_class(kind) for c in (leaf, inline)]
    assert sans[0] == sans[1]
    leaf.verify_directly_issued_by(authority.issuing_ca_for("north", now=NOW).certificate)


def test_a_changed_plan_is_not_adopted_and_nothing_is_issued(make_ca) -> None:
    authority = make_ca(74)
    authority.reserve_serial("ct-1")
    plan = authority.plan_leaf("ct-1", site="north", lifetime=DAY, now=NOW)
    assert plan is not None
    _, der = _sign_ahead(authority, plan)
    later = NOW + timedelta(hours=1)  # the device asked later (an outage, a skew)
    assert authority.adopt(der, plan, lifetime=DAY, now=later, **OWNERSHIP) is None
    assert authority.adopt(der, plan, lifetime=2 * DAY, now=NOW, **OWNERSHIP) is None
    authority.rotate_issuing_key(site="north", now=NOW - DAY, overlap=timedelta(0))
    assert authority.adopt(der, plan, lifetime=DAY, now=NOW, **OWNERSHIP) is None
    assert authority.record(plan.serial) is None and len(authority.records) == 0


def test_a_leaf_that_is_not_the_planned_one_is_refused(make_ca) -> None:
    authority = make_ca(75)
    authority.reserve_serial("ct-1")
    plan = authority.plan_leaf("ct-1", site="north", lifetime=DAY, now=NOW)
    assert plan is not None
    other = LeafPlan(plan.issuer, plan.device_id, plan.site, plan.serial + 1,
                     plan.not_before, plan.not_after)  # fmt: skip
    _, der = _sign_ahead(authority, other)
    with pytest.raises(PkiError, match="planned"):
        authority.adopt(der, plan, lifetime=DAY, now=NOW, **OWNERSHIP)


class _Directory:
    def __init__(self) -> None:
        self.subject_of = EnrollmentSubject(
            device_id="ct-1", site="north", services=("fhir",), owner="biomed",
            lifetime=DAY, on_expiry="renew", may_enroll=True, approved=True,
            key_type="ec-p256",
        )  # fmt: skip

    def subject(self, device_id: str) -> EnrollmentSubject | None:
        return self.subject_of if device_id == "ct-1" else None

    def bootstrap_device(self, username: str, password: str) -> str | None:
        return "ct-1" if (username, password) == ("ct-1", "pw") else None

    def current_serial(self, device_id: str) -> int | None:
        return None

    def on_issued(self, device_id: str, certificate: x509.Certificate, *, now: datetime,
                  renewal: bool) -> None:
        pass


def _enroll(est: EstService, csr_der: bytes, now: datetime = NOW):
    return est.simpleenroll(base64.b64encode(csr_der), content_type="application/pkcs10",
                            basic=("ct-1", "pw"), client_cert=None, now=now)


def test_est_issues_a_prepared_leaf_only_for_exactly_its_csr(make_ca) -> None:
    est = EstService(ca=make_ca(76), directory=_Directory(), log=EventLog())
    est.ca.reserve_serial("ct-1")
    plan = est.ca.plan_leaf("ct-1", site="north", lifetime=DAY, now=NOW)
    assert plan is not None
    csr_der, leaf_der = _sign_ahead(est.ca, plan)
    other_csr = make_csr(ec_key(KeyType.EC_P256, SCALAR + 1), "ct-1").public_bytes(Encoding.DER)
    est.prepared["ct-1"] = PreparedLeaf(csr_der, leaf_der, plan)
    response = _enroll(est, other_csr)  # another key: signed here, the offer is spent
    assert response.status == 200 and est.adopted == 0 and "ct-1" not in est.prepared
    assert not response.signed_ahead
    assert response.certificate is not None
    assert response.certificate.public_key() == x509.load_der_x509_csr(other_csr).public_key()

    est.ca.reserve_serial("ct-1")
    plan = est.ca.plan_leaf("ct-1", site="north", lifetime=DAY, now=NOW)
    assert plan is not None
    csr_der, leaf_der = _sign_ahead(est.ca, plan)
    est.prepared["ct-1"] = PreparedLeaf(csr_der, leaf_der, plan)
    response = _enroll(est, csr_der)
    assert response.status == 200 and est.adopted == 1 and response.signed_ahead
    assert response.certificate is not None
    assert response.certificate.public_bytes(Encoding.DER) == leaf_der


def _wait(worker: CryptoWorker, token: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not worker.has_answered(token):
        assert time.monotonic() < deadline, "no answer"
        time.sleep(0.01)


def test_the_helper_signs_the_planned_leaf_and_derives_its_facts(make_ca) -> None:
    authority = make_ca(77)
    authority.reserve_serial("ct-1")
    plan = authority.plan_leaf("ct-1", site="north", lifetime=DAY, now=NOW)
    assert plan is not None
    bundle = TrustDistribution(ca=authority, sites=("north",), delay=DAY, now=NOW).bundle(
        "north", now=NOW
    )
    worker = CryptoWorker()
    try:
        worker.tell_time(0.0)
        token = worker.submit_leaf(KeyType.EC_P256.value, SCALAR, authority.trust_domain, plan,
                                   authority.issuing_ca(plan.issuer), 100.0,
                                   [(bundle.fingerprint, bundle.certificates)])
        assert token is not None
        _wait(worker, token)
        csr_der, check, leaf_der, facts = worker.take(token)
    finally:
        worker.close()
    assert check.valid and check.cn == "ct-1" and leaf_der is not None
    csr = x509.load_der_x509_csr(csr_der)
    leaf = authority.adopt(leaf_der, plan, lifetime=DAY, now=NOW, **OWNERSHIP)
    assert leaf is not None and leaf.public_key() == csr.public_key()
    assert leaf.public_key() == ec_key(KeyType.EC_P256, SCALAR).public_key()
    leaf.verify_directly_issued_by(authority.issuing_ca_for("north", now=NOW).certificate)
    expected = derive_facts(leaf, bundle_index(bundle.certificates)).to_tuple()
    assert facts == ((bundle.fingerprint, expected),)
    # offered to a verifier, they decide as facts derived there would
    helped, plain = Verifier(), Verifier()
    helped.offer(leaf, bundle.fingerprint, facts[0][1])
    for when in (NOW - DAY, NOW, NOW + 2 * DAY):
        assert helped.verify(leaf, bundle=bundle, crl=None, now=when) == plain.verify(
            leaf, bundle=bundle, crl=None, now=when
        )


def test_the_helper_skips_a_leaf_whose_time_has_passed(make_ca) -> None:
    authority = make_ca(78)
    authority.reserve_serial("ct-1")
    plan = authority.plan_leaf("ct-1", site="north", lifetime=DAY, now=NOW)
    assert plan is not None
    worker = CryptoWorker()
    try:
        worker.tell_time(0.0)
        first = worker.submit_csr(KeyType.EC_P256.value, SCALAR, "ct-1")  # starts the helper
        assert first is not None and worker.process is not None and worker.process.pid
        os.kill(worker.process.pid, signal.SIGSTOP)
        token = worker.submit_leaf(KeyType.EC_P256.value, SCALAR, authority.trust_domain, plan,
                                   authority.issuing_ca(plan.issuer), 100.0)
        assert token is not None
        worker.tell_time(101.0)  # the device asked (served inline) before the helper got there
        os.kill(worker.process.pid, signal.SIGCONT)
        _wait(worker, token)
        assert worker.take(token) is None
    finally:
        worker.close()
