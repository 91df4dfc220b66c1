"""One hospital, two transports: the same operations and device actions, in process (as
the simulation drives the hospital) and over real sockets (as ``testbed serve`` answers
them), give the same event streams field by field.

Both hospitals run on a :class:`~testbed.clock.ManualClock` stepped through the same
times, so only serial numbers may differ (live keys and serials come from the operating
system): each serial is replaced by the order in which it first appears, on each side,
everywhere it is written (its own field, lists of serials, and details that name it).
"""

from __future__ import annotations

import asyncio
import base64
import http.client
import json
import random
import re
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pydicom.dataset import Dataset
from pydicom.uid import CTImageStorage
from pynetdicom import AE

from testbed import fault_operations, operations
from testbed.access import Attempt
from testbed.clock import ManualClock
from testbed.crosscheck import profiles_for
from testbed.devices import ae_title_for, load_profiles, make_record
from testbed.events import UNAUTHENTICATED, EventLog
from testbed.hospital import Hospital
from testbed.live.admin_client import admin_request
from testbed.live.dicom.acceptor import LOOPBACK
from testbed.live.hospital import LiveHospital, Registration, device_id_for
from testbed.live.server import Ports, run_until
from testbed.live.state import StateDir
from testbed.live.zones import ZoneAddresses
from testbed.pacs import AssociationRequest, ZoneFrom
from testbed.pacs.dataset import minimal_image, part10
from testbed.pacs.echo import VERIFICATION_SOP_CLASS
from testbed.pacs.query import STUDY_ROOT_FIND, FindRequest
from testbed.pacs.store import StoreRequest
from testbed.pacs.tls_profile import SuiteFamily, TlsOffer, TlsVersion
from testbed.pki.keys import KeyType, PrivateKey, make_csr, new_private_key
from testbed.pki.revocation import RevocationReason
from testbed.scenario import load_scenario

pytestmark = pytest.mark.live

START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
SCENARIO = """\
name: two-transports
seed: 5
start: 2026-01-05T08:00:00Z
duration: 60d
trust_domain: transports.example
sites:
  - {name: north, zones: [imaging, bedside, datacenter]}
services:
  - {name: pacs-north, kind: pacs, site: north, zone: datacenter}
  - {name: ehr, kind: ehr, site: north, zone: datacenter}
network:
  - {from: imaging, to: pacs-north}
  - {from: imaging, to: ehr}
fleet:
  - {profile: ct-ai-onbox, count: 1, site: north, zone: imaging, owner: radiology}
"""
PKCS10 = "application/pkcs10"
TLS13 = TlsOffer(frozenset({TlsVersion.TLS1_3}), frozenset({SuiteFamily.ECDHE_AEAD}))
READY_TIMEOUT = 20.0


class Driver(Protocol):
    """One transport: operator operations and device actions on one hospital."""

    clock: ManualClock

    def register(self, serial: str, zone: str) -> str: ...
    def enroll(self, device_id: str) -> int: ...
    def reenroll(self, device_id: str, certificate: x509.Certificate) -> int: ...
    def ping(self, device_id: str, service: str, zone: str | None, *,
             certificate: x509.Certificate | None) -> dict[str, Any]: ...
    def associate(self, device_id: str, zone: str, *, certificate: x509.Certificate,
                  exchange: bool = False) -> dict[str, Any]: ...
    def certificate(self, device_id: str) -> x509.Certificate: ...
    def operate(self, action: str, device_id: str) -> None: ...
    def rotate(self) -> None: ...
    def publish(self) -> None: ...
    def fault(self, kind: str, action: str, **fields: str) -> None: ...
    def events(self) -> list[dict[str, Any]]: ...


@dataclass
class _Device:
    password: str
    ae_title: str = ""  # (a device that speaks no DICOM has none)
    certificate: x509.Certificate | None = None


def enroll_in_process(
    hospital: Hospital, device_id: str, device: _Device, rng: random.Random
) -> int:
    """EST simpleenroll called in process with the device's bootstrap secret and a fresh
    P-256 key; the device keeps the certificate it gets.  The answer's status."""
    answer = hospital.est.simpleenroll(
        _csr(device_id, new_private_key(KeyType.EC_P256, rng)), content_type=PKCS10,
        basic=(device_id, device.password), client_cert=None, now=hospital.now(),
    )  # fmt: skip
    device.certificate = answer.certificate or device.certificate
    return answer.status


