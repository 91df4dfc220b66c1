"""The PACS over DICOM TLS, live, with dcmtk as the only device (issue 12).

``testbed serve`` runs one DICOM TLS acceptor per PACS service (``endpoints.json``
``dicom``); the device is ``/usr/bin/echoscu`` / ``/usr/bin/storescu`` with the key
and certificate it enrolled over EST (curl + openssl) and the calling AE title its
``register`` answer gave.  Every refusal's reason is read back from the audit log:
the decision core's ``dicom-association`` event, or the aggregated
``request-refused`` tally of a failed TLS handshake (with its ``cause``).
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pynetdicom import AE

from testbed.pacs.echo import VERIFICATION_SOP_CLASS
from tests.live.conftest import SHORT_SCENARIO, Live, StartServer, run
from tests.live.dicom_peer import ECHOSCU, STORESCU, ct_instance, dcmtk, dcmtk_missing

pytestmark = pytest.mark.skipif(dcmtk_missing() is not None, reason=str(dcmtk_missing()))

DICOM_SCENARIO = (
    SHORT_SCENARIO.replace("name: live-short", "name: live-dicom")
    .replace("  lifetime: 2s\n", "  lifetime: 1d\n")
    .replace("pki:\n", "network:\n  - {from: imaging, to: pacs-north, site: north}\npki:\n")
)
HANDSHAKE_TIMEOUT = 4.0


@dataclass
class Device:
    """An enrolled device: its id, AE title, key and certificate."""

    device_id: str
    ae_title: str
    key: Path
    cert: Path


@dataclass
class Bed:
    """The live hospital, its PACS endpoint and the test's devices."""

    live: Live
    devices: dict[str, Device]

    @property
    def pacs(self) -> dict[str, Any]:
        entry: dict[str, Any] = self.live.endpoints["dicom"][0]
        return entry

    def enroll(self, serial: str) -> Device:
        answer = self.live.register_answer(serial)
        device_id, password = answer["device_id"], answer["bootstrap"]["password"]
        key = self.live.key(serial)
        status, body = self.live.est("simpleenroll", self.live.csr(key, device_id),
                                     "-u", f"{device_id}:{password}")  # fmt: skip
        assert status == 200, body
        device = Device(device_id, answer["ae_title"], key, self.live.certificate(body, serial))
        self.devices[serial] = device
        return device

    def scu(
        self,
        tool: str,
        device: Device,
        *,
        ae_title: str | None = None,
        key: Path | str | None = "own",
        cert: Path | str | None = "own",
        files: tuple[Path, ...] = (),
        options: tuple[str, ...] = (),
    ) -> Any:
        return dcmtk(tool, port=int(self.pacs["port"]), called=self.pacs["ae_title"],
                     calling=ae_title or device.ae_title, bundle=self.live.bundle,
                     key=device.key if key == "own" else key,  # type: ignore[arg-type]
                     cert=device.cert if cert == "own" else cert,  # type: ignore[arg-type]
                     files=files, options=options)  # fmt: skip

    def events(self, kind: str, since: int = 0) -> list[dict[str, Any]]:
        return [e for e in self.live.events()[since:] if e["kind"] == kind]

    def handshake_refusals(self, since: int = 0) -> list[dict[str, Any]]:
        self.live.flush_audit()
        return [
            e
            for e in self.events("request-refused", since)
            if e.get("listener") == "dicom:pacs-north" or e["subject"] == "dicom:pacs-north"
        ]


@pytest.fixture(scope="module")
def bed(start_server: StartServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bed]:
    scenario = tmp_path_factory.mktemp("scenario") / "live-dicom.yaml"
    scenario.write_text(DICOM_SCENARIO)
    live = start_server(scenario, "--handshake-timeout", str(HANDSHAKE_TIMEOUT))
    bed = Bed(live, {})
    for serial in ("D1", "D2"):
        bed.enroll(serial)
    yield bed


