"""``testbed pacs-check`` against three DICOM TLS acceptors: the testbed's own (every
check passes), dcmtk ``storescp`` with TLS and no CRL, and a real Orthanc configured
for DICOM TLS with the testbed's certificates and the check's devices on its
allow-list.  Each test asserts exactly which checks the peer fails, and that the
report (exit code, JSON, JUnit) names them.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.live.conftest import REPO, Live, StartServer, run
from tests.live.dicom_peer import DCMTK_ENV, STORESCP, dcmtk_missing
from tests.live.ports import free_port
from tests.live.test_dicom_live import DICOM_SCENARIO

pytestmark = pytest.mark.skipif(dcmtk_missing() is not None, reason=str(dcmtk_missing()))

ORTHANC = "/usr/sbin/Orthanc"
ALL = ["baseline", "revoked-refused", "expired-refused", "unknown-ca-refused",
       "no-client-cert-refused", "tls10-refused", "tls11-refused", "ae-not-allowed-refused",
       "other-device-ae-refused", "stored-found-again", "no-duplicate"]  # fmt: skip


@pytest.fixture(scope="module")
def live(start_server: StartServer, tmp_path_factory: pytest.TempPathFactory) -> Live:
    scenario = tmp_path_factory.mktemp("scenario") / "live-dicom.yaml"
    scenario.write_text(DICOM_SCENARIO.replace("name: live-dicom", "name: live-pacs-check"))
    return start_server(scenario)


def _wait_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the peer exited with {process.returncode}: {log.read_text()}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    pytest.fail(f"the peer did not listen on {port} within 20 s: {log.read_text()}")


@pytest.fixture
def peer(tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes a test starts; each is stopped (bounded) afterwards."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def _check(live: Live, port: int, ae: str, out: Path) -> tuple[int, dict[str, Any], str]:
    done = live.cli("pacs-check", "127.0.0.1", str(port), "--ae", ae, "--state-dir",
                    str(live.state), "--out", str(out))  # fmt: skip
    assert done.returncode in (0, 1), done.stderr.decode()
    report = json.loads((out / "report.json").read_text())
    return done.returncode, report, done.stdout.decode()


def _failed_in_junit(path: Path) -> set[str]:
    suite = ElementTree.parse(path).getroot()
    assert sorted(c.get("name") for c in suite.iter("testcase")) == sorted(ALL)
    return {str(c.get("name")) for c in suite.iter("testcase") if c.find("failure") is not None}


def test_every_check_passes_against_the_testbeds_acceptor(live: Live, tmp_path: Path) -> None:
    pacs = live.endpoints["dicom"][0]
    code, report, table = _check(live, int(pacs["port"]), pacs["ae_title"], tmp_path)
    assert code == 0, table
    assert [c["id"] for c in report["checks"]] == ALL
    assert report["summary"]["failed"] == []
    assert _failed_in_junit(tmp_path / "junit.xml") == set()
    reasons = {e["reason"] for e in live.events() if e["kind"] == "dicom-association"}
    assert {"cert-expired", "ae-title-not-allowed", "identity-mismatch"} <= reasons


def test_every_check_passes_in_a_hospital_whose_ehr_asks_devices_for_keys(
    start_server: StartServer, tmp_path: Path
) -> None:
    """A hospital with an EHR that authenticates clients by private_key_jwt, and whose
    first zone has no route to the PACS: the check's devices (their profile uses the
    EHR) register with a JWK Set, and stand in a zone routed to the PACS.  Before, the
    registration was refused and then every association (route-blocked)."""
    live = start_server(REPO / "scenarios" / "ehr-smart-resilience.yaml")
    pacs = next(e for e in live.endpoints["dicom"] if e["service"] == "pacs-north")
    code, report, table = _check(live, int(pacs["port"]), pacs["ae_title"], tmp_path)
    assert code == 0, table
    assert report["summary"]["failed"] == []


def test_storescp_without_crl_or_allow_list_fails_those_checks(
    live: Live, tmp_path: Path, peer: list[subprocess.Popen[bytes]]
) -> None:
    port, log = free_port(), tmp_path / "storescp.log"
    (tmp_path / "in").mkdir()
    with log.open("wb") as output:
        peer.append(subprocess.Popen(
            [STORESCP, "+tls", str(live.state / "server.key"), str(live.state / "server.pem"),
             "+cf", str(live.bundle), "-od", str(tmp_path / "in"), str(port)],
            stdout=output, stderr=subprocess.STDOUT, env=DCMTK_ENV))  # fmt: skip
    _wait_port(port, peer[0], log)
    code, report, table = _check(live, port, "STORESCP", tmp_path / "out")
    expected = {"revoked-refused", "ae-not-allowed-refused", "other-device-ae-refused",
                "stored-found-again", "no-duplicate"}  # fmt: skip
    assert code == 1
    assert set(report["summary"]["failed"]) == expected, table
    assert _failed_in_junit(tmp_path / "out" / "junit.xml") == expected
    for check_id in expected:
        assert check_id in table


NEEDS_ORTHANC = pytest.mark.skipif(not Path(ORTHANC).exists(), reason="Orthanc (Debian "
                                   "orthanc) is the real PACS of this test; .ci/run installs it")
VERSIONS = {"tls1.0": ssl.TLSVersion.TLSv1, "tls1.1": ssl.TLSVersion.TLSv1_1,
            "tls1.2": ssl.TLSVersion.TLSv1_2, "tls1.3": ssl.TLSVersion.TLSv1_3}  # fmt: skip


def _orthanc(
    live: Live, folder: Path, peer: list[subprocess.Popen[bytes]], *, cert: Path, key: Path
) -> int:
    """Start Orthanc with DICOM TLS (server ``cert``/``key``, the testbed's bundle
    trusted, a client certificate required, the check's devices on its allow-list);
    its port."""
    prepared = live.cli("pacs-check", "--prepare", "--state-dir", str(live.state))
    assert prepared.returncode == 0, prepared.stderr.decode()
    titles: dict[str, str] = json.loads(prepared.stdout)["ae_titles"]
    port, log = free_port(), folder / "orthanc.log"
    config = {
        "Name": "pacs-check", "StorageDirectory": str(folder / "db"),
        "IndexDirectory": str(folder / "db"), "HttpServerEnabled": False,
        "DicomServerEnabled": True, "DicomAet": "ORTHANC", "DicomPort": port,
        "DicomTlsEnabled": True, "DicomTlsCertificate": str(cert),
        "DicomTlsPrivateKey": str(key), "DicomTlsTrustedCertificates": str(live.bundle),
        "DicomTlsRemoteCertificateRequired": True, "DicomCheckCalledAet": True,
        "DicomCheckModalityHost": False, "DicomAlwaysAllowEcho": False,
        "DicomAlwaysAllowStore": False, "DicomAlwaysAllowFind": False,
        "DicomModalities": {role: [title, "127.0.0.1", 104] for role, title in titles.items()},
        "Plugins": [],
    }  # fmt: skip
    (folder / "orthanc.json").write_text(json.dumps(config))
    with log.open("wb") as output:
        peer.append(subprocess.Popen([ORTHANC, str(folder / "orthanc.json")], stdout=output,
                                     stderr=subprocess.STDOUT, env=DCMTK_ENV))  # fmt: skip
    _wait_port(port, peer[-1], log)
    return port


def _rsa_server_identity(live: Live, folder: Path) -> tuple[Path, Path]:
    """An RSA server certificate from the issuing CA of the testbed's own (ECDSA) one,
    signed with that CA's key from ``DIR/ca-keys``: a PACS's usual certificate."""
    from testbed.live.pacs_check.credentials import _issuing_key

    issuer = x509.load_pem_x509_certificates((live.state / "server.pem").read_bytes())[1]
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "orthanc-rsa")]))
        .issuer_name(issuer.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(_issuing_key(live.state, issuer), hashes.SHA256())
    )
    cert_path, key_path = folder / "orthanc-rsa.pem", folder / "orthanc-rsa.key"
    cert_path.write_bytes(certificate.public_bytes(Encoding.PEM)
                          + issuer.public_bytes(Encoding.PEM))  # fmt: skip
    key_path.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.TraditionalOpenSSL,
                                           NoEncryption()))  # fmt: skip
    return cert_path, key_path


def _completes(live: Live, port: int) -> set[str]:
    """The TLS versions whose handshake with the peer completes, each offered alone
    (any suite, ``SECLEVEL=0``) by pacs-check's enrolled device."""
    from testbed.live.pacs_check.checks import _context, _Tls
    from testbed.live.pacs_check.credentials import prepare

    credentials = prepare(live.state, site="north", zone="imaging", profile="ct-ai-onbox")
    done = set()
    for name, version in VERSIONS.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            context = _context(credentials, _Tls(credentials.good, (version, version)))
        try:
            with (
                socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
                context.wrap_socket(raw) as tls,
            ):
                assert tls.version() is not None
                done.add(name)
        except (ssl.SSLError, OSError):
            pass
    return done


@NEEDS_ORTHANC
def test_orthanc_fails_revocation_and_the_certificate_to_ae_binding(
    live: Live, tmp_path: Path, peer: list[subprocess.Popen[bytes]]
) -> None:
    """With the testbed's ECDSA server certificate (as every acceptor here)."""
    port = _orthanc(live, tmp_path, peer, cert=live.state / "server.pem",
                    key=live.state / "server.key")  # fmt: skip
    code, report, table = _check(live, port, "ORTHANC", tmp_path / "out")
    # Orthanc 1.10 has no CRL support, and its allow-list binds AE titles to hosts,
    # not to certificates: a revoked certificate and a borrowed AE title get through
    expected = {"revoked-refused", "other-device-ae-refused"}
    assert code == 1
    assert set(report["summary"]["failed"]) == expected, table
    revoked = next(c for c in report["checks"] if c["id"] == "revoked-refused")
    assert revoked["observed"] == "accepted"
    assert _failed_in_junit(tmp_path / "out" / "junit.xml") == expected
    # its TLS refuses 1.0 and 1.1 only because no old suite signs with ECDSA there:
    # of every version alone, only TLS 1.3 (whose suites name no key type) completes
    assert _completes(live, port) == {"tls1.3"}


@NEEDS_ORTHANC
def test_orthanc_with_an_rsa_certificate_accepts_tls_1_0_and_1_1(
    live: Live, tmp_path: Path, peer: list[subprocess.Popen[bytes]]
) -> None:
    """Orthanc 1.10.1's DICOM TLS does not refuse old protocol versions: with an RSA
    server certificate it completes TLS 1.0 and 1.1 handshakes, and pacs-check says
    so (tls10-refused and tls11-refused fail, with the two failures above)."""
    cert, key = _rsa_server_identity(live, tmp_path)
    port = _orthanc(live, tmp_path, peer, cert=cert, key=key)
    assert _completes(live, port) == set(VERSIONS)  # every version, 1.0 to 1.3
    code, report, table = _check(live, port, "ORTHANC", tmp_path / "out")
    expected = {"revoked-refused", "other-device-ae-refused", "tls10-refused", "tls11-refused"}
    assert code == 1
    assert set(report["summary"]["failed"]) == expected, table
    assert _failed_in_junit(tmp_path / "out" / "junit.xml") == expected
    for check_id in ("tls10-refused", "tls11-refused"):
        assert check_id in table


def test_the_old_tls_checks_can_fail(tmp_path: Path, live: Live) -> None:
    """The TLS 1.0/1.1 checks' client really speaks those versions (else they could
    never fail): it completes a TLS 1.0 handshake with ``openssl s_server -tls1``."""
    from testbed.live.pacs_check.checks import _context, _Tls
    from testbed.live.pacs_check.credentials import prepare

    port = free_port()
    server = subprocess.Popen(
        ["openssl", "s_server", "-accept", str(port), "-cert", str(live.state / "server.pem"),
         "-key", str(live.state / "server.key"), "-tls1", "-cipher", "DEFAULT:@SECLEVEL=0", "-www"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        _wait_port(port, server, tmp_path / "none")
    except BaseException:
        server.kill()
        raise
    credentials = prepare(live.state, site="north", zone="imaging", profile="ct-ai-onbox")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        context = _context(credentials, _Tls(None, (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1)))
    try:
        with (
            socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
            context.wrap_socket(raw) as tls,
        ):
            assert tls.version() == "TLSv1"
    finally:
        server.kill()
        server.wait(timeout=10)


def test_bad_input_exits_2(live: Live) -> None:
    too_long = live.cli("pacs-check", "127.0.0.1", "104", "--ae", "A" * 17, "--state-dir",
                        str(live.state))  # fmt: skip
    assert too_long.returncode == 2
    assert b"AE title" in too_long.stderr
    nowhere = run([sys.executable, "-m", "testbed.cli", "pacs-check", "127.0.0.1", "104",
                   "--ae", "PACS", "--state-dir", os.devnull + "-missing"])  # fmt: skip
    assert nowhere.returncode == 2
    assert b"endpoints.json" in nowhere.stderr