def _last_association(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The allowance and reason of the last ``dicom-association`` event."""
    last = [e for e in events if e["kind"] == "dicom-association"][-1]
    return {"allowed": last["allowed"], "reason": last["reason"]}


def _instance() -> Dataset:
    """The CT instance each exchange stores (the same UIDs every time: the second
    store of a run is a duplicate)."""
    ds = minimal_image(CTImageStorage)
    ds.SOPInstanceUID = f"{_UID_ROOT}.1.1.1"
    ds.StudyInstanceUID = f"{_UID_ROOT}.1"
    ds.SeriesInstanceUID = f"{_UID_ROOT}.1.1"
    ds.PatientID = "PAT-TRANSPORTS-1"
    return ds


_UID_ROOT = "1.2.826.0.1.3680043.10.1043.77"


def _csr(device_id: str, key: PrivateKey) -> bytes:
    csr = make_csr(key, device_id)
    return base64.b64encode(csr.public_bytes(serialization.Encoding.DER))


@dataclass
class InProcess:
    """The hospital driven by direct calls, as the simulation's processes drive it."""

    hospital: Hospital
    clock: ManualClock
    rng: random.Random
    devices: dict[str, _Device] = field(default_factory=dict)

    def register(self, serial: str, zone: str) -> str:
        profile = self.hospital.profiles["ct-ai-onbox"]
        registration = Registration(serial, "north", zone, profile.id, "radiology")
        device_id = device_id_for(registration)
        record = make_record(
            profile, self.hospital.system, device_id=device_id, serial=serial, site="north",
            zone=zone, owner="radiology", preferred_key=self.hospital.scenario.pki.key_type,
            ae_title=ae_title_for(profile, len(self.hospital.inventory) + 1),
        )  # fmt: skip
        password = operations.register(self.hospital, record)
        self.devices[device_id] = _Device(password, str(record.ae_title))
        return device_id

    def enroll(self, device_id: str) -> int:
        return enroll_in_process(self.hospital, device_id, self.devices[device_id], self.rng)

    def reenroll(self, device_id: str, certificate: x509.Certificate) -> int:
        device = self.devices[device_id]
        key = new_private_key(KeyType.EC_P256, self.rng)
        answer = self.hospital.est.simplereenroll(
            _csr(device_id, key), content_type=PKCS10, client_cert=certificate,
            now=self.clock.now(),
        )  # fmt: skip
        if answer.certificate is not None:
            device.certificate = answer.certificate
        return answer.status

    def ping(self, device_id: str, service: str, zone: str | None, *,
             certificate: x509.Certificate | None) -> dict[str, Any]:  # fmt: skip
        source = None if zone is None else ("north", zone)
        decision = self.hospital.access.decide(
            Attempt(device_id, service, certificate, source), now=self.clock.now()
        )
        return {"allowed": decision.allowed, "reason": decision.reason.value}

    def associate(self, device_id: str, zone: str, *, certificate: x509.Certificate,
                  exchange: bool = False) -> dict[str, Any]:  # fmt: skip
        """An A-ASSOCIATE-RQ to the PACS as the live acceptor hands it to the core (the
        handshake's TLS 1.3 with ECDHE and AEAD, the peer placed by its zone's
        address); with ``exchange``, a C-ECHO, two C-STOREs of one instance and a
        C-FIND of its study on it; then A-RELEASE."""
        called = self.hospital.pacs["pacs-north"].policy.endpoint.ae_title
        request = AssociationRequest(self.devices[device_id].ae_title, called, certificate,
                                     ("north", zone), TLS13, zone_from=ZoneFrom.SOURCE)  # fmt: skip
        now, dicom = self.clock.now(), self.hospital.dicom
        answer = dicom.associate("pacs-north", request, now=now)
        statuses: list[int] = []
        if answer.association is not None:
            if exchange:
                statuses.append(int(dicom.echo(answer.association, now=now).status))
                for _ in range(2):
                    ds = _instance()
                    stored = dicom.store(StoreRequest(
                        answer.association, ds, sop_class_uid=str(ds.SOPClassUID),
                        sop_instance_uid=str(ds.SOPInstanceUID)), now=now)  # fmt: skip
                    statuses.append(int(stored.status))
                found = self.hospital.pacs["pacs-north"].find(
                    FindRequest(answer.association, study_uid=_instance().StudyInstanceUID),
                    now=now)  # fmt: skip
                statuses.append(len(found.found))
            dicom.release(answer.association)
        return {**_last_association(self.events()), "statuses": statuses}

    def certificate(self, device_id: str) -> x509.Certificate:
        found = self.devices[device_id].certificate
        assert found is not None
        return found

    def operate(self, action: str, device_id: str) -> None:
        if action == "rebootstrap":
            password = operations.rebootstrap(self.hospital, device_id)
            assert password is not None
            self.devices[device_id].password = password
            return
        if action == "revoke":  # live mode republishes the CRLs with every revocation
            operations.revoke(self.hospital, device_id, reason=RevocationReason.KEY_COMPROMISE)
        elif action == "offboard":
            operations.offboard(self.hospital, device_id)
        else:
            assert getattr(operations, action)(self.hospital, device_id)
            return
        operations.publish_crls(self.hospital)

    def rotate(self) -> None:
        operations.rotate_ca_key(self.hospital, site=None, overlap=timedelta(0))

    def publish(self) -> None:
        operations.publish_crls(self.hospital)

    def fault(self, kind: str, action: str, **fields: str) -> None:
        """Begin or heal a fault now (:mod:`testbed.fault_operations`)."""
        begin = action == "begin"
        if kind == "ca-outage":
            if begin:
                fault_operations.begin_ca_outage(self.hospital)
            else:
                fault_operations.end_ca_outage(self.hospital)
        elif kind == "blocked-route":
            change = fault_operations.block_route if begin else fault_operations.unblock_route
            change(self.hospital, fields["zone"], fields["service"])
        else:
            raise AssertionError(f"no such fault in this test: {kind}")

    def events(self) -> list[dict[str, Any]]:
        return [e.to_dict() for e in self.hospital.log]


@dataclass
class OverSockets:
    """``testbed serve``'s servers in a thread on loopback, driven over HTTPS and HTTP."""

    live: LiveHospital
    state: StateDir
    work: Path
    clock: ManualClock
    loop: asyncio.AbstractEventLoop  # the hospital's thread (a test may hold it)
    devices: dict[str, _Device] = field(default_factory=dict)
    keys: dict[int, PrivateKey] = field(default_factory=dict)  # by certificate serial

    @property
    def endpoints(self) -> dict[str, Any]:
        return self.state.read_endpoints()

    def _https(self, url: str, *, zone: str | None = None, device_id: str | None = None,
               certificate: x509.Certificate | None = None) -> http.client.HTTPSConnection:
        context = ssl.create_default_context(cafile=str(self.state.bundle))
        if certificate is not None and device_id is not None:
            cert_file, key_file = self._files(device_id, certificate)
            context.load_cert_chain(cert_file, key_file)
        host, port = url.split("//")[1].split("/")[0].split(":")
        source = None
        if zone is not None:
            source = (ZoneAddresses(self.live.scenario.sites).address("north", zone), 0)
        return http.client.HTTPSConnection(host, int(port), context=context,
                                           source_address=source, timeout=10)  # fmt: skip

    def _files(self, device_id: str, certificate: x509.Certificate) -> tuple[Path, Path]:
        key = self.keys[certificate.serial_number]
        tag = f"{device_id}-{certificate.serial_number:x}"
        cert_file, key_file = self.work / f"{tag}.pem", self.work / f"{tag}.key"
        cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                               serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))  # fmt: skip
        return cert_file, key_file

    def _admin(self, path: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = admin_request(self.state.root, path, payload)
        return body

    def register(self, serial: str, zone: str) -> str:
        answer = self._admin("/devices", {"serial": serial, "site": "north", "zone": zone,
                                          "profile": "ct-ai-onbox", "owner": "radiology"})
        device_id = str(answer["device_id"])
        self.devices[device_id] = _Device(answer["bootstrap"]["password"], answer["ae_title"])
        return device_id

    def _post_csr(self, endpoint: str, device_id: str, key: PrivateKey, *,
                  certificate: x509.Certificate | None,
                  basic: str | None) -> tuple[int, bytes]:  # fmt: skip
        url = str(self.endpoints["est"])
        connection = self._https(url, device_id=device_id, certificate=certificate)
        headers = {"Content-Type": PKCS10}
        if basic is not None:
            headers["Authorization"] = "Basic " + base64.b64encode(basic.encode()).decode()
        connection.request("POST", f"/.well-known/est/{endpoint}", body=_csr(device_id, key),
                           headers=headers)  # fmt: skip
        answer = connection.getresponse()
        status, body = answer.status, answer.read()
        connection.close()
        return status, body

    def enroll(self, device_id: str) -> int:
        device = self.devices[device_id]
        key = new_private_key(KeyType.EC_P256, None)
        status, body = self._post_csr("simpleenroll", device_id, key, certificate=None,
                                      basic=f"{device_id}:{device.password}")  # fmt: skip
        if status == 200:
            device.certificate = self._keep(key, body)
        return status

    def _keep(self, key: PrivateKey, body: bytes) -> x509.Certificate:
        certificate = _certificate(body)
        self.keys[certificate.serial_number] = key
        return certificate

    def reenroll(self, device_id: str, certificate: x509.Certificate) -> int:
        key = new_private_key(KeyType.EC_P256, None)
        status, body = self._post_csr("simplereenroll", device_id, key,
                                      certificate=certificate, basic=None)  # fmt: skip
        if status == 200:
            self.devices[device_id].certificate = self._keep(key, body)
        return status

    def ping(self, device_id: str, service: str, zone: str | None, *,
             certificate: x509.Certificate | None) -> dict[str, Any]:  # fmt: skip
        url = str(self.endpoints["services"])
        connection = self._https(url, zone=zone, device_id=device_id, certificate=certificate)
        headers = {"X-Device-Id": device_id} if certificate is None else {}
        connection.request("GET", f"/services/{service}/ping", headers=headers)
        answer = connection.getresponse()
        body: dict[str, Any] = json.loads(answer.read())
        connection.close()
        assert answer.status == (200 if body["allowed"] else 403)
        return {"allowed": body["allowed"], "reason": body["reason"]}

    def associate(self, device_id: str, zone: str, *, certificate: x509.Certificate,
                  exchange: bool = False) -> dict[str, Any]:  # fmt: skip
        """An association by pynetdicom over TLS from the zone's loopback address (with
        ``exchange``, a C-ECHO, two C-STOREs of one instance and a C-FIND of its study
        on it), then A-RELEASE (a rejected one is closed by the acceptor)."""
        context = ssl.create_default_context(cafile=str(self.state.bundle))
        context.check_hostname = False  # an IP address; the chain is checked
        context.load_cert_chain(*self._files(device_id, certificate))
        pacs = next(e for e in self.endpoints["dicom"] if e["service"] == "pacs-north")
        ae = AE(ae_title=self.devices[device_id].ae_title)
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 10
        ae.add_requested_context(VERIFICATION_SOP_CLASS)
        ae.add_requested_context(CTImageStorage)
        ae.add_requested_context(STUDY_ROOT_FIND)
        address = ZoneAddresses(self.live.scenario.sites).address("north", zone)
        assoc = ae.associate(LOOPBACK, int(pacs["port"]), ae_title=pacs["ae_title"],
                             tls_args=(context, None), bind_address=(address, 0))  # fmt: skip
        statuses: list[int] = []
        if assoc.is_established:
            if exchange:
                statuses.append(int(assoc.send_c_echo().Status))
                for _ in range(2):
                    statuses.append(int(assoc.send_c_store(part10(_instance())).Status))
                query = Dataset()
                query.QueryRetrieveLevel = "IMAGE"
                query.StudyInstanceUID = _instance().StudyInstanceUID
                matches = [ds for status, ds in assoc.send_c_find(query, STUDY_ROOT_FIND)
                           if status and int(status.Status) == 0xFF00]  # pending: a match
                statuses.append(len(matches))
            assoc.release()
        return {**_last_association(self.events()), "statuses": statuses}

    def certificate(self, device_id: str) -> x509.Certificate:
        found = self.devices[device_id].certificate
        assert found is not None
        return found

    def operate(self, action: str, device_id: str) -> None:
        payload = {"reason": "keyCompromise"} if action == "revoke" else None
        path = {"hold_for_approval": "hold"}.get(action, action)  # the operation's endpoint
        answer = self._admin(f"/devices/{device_id}/{path}", payload)
        if action == "rebootstrap":
            self.devices[device_id].password = answer["bootstrap"]["password"]

    def rotate(self) -> None:
        self._admin("/ca/rotate", {"overlap_seconds": 0})

    def publish(self) -> None:
        self._admin("/crls/publish")

    def fault(self, kind: str, action: str, **fields: str) -> None:
        self._admin(f"/faults/{kind}", {"action": action, **fields})

    def events(self) -> list[dict[str, Any]]:
        lines = self.state.events.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line]


