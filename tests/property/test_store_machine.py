"""The durable store under crashes: a Hypothesis state machine (issue 10).

Operations of a live hospital (register, approve, enroll, re-enroll, revoke, offboard,
publish CRLs) run on a SQLite store; between them, and inside them at a random point
(a statement interrupted, then the connection closed without a commit: what
``kill -9`` does), the store crashes and is reopened.  Invariant: the reopened store
holds exactly what the answered operations left (every one of them, byte for byte)
and nothing of the crashed one (none half-applied).
"""

from __future__ import annotations

import base64
import contextlib
import shutil
import sqlite3
import tempfile
from collections.abc import Callable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from testbed.errors import TestbedError
from testbed.live.hospital import LiveHospital, Registration
from testbed.live.store import DATABASE, SqliteStore
from testbed.pki import KeyType, make_csr, new_private_key
from testbed.pki.revocation import RevocationReason

SCENARIO = """\
name: store-machine
seed: 1
start: 2026-01-05T00:00:00Z
duration: 1d
trust_domain: store.example
sites:
  - {name: north, zones: [imaging]}
services:
  - {name: pacs-north, kind: pacs, site: north, zone: imaging}
  - {name: ehr, kind: ehr, site: north, zone: imaging}
fleet:
  - {profile: ct-ai-onbox, count: 1, site: north, zone: imaging, owner: radiology}
pki:
  lifetime: 1d
  manual_approval: true
"""
SERIALS = [f"S{n}" for n in range(4)]
PKCS10 = "application/pkcs10"
TABLES = ("hospital", "ca", "certificates", "revocations", "crls", "devices")
Snapshot = dict[str, list[tuple[object, ...]]]
Facts = tuple[list[dict[str, object]], list[tuple[int, str, str]], list[tuple[int, str]]]


def facts(hospital: LiveHospital) -> Facts:
    """What a hospital says: its devices (state, approval, certificate, revoked), its
    revocations (serial, time, reason) and its CRL numbers so far."""
    revocations = sorted((r.serial, r.time.isoformat(), r.reason.name)
                         for r in hospital.ca.revocations.values())  # fmt: skip
    numbers = sorted((len(hospital.ca.records), i.name) for i in hospital.ca.issuing_cas())
    return hospital.devices(), revocations, numbers