def test_endpoints_name_each_pacs_with_its_called_ae_title(bed: Bed) -> None:
    assert bed.live.endpoints["dicom"] == [
        {"service": "pacs-north", "site": "north", "host": "127.0.0.1",
         "port": bed.pacs["port"], "ae_title": bed.pacs["ae_title"]}
    ]  # fmt: skip
    assert bed.devices["D1"].ae_title != bed.devices["D2"].ae_title


def test_enrolled_device_echoes_and_stores(bed: Bed, tmp_path: Path) -> None:
    device, since = bed.devices["D1"], len(bed.live.events())
    echo = bed.scu(ECHOSCU, device)
    assert echo.returncode == 0, echo.stderr
    store = bed.scu(STORESCU, device, files=(ct_instance(tmp_path / "ct.dcm", study=11),))
    assert store.returncode == 0, store.stderr
    accepted = [e for e in bed.events("dicom-association", since) if e["allowed"]]
    assert [e["subject"] for e in accepted] == [device.device_id] * 2
    assert accepted[0]["calling_ae"] == device.ae_title
    assert accepted[0]["tls_version"] in ("tls1.2", "tls1.3")
    stored = bed.events("dicom-store", since)
    assert [(e["allowed"], e["duplicate"], e["audit_code"]) for e in stored] == [
        (True, False, "110104")
    ]
    log = (bed.live.state / "dicom" / "pacs-north" / "instances.log").read_bytes()
    assert stored[0]["sop_instance_uid"].encode() in log


def test_another_devices_ae_title_is_refused(bed: Bed) -> None:
    d1, d2, since = bed.devices["D1"], bed.devices["D2"], len(bed.live.events())
    done = bed.scu(ECHOSCU, d1, ae_title=d2.ae_title)
    assert done.returncode != 0
    assert "Association Rejected" in done.stderr, done.stderr
    refused = bed.events("dicom-association", since)
    assert [(e["allowed"], e["reason"]) for e in refused] == [(False, "identity-mismatch")]


def test_ae_title_not_on_the_allow_list_is_refused(bed: Bed) -> None:
    since = len(bed.live.events())
    done = bed.scu(ECHOSCU, bed.devices["D1"], ae_title="NOTLISTED")
    assert "Calling AE Title Not Recognized" in done.stderr, done.stderr
    refused = bed.events("dicom-association", since)
    assert [(e["allowed"], e["reason"]) for e in refused] == [(False, "ae-title-not-allowed")]


def test_certificate_of_another_ca_is_refused(bed: Bed) -> None:
    work, since = bed.live.work, len(bed.live.events())
    device = bed.devices["D1"]
    key, cert = work / "rogue.key", work / "rogue.pem"
    made = run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(key), "-out", str(cert),
                "-subj", f"/CN={device.device_id}", "-days", "30"])  # fmt: skip
    assert made.returncode == 0, made.stderr
    done = bed.scu(ECHOSCU, device, key=key, cert=cert)
    assert done.returncode != 0
    causes = {e["cause"] for e in bed.handshake_refusals(since)}
    assert "cert-untrusted-at-site" in causes


def test_no_client_certificate_is_refused(bed: Bed) -> None:
    since = len(bed.live.events())
    done = bed.scu(ECHOSCU, bed.devices["D1"], key=None, cert=None)
    assert done.returncode != 0
    assert "cert-missing" in {e["cause"] for e in bed.handshake_refusals(since)}


def test_old_tls_profile_is_refused(bed: Bed) -> None:
    """dcmtk's retired AES profile (+pa: static-RSA AES-CBC suites) against BCP 195."""
    since = len(bed.live.events())
    done = bed.scu(ECHOSCU, bed.devices["D1"], options=("+pa",))
    assert done.returncode != 0
    assert "tls-profile-refused" in {e["cause"] for e in bed.handshake_refusals(since)}