def _certificate(body: bytes) -> x509.Certificate:
    from cryptography.hazmat.primitives.serialization import pkcs7

    [certificate] = pkcs7.load_der_pkcs7_certificates(base64.b64decode(body))
    return certificate


@pytest.fixture
def scenario_file(tmp_path: Path, repo_root: Path) -> Path:
    path = tmp_path / "two-transports.yaml"
    path.write_text(SCENARIO + f"profiles_dir: {repo_root / 'fixtures' / 'profiles'}\n")
    return path


@pytest.fixture
def in_process(scenario_file: Path) -> InProcess:
    scenario = load_scenario(scenario_file)
    profiles = load_profiles(profiles_for(scenario, scenario_file.parent))
    clock, rng = ManualClock(START), random.Random(5)
    hospital = Hospital(scenario, profiles=profiles, clock=clock, rng=rng, log=EventLog())
    operations.publish_crls(hospital)  # as `testbed serve` does when it starts
    return InProcess(hospital, clock, rng)


@pytest.fixture
def over_sockets(scenario_file: Path, tmp_path: Path) -> Iterator[OverSockets]:
    clock = ManualClock(START)
    state = StateDir(tmp_path / "state")
    claim = state.claimed()
    claim.__enter__()
    live = LiveHospital.from_file(scenario_file, clock=clock, log=state.audit_log())
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    failure: list[BaseException] = []

    def serve() -> None:
        try:
            loop.run_until_complete(run_until(live, state, ports=Ports(), stop=stop))
        except BaseException as error:  # reported by the test, never lost
            failure.append(error)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    deadline = time.monotonic() + READY_TIMEOUT
    while not state.endpoints.exists():
        assert not failure, failure
        assert time.monotonic() < deadline, "the live servers did not start"
        time.sleep(0.02)
    (tmp_path / "work").mkdir()
    try:
        yield OverSockets(live, state, tmp_path / "work", clock, loop)
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=READY_TIMEOUT)
        claim.__exit__(None, None, None)
        assert not thread.is_alive() and not failure, failure
        loop.close()