def snapshot(root: Path) -> Snapshot:
    """Every row of every table, sorted, read by a connection of its own."""
    db = sqlite3.connect(root / DATABASE)
    try:
        return {t: sorted(db.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in TABLES}
    finally:
        db.close()


class StoreMachine(RuleBasedStateMachine):
    """Operations and crashes on one state directory."""

    def __init__(self) -> None:
        super().__init__()
        self.root = Path(tempfile.mkdtemp(prefix="store-machine-"))
        (self.root / "scenario.yaml").write_text(SCENARIO)
        self.passwords: dict[str, str] = {}
        self.keys = {s: new_private_key(KeyType.EC_P256, None) for s in SERIALS}
        self.certificates: dict[str, bytes] = {}  # device id -> current certificate DER
        self.answered: Snapshot = {}
        self.model: Facts | None = None  # what the answers said, from the hospital in memory

    def _open(self) -> None:
        self.store = SqliteStore.open(self.root, scenario="store-machine")
        self.hospital = LiveHospital.from_file(self.root / "scenario.yaml", store=self.store)

    @initialize()
    def start(self) -> None:
        self._open()
        self.answered = snapshot(self.root)
        self.model = facts(self.hospital)

    def teardown(self) -> None:
        self.store.close()
        shutil.rmtree(self.root, ignore_errors=True)

    # -- operations (each returns normally or raises a refusal the server answers) ---

    def _operation(self, name: str, serial: str) -> Callable[[], object]:
        hospital = self.hospital
        device_id = f"ct-ai-onbox-north-{serial}".lower()

        def register() -> object:
            bootstrap = hospital.register(Registration(serial, "north", "imaging", "ct-ai-onbox"))
            self.passwords[device_id] = bootstrap.password
            return bootstrap

        def enroll() -> object:
            der = make_csr(self.keys[serial], device_id).public_bytes(Encoding.DER)
            body = base64.encodebytes(der)
            held = self.certificates.get(device_id)
            if held is None:
                password = self.passwords.get(device_id, "-")
                answer = hospital.simpleenroll(body, content_type=PKCS10,
                                               basic=(device_id, password), client_cert=None)
            else:
                answer = hospital.simplereenroll(
                    body, content_type=PKCS10, client_cert=x509.load_der_x509_certificate(held)
                )
            if isinstance(answer.certificate, x509.Certificate):
                self.issued = (device_id, answer.certificate.public_bytes(Encoding.DER))
            return answer

        operations: dict[str, Callable[[], object]] = {
            "register": register,
            "approve": lambda: hospital.approve(device_id),
            "enroll": enroll,
            "revoke": lambda: hospital.revoke(device_id, RevocationReason.KEY_COMPROMISE),
            "offboard": lambda: hospital.offboard(device_id),
            "publish": hospital.publish_crls,
            "validate": lambda: hospital.validate(device_id),
            "promote": lambda: hospital.promote(device_id),
        }
        return operations[name]

    def _run(self, name: str, serial: str) -> None:
        self.issued: tuple[str, bytes] | None = None
        # refused: the server answers 4xx, and whatever it changed is kept
        with contextlib.suppress(TestbedError):
            self._operation(name, serial)()

    @rule(name=st.sampled_from(["register", "approve", "enroll", "revoke", "offboard",
                                "publish", "validate", "promote"]),
          serial=st.sampled_from(SERIALS))  # fmt: skip
    def answered_operation(self, name: str, serial: str) -> None:
        self._run(name, serial)
        if self.issued is not None:
            device_id, der = self.issued
            self.certificates[device_id] = der
        self.model = facts(self.hospital)  # what the answer said
        self.answered = snapshot(self.root)  # and what it left on disk

    @rule(name=st.sampled_from(["register", "approve", "enroll", "revoke", "offboard",
                                "publish", "validate", "promote"]),
          serial=st.sampled_from(SERIALS), steps=st.integers(0, 400))  # fmt: skip
    def crash_during(self, name: str, serial: str, steps: int) -> None:
        """The operation runs inside a transaction that never commits: interrupted
        after ``steps`` SQLite steps (0: it ran to the end), then the process dies."""
        transaction = self.store.transaction()
        transaction.__enter__()
        self.store.interrupt_after(steps)
        with contextlib.suppress(sqlite3.OperationalError):  # interrupted mid-operation
            self._run(name, serial)
        self.store.crash()
        self._open()

    @rule()
    def restart(self) -> None:
        """A clean stop and start."""
        self.store.close()
        self._open()

    @invariant()
    def holds_exactly_what_was_answered(self) -> None:
        if self.model is None:
            return
        assert facts(self.hospital) == self.model
        assert snapshot(self.root) == self.answered
        for device_id, der in self.certificates.items():
            serial = x509.load_der_x509_certificate(der).serial_number
            kept = self.hospital.ca.certificate(serial)
            assert isinstance(kept, x509.Certificate)
            assert kept.public_bytes(Encoding.DER) == der, device_id


StoreMachine.TestCase.settings = settings(
    max_examples=25, stateful_step_count=12, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)  # fmt: skip
TestStoreMachine = StoreMachine.TestCase


def test_a_device_routed_to_production_survives_a_crash_in_and_after_its_promotion() -> None:
    """The path to production that random sequences rarely take (register, approve,
    enroll, validate, then promote), with the promotion crashed at several points
    before it is answered: nothing of a crashed promotion is kept, the answered one is."""
    machine = StoreMachine()
    try:
        machine.start()
        for name in ("register", "approve", "enroll", "validate"):
            machine.answered_operation(name, "S0")
            machine.holds_exactly_what_was_answered()
        validated = facts(machine.hospital)[0]
        assert [d["state"] for d in validated] == ["validated"]
        for steps in (1, 3, 10, 0):
            machine.crash_during("promote", "S0", steps)
            machine.holds_exactly_what_was_answered()  # still validated, not half promoted
        assert facts(machine.hospital)[0] == validated
        machine.answered_operation("promote", "S0")
        machine.restart()
        machine.holds_exactly_what_was_answered()
        assert [d["state"] for d in facts(machine.hospital)[0]] == ["production"]
    finally:
        machine.teardown()