def test_revoked_device_is_refused_on_its_next_association(bed: Bed) -> None:
    device = bed.enroll("D3")
    assert bed.scu(ECHOSCU, device).returncode == 0
    since = len(bed.live.events())
    revoked = bed.live.cli("devices", "revoke", "--state-dir", str(bed.live.state),
                           device.device_id)  # fmt: skip
    assert revoked.returncode == 0, revoked.stderr
    done = bed.scu(ECHOSCU, device)
    assert done.returncode != 0
    # the handshake completes (OpenSSL checks the chain only); the core's TLS hop
    # refuses the A-ASSOCIATE-RQ with its reason and event, as in the simulation
    assert "Association Rejected" in done.stderr + done.stdout, done.stderr
    refused = [e for e in bed.events("dicom-association", since) if not e["allowed"]]
    assert [(e["subject"], e["reason"], e["hop"]) for e in refused] == [
        (device.device_id, "cert-revoked", "tls")]  # fmt: skip
    assert not bed.handshake_refusals(since)


def test_a_silent_client_does_not_delay_another_devices_store(bed: Bed, tmp_path: Path) -> None:
    """A client that connects and sends nothing holds its own thread only: another
    device's store completes while the silent connection is still open, and the
    silent one is cut after the handshake timeout, audited."""
    since = len(bed.live.events())
    silent = socket.create_connection(("127.0.0.1", int(bed.pacs["port"])))
    try:
        opened = time.monotonic()
        store = bed.scu(STORESCU, bed.devices["D2"],
                        files=(ct_instance(tmp_path / "ct.dcm", study=12),))  # fmt: skip
        assert store.returncode == 0, store.stderr
        assert time.monotonic() - opened < HANDSHAKE_TIMEOUT  # silent still holding on
        silent.settimeout(HANDSHAKE_TIMEOUT * 3)
        assert silent.recv(1) == b""  # the acceptor gave up on it
    except ConnectionResetError:
        pass
    finally:
        silent.close()
    assert "handshake-timeout" in {e["cause"] for e in bed.handshake_refusals(since)}


def test_a_restart_keeps_stored_instances(
    start_server: StartServer, tmp_path_factory: pytest.TempPathFactory
) -> None:
    scenario = tmp_path_factory.mktemp("scenario") / "live-dicom.yaml"
    scenario.write_text(DICOM_SCENARIO.replace("name: live-dicom", "name: live-dicom-restart"))
    bed = Bed(start_server(scenario), {})
    device = bed.enroll("R1")
    instance = ct_instance(bed.live.work / "ct.dcm", study=21)
    assert bed.scu(STORESCU, device, files=(instance,)).returncode == 0
    assert bed.live.stop() == 0
    again = Bed(start_server(scenario, state=bed.live.state), {})
    since = len(again.live.events())
    assert again.scu(STORESCU, device, files=(instance,)).returncode == 0
    stored = again.events("dicom-store", since)
    assert [(e["allowed"], e["duplicate"]) for e in stored] == [(True, True)]
    log = (again.live.state / "dicom" / "pacs-north" / "instances.log").read_bytes()
    assert log.count(b'"sop_instance_uid"') == 1  # one record: the retry kept no copy