def _script(driver: Driver) -> list[tuple[str, Any]]:
    """The sequence both transports run; each step's answer is kept for comparison."""
    seen: list[tuple[str, Any]] = []
    at: Callable[[timedelta], None] = lambda delta: driver.clock.set(START + delta)  # noqa: E731
    ct = driver.register("CT1", "imaging")
    bed = driver.register("BED1", "bedside")
    seen.append(("enroll", driver.enroll(ct)))
    driver.operate("validate", ct)
    driver.operate("promote", ct)
    first = driver.certificate(ct)
    seen.append(("ping", driver.ping(ct, "pacs-north", "imaging", certificate=first)))
    seen.append(("from bedside", driver.ping(ct, "ehr", "bedside", certificate=first)))
    seen.append(("from nowhere", driver.ping(ct, "ehr", None, certificate=first)))
    # registered in bedside, but its traffic comes from imaging: that is what the network sees
    seen.append(("no certificate", driver.ping(bed, "pacs-north", "imaging", certificate=None)))
    at(timedelta(hours=1))
    seen.append(("renew", driver.reenroll(ct, first)))
    second = driver.certificate(ct)
    seen.append(("superseded", driver.ping(ct, "pacs-north", "imaging", certificate=first)))
    seen.append(("renewed", driver.ping(ct, "pacs-north", "imaging", certificate=second)))
    seen.append(("associate", driver.associate(ct, "imaging", certificate=second,
                                               exchange=True)))  # fmt: skip
    seen.append(("associate superseded", driver.associate(ct, "imaging", certificate=first)))
    seen.append(("associate from bedside", driver.associate(ct, "bedside", certificate=second)))
    at(timedelta(hours=2))
    driver.operate("suspend", ct)
    seen.append(("suspended", driver.ping(ct, "pacs-north", "imaging", certificate=second)))
    driver.operate("resume", ct)
    seen.append(("resumed", driver.ping(ct, "pacs-north", "imaging", certificate=second)))
    at(timedelta(hours=3))
    driver.operate("revoke", ct)
    seen.append(("revoked", driver.ping(ct, "pacs-north", "imaging", certificate=second)))
    seen.append(("associate revoked", driver.associate(ct, "imaging", certificate=second)))
    seen.append(("renew revoked", driver.reenroll(ct, second)))
    driver.operate("rebootstrap", ct)
    seen.append(("re-enroll", driver.enroll(ct)))
    third = driver.certificate(ct)
    seen.append(("back", driver.ping(ct, "pacs-north", "imaging", certificate=third)))
    at(timedelta(days=31))  # the 30-day certificate has expired
    driver.publish()
    seen.append(("expired", driver.ping(ct, "pacs-north", "imaging", certificate=third)))
    seen.append(("associate expired", driver.associate(ct, "imaging", certificate=third)))
    seen.append(("renew expired", driver.reenroll(ct, third)))
    driver.rotate()
    driver.operate("rebootstrap", ct)
    seen.append(("after rotation", driver.enroll(ct)))
    at(timedelta(days=31, hours=2))  # the new issuing CA has reached the site's bundle
    fourth = driver.certificate(ct)
    seen.append(("new issuer", driver.ping(ct, "pacs-north", "imaging", certificate=fourth)))
    driver.fault("ca-outage", "begin")
    driver.publish()  # nothing: a CA that is down signs no CRL
    seen.append(("renew while the CA is down", driver.reenroll(ct, fourth)))
    driver.fault("ca-outage", "end")  # up again: its CRLs republished at once
    seen.append(("renew after the outage", driver.reenroll(ct, fourth)))
    fifth = driver.certificate(ct)
    driver.fault("blocked-route", "begin", zone="imaging", service="pacs-north")
    seen.append(("route blocked", driver.ping(ct, "pacs-north", "imaging", certificate=fifth)))
    driver.fault("blocked-route", "end", zone="imaging", service="pacs-north")
    seen.append(("route back", driver.ping(ct, "pacs-north", "imaging", certificate=fifth)))
    driver.operate("hold_for_approval", bed)
    seen.append(("held", driver.enroll(bed)))
    driver.operate("approve", bed)
    seen.append(("approved", driver.enroll(bed)))
    driver.operate("offboard", ct)
    seen.append(("offboarded", driver.ping(ct, "pacs-north", "imaging", certificate=fifth)))
    return seen