def test_connections_above_the_cap_are_reset_and_audited(
    start_server: StartServer, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The DICOM listener counts against the same connection caps as the HTTP ones:
    above the per-source cap a connection is reset at once and tallied."""
    scenario = tmp_path_factory.mktemp("scenario") / "live-dicom.yaml"
    scenario.write_text(DICOM_SCENARIO.replace("name: live-dicom", "name: live-dicom-caps"))
    live = start_server(scenario, "--max-connections-per-source", "2", "--handshake-timeout",
                        "20")  # fmt: skip
    port = int(live.endpoints["dicom"][0]["port"])
    held = [socket.create_connection(("127.0.0.1", port)) for _ in range(2)]
    try:
        time.sleep(0.5)  # both admitted (their handshakes wait)
        extra = socket.create_connection(("127.0.0.1", port))
        extra.settimeout(10)
        try:
            assert extra.recv(1) == b""
        except ConnectionResetError:
            pass  # reset at once: the cap refused it
        finally:
            extra.close()
    finally:
        for sock in held:
            sock.close()
    live.flush_audit()
    refused = [e for e in live.events() if e["kind"] == "request-refused"
               and e["subject"] == "dicom:pacs-north"]  # fmt: skip
    assert "connection-cap-source" in {e["reason"] for e in refused}


def test_a_pdu_declared_too_large_is_refused_before_it_is_read(bed: Bed) -> None:
    """pynetdicom reads whatever length a PDU declares into memory (up to 4 GiB) before
    anything is decided: the acceptor ends the connection at the declared length, and
    tallies the refusal with its reason."""
    device, since = bed.devices["D1"], len(bed.live.events())
    context = ssl.create_default_context(cafile=str(bed.live.bundle))
    context.check_hostname = False
    context.load_cert_chain(str(device.cert), str(device.key))
    with socket.create_connection(("127.0.0.1", int(bed.pacs["port"])), timeout=10) as raw, \
            context.wrap_socket(raw) as tls:  # fmt: skip
        tls.sendall(struct.pack(">BBL", 0x01, 0, 100 * 1024 * 1024) + b"\x00" * 64)
        closed = b""
        with contextlib.suppress(OSError):
            closed = tls.recv(1024)  # the acceptor closes: nothing comes back
    assert closed == b""
    refused = [e for e in bed.handshake_refusals(since) if e["reason"] == "pdu-too-large"]
    assert len(refused) == 1 and "104857600 bytes" in refused[0]["detail"], refused


def test_a_pdu_whose_bytes_stop_coming_ends_the_connection_at_the_idle_timeout(
    start_server: StartServer, tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """pynetdicom's timers cannot fire while its reader waits inside a PDU: a peer that
    declares 100 bytes and sends 10 would hold the connection for good.  The acceptor's
    reads time out at ``--idle-timeout``, and the refusal is tallied."""
    scenario = tmp_path_factory.mktemp("scenario") / "live-dicom.yaml"
    scenario.write_text(DICOM_SCENARIO)
    live = start_server(scenario, "--idle-timeout", "1")
    bed = Bed(live, {})
    device, since = bed.enroll("S1"), len(live.events())
    context = ssl.create_default_context(cafile=str(live.bundle))
    context.check_hostname = False
    context.load_cert_chain(str(device.cert), str(device.key))
    with socket.create_connection(("127.0.0.1", int(bed.pacs["port"])), timeout=15) as raw, \
            context.wrap_socket(raw) as tls:  # fmt: skip
        tls.sendall(struct.pack(">BBL", 0x01, 0, 100) + b"\x00" * 10)
        closed = b""
        with contextlib.suppress(OSError):
            closed = tls.recv(1024)  # returns once the acceptor gives up on the PDU
    assert closed == b""
    refused = [e for e in bed.handshake_refusals(since) if e["reason"] == "idle-timeout"]
    assert len(refused) == 1 and "PDU's 100" in refused[0]["detail"], refused


@pytest.fixture(scope="module")
def tight(start_server: StartServer, tmp_path_factory: pytest.TempPathFactory) -> Bed:
    """A PACS with 1 s ACSE and idle timers and a 64 KiB dataset cap."""
    scenario = tmp_path_factory.mktemp("scenario") / "live-dicom.yaml"
    scenario.write_text(DICOM_SCENARIO.replace("name: live-dicom", "name: live-dicom-tight"))
    live = start_server(scenario, "--header-timeout", "1", "--idle-timeout", "1",
                        "--max-dataset", "65536")  # fmt: skip
    bed = Bed(live, {})
    bed.enroll("T1")
    return bed


def _tls(bed: Bed, device: Device) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(bed.live.bundle))
    context.check_hostname = False
    context.load_cert_chain(str(device.cert), str(device.key))
    return context


def _associate(bed: Bed, device: Device) -> Any:
    """An association for C-ECHO, by pynetdicom over TLS with the device's identity."""
    ae = AE(ae_title=device.ae_title)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 10
    ae.add_requested_context(VERIFICATION_SOP_CLASS)
    return ae.associate("127.0.0.1", int(bed.pacs["port"]), ae_title=bed.pacs["ae_title"],
                        tls_args=(_tls(bed, device), "127.0.0.1"))  # fmt: skip


def _close(assoc: Any, sock: socket.socket | None) -> None:
    """The test's side closed for good (pynetdicom leaves an aborted TLS socket open)."""
    with contextlib.suppress(Exception):
        assoc.abort()
    if sock is not None:
        sock.close()


def test_a_dataset_above_the_cap_ends_the_association_and_is_tallied(
    tight: Bed, tmp_path: Path
) -> None:
    """pynetdicom gathers a whole dataset in memory before any handler sees it: the
    acceptor counts a message's dataset fragments as they arrive and ends the
    association past ``--max-dataset``.  A dataset under the cap is stored as before,
    on the same server."""
    device, since = tight.devices["T1"], len(tight.live.events())
    small = tight.scu(STORESCU, device, files=(ct_instance(tmp_path / "small.dcm", study=21),))
    assert small.returncode == 0, small.stderr
    big = pydicom.dcmread(ct_instance(tmp_path / "big.dcm", study=22))
    big.Rows = big.Columns = 256
    big.PixelData = b"\x00" * (256 * 256 * 2)  # 128 KiB of pixels: above 64 KiB
    big.save_as(tmp_path / "big.dcm")
    refused = tight.scu(STORESCU, device, files=(tmp_path / "big.dcm",))
    assert refused.returncode != 0
    stored = [e["allowed"] for e in tight.events("dicom-store", since)]
    assert stored == [True]  # the small one; the big one never reached the core
    tallied = [e for e in tight.handshake_refusals(since) if e["reason"] == "message-too-large"]
    assert len(tallied) == 1 and "dataset of more than 65536 bytes" in tallied[0]["detail"]


def test_command_fragments_without_an_end_are_bounded_too(tight: Bed) -> None:
    """A command set's fragments are gathered in memory until the last one, like a
    dataset's: a peer that never sends the last is cut at 64 KiB."""
    device, since = tight.devices["T1"], len(tight.live.events())
    assoc = _associate(tight, device)
    assert assoc.is_established
    sock = assoc.dul.socket.socket  # the TLS socket under pynetdicom's own reader
    pdv = struct.pack(">LBB", 2 + 16_000, 1, 0x01) + b"\x00" * 16_000  # command, not last
    try:
        with contextlib.suppress(OSError):
            for _ in range(8):  # 128 KB of one command set
                sock.sendall(struct.pack(">BBL", 0x04, 0, len(pdv)) + pdv)
        deadline = time.monotonic() + 8
        while assoc.is_established and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not assoc.is_established
    finally:
        _close(assoc, sock)
    tallied = [e for e in tight.handshake_refusals(since) if e["reason"] == "message-too-large"]
    assert len(tallied) == 1 and "command set of more than 65536" in tallied[0]["detail"]


def test_a_stall_inside_a_pdu_before_the_request_is_tallied_once(tight: Bed) -> None:
    """Three bytes of a PDU header, then nothing: the acceptor's read times out
    (``idle-timeout``) as pynetdicom's ARTIM timer runs out too; one refusal, not two."""
    device, since = tight.devices["T1"], len(tight.live.events())
    with socket.create_connection(("127.0.0.1", int(tight.pacs["port"])), timeout=10) as raw, \
            _tls(tight, device).wrap_socket(raw) as tls:  # fmt: skip
        tls.sendall(b"\x01\x00\x00")
        with contextlib.suppress(OSError):
            tls.recv(1024)
    tallied = [e for e in tight.handshake_refusals(since)
               if e["reason"] in ("idle-timeout", "header-timeout")]  # fmt: skip
    assert sum(e["count"] for e in tallied) == 1, tallied


def test_a_connection_that_sends_no_association_request_is_closed_and_tallied(
    tight: Bed,
) -> None:
    """pynetdicom's ARTIM timer closes a connection that completed its handshake but sent
    no A-ASSOCIATE-RQ within ``--header-timeout``; that close is a refusal too."""
    device, since = tight.devices["T1"], len(tight.live.events())
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", int(tight.pacs["port"])), timeout=10) as raw, \
            _tls(tight, device).wrap_socket(raw) as tls:  # fmt: skip
        closed = b""
        with contextlib.suppress(OSError):
            closed = tls.recv(1024)
    assert closed == b"" and time.monotonic() - started < 8
    tallied = [e for e in tight.handshake_refusals(since) if e["reason"] == "header-timeout"]
    assert len(tallied) == 1 and "no A-ASSOCIATE-RQ within 1 s" in tallied[0]["detail"], tallied


def test_an_association_that_sends_nothing_is_aborted_and_tallied(tight: Bed) -> None:
    """pynetdicom's idle timer (``--idle-timeout``) aborts an established association
    that sends nothing; the abort is a refusal with its reason, not a silent close."""
    device, since = tight.devices["T1"], len(tight.live.events())
    assoc = _associate(tight, device)
    assert assoc.is_established
    sock = assoc.dul.socket.socket
    try:
        deadline = time.monotonic() + 8
        while assoc.is_established and time.monotonic() < deadline:
            time.sleep(0.1)
        assert assoc.is_aborted, "the acceptor did not end the idle association"
    finally:
        _close(assoc, sock)
    tallied = [e for e in tight.handshake_refusals(since) if e["reason"] == "idle-timeout"]
    assert len(tallied) == 1 and "sent nothing for 1 s" in tallied[0]["detail"], tallied
    opened = [e for e in tight.events("dicom-association", since) if e["allowed"]]
    assert len(opened) == 1  # the association the core opened (and released at the close)


@pytest.fixture(scope="module")
def small(start_server: StartServer, tmp_path_factory: pytest.TempPathFactory) -> Bed:
    """A PACS that keeps at most one instance."""
    scenario = tmp_path_factory.mktemp("scenario") / "live-dicom.yaml"
    scenario.write_text(DICOM_SCENARIO.replace("name: live-dicom", "name: live-dicom-small"))
    live = start_server(scenario, "--max-stored-instances", "1")
    bed = Bed(live, {})
    bed.enroll("S1")
    return bed


def test_an_instance_beyond_the_pacs_bound_is_refused_out_of_resources_and_tallied(
    small: Bed, tmp_path: Path
) -> None:
    """One enrolled device cannot fill the PACS's disk or memory: past
    ``--max-stored-instances`` (or ``--max-stored-bytes``) a C-STORE is answered 0xA700
    and tallied ``storage-full``; what was kept is still found."""
    device, since = small.devices["S1"], len(small.live.events())
    first = small.scu(STORESCU, device, files=(ct_instance(tmp_path / "a.dcm", study=31),))
    assert first.returncode == 0, first.stderr
    refused = small.scu(STORESCU, device, files=(ct_instance(tmp_path / "b.dcm", study=32),),
                        options=("-v",))  # fmt: skip
    assert refused.returncode != 0
    assert "Refused: OutOfResources" in refused.stderr, refused.stderr  # 0xA700
    assert [e["allowed"] for e in small.events("dicom-store", since)] == [True]
    tallied = [e for e in small.handshake_refusals(since) if e["reason"] == "storage-full"]
    assert len(tallied) == 1 and "at most 1 (--max-stored-instances)" in tallied[0]["detail"]