_SERIAL_KEYS = ("serial", "serials")


def _normalised(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Events without ``seq``, with each serial replaced by its order of appearance."""
    order: dict[str, str] = {}
    for event in events:
        for key in _SERIAL_KEYS:
            for serial in str(event.get(key) or "").split(","):
                if serial:
                    order.setdefault(serial, f"#{len(order)}")
    pattern = re.compile("|".join(sorted(map(re.escape, order), key=len, reverse=True)))

    def mask(value: Any) -> Any:
        return pattern.sub(lambda m: order[m.group(0)], value) if isinstance(value, str) else value

    return [{k: mask(v) for k, v in event.items() if k != "seq"} for event in events]


_TALLY_KEYS = ("seq", "time", "detail", "count", "first", "last", "source")


def _unidentified(event: dict[str, Any]) -> dict[str, Any] | None:
    """The event as live mode tallies it when its peer was not identified (an
    enrollment or token refusal to an unauthenticated client, an access decision
    refused to a peer with no certificate, whose subject was only claimed:
    testbed/live/audit.py), else None."""
    if event["subject"] == UNAUTHENTICATED:
        return event
    if event["kind"] == "access-decision" and event.get("serial") is None \
            and not event["allowed"]:  # fmt: skip
        kept = {k: v for k, v in event.items() if k != "serial"}
        return {**kept, "subject": UNAUTHENTICATED, "claimed": event["subject"]}
    return None


def unauthenticated(events: list[dict[str, Any]]) -> Counter[tuple[Any, ...]]:
    """Refusals of peers no credential identified, by what they were: the simulation
    writes one event each, live mode one per source and reason with a ``count`` (its
    time, interval, peer address and first detail are the tally's own)."""
    folded: Counter[tuple[Any, ...]] = Counter()
    for event in events:
        found = _unidentified(event)
        if found is not None:
            what = tuple(sorted((k, v) for k, v in found.items() if k not in _TALLY_KEYS))
            folded[what] += int(found.get("count", 1))
    return folded


def identified(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every other event: compared field by field."""
    return [event for event in events if _unidentified(event) is None]


def test_both_transports_write_the_same_events(
    in_process: InProcess, over_sockets: OverSockets
) -> None:
    answers = _script(in_process), _script(over_sockets)
    assert answers[0] == answers[1]
    reasons = {step: answer["reason"] for step, answer in answers[0] if isinstance(answer, dict)}
    exchanged = {step: answer["statuses"] for step, answer in answers[0]
                 if isinstance(answer, dict) and answer.get("statuses")}  # fmt: skip
    # echo, stored, a duplicate, then one instance found
    assert exchanged == {"associate": [0x0000, 0x0000, 0x0000, 1]}
    assert reasons == {
        "ping": "ok", "from bedside": "route-blocked", "from nowhere": "route-blocked",
        "no certificate": "cert-missing", "superseded": "cert-superseded", "renewed": "ok",
        "suspended": "device-suspended", "resumed": "ok", "revoked": "cert-revoked",
        "back": "ok", "expired": "cert-expired", "new issuer": "ok",
        "route blocked": "route-blocked", "route back": "ok", "offboarded": "device-retired",
        "associate": "ok", "associate superseded": "cert-superseded",
        "associate from bedside": "route-blocked", "associate revoked": "cert-revoked",
        "associate expired": "cert-expired",
    }  # fmt: skip
    statuses = {step: answer for step, answer in answers[0] if isinstance(answer, int)}
    assert statuses == {"enroll": 200, "renew": 200, "renew revoked": 403, "re-enroll": 200,
                        "renew expired": 403, "after rotation": 200,
                        "renew while the CA is down": 503, "renew after the outage": 200,
                        "held": 202, "approved": 200}  # fmt: skip
    over_sockets._admin("/audit/flush")  # live mode's tallies, written now
    simulated, live = _normalised(in_process.events()), _normalised(over_sockets.events())
    stores = [(e["allowed"], e["duplicate"]) for e in live if e["kind"] == "dicom-store"]
    assert stores == [(True, False), (True, True)]
    assert [e["allowed"] for e in live if e["kind"] == "dicom-echo"] == [True]
    assert [e["matches"] for e in live if e["kind"] == "dicom-find"] == [1]
    for index, (one, other) in enumerate(zip(identified(simulated), identified(live),
                                             strict=True)):  # fmt: skip
        assert one == other, f"event {index} differs"
    unidentified = unauthenticated(simulated)
    assert unidentified == unauthenticated(live)
    bed = device_id_for(Registration("BED1", "north", "bedside", "ct-ai-onbox", "radiology"))
    assert [(dict(what)["claimed"], dict(what)["reason"], count)
            for what, count in unidentified.items()] == [(bed, "cert-missing", 1)]
