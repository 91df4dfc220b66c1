"""An impostor server on loopback under a CA the hospital never heard of: an EST server
(EST-02) or a PACS (DICOM-01).

A device that validates the server against its trust anchors (RFC 7030 §3.3.1; DICOM
PS3.15 Annex B) aborts the TLS handshake; one that accepts any server certificate
completes it and sends its request (EST: with its bootstrap credentials; DICOM: an
A-ASSOCIATE-RQ with the study to follow).  The impostor answers an HTTP request 503,
a DICOM peer nothing (it closes), and counts both: :attr:`Impostor.requests` is the
evidence that a device talked to it.

It is the kit's test double, not a hospital server: it binds 127.0.0.1 only, lives
for one check, handles one connection at a time with a socket timeout, and is
stopped by the check that started it.
"""

from __future__ import annotations

import socket
import ssl
import tempfile
import threading
from datetime import timedelta
from ipaddress import IPv4Address
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from testbed.clock import WallClock

__all__ = ["Impostor"]

_TIMEOUT = 5.0


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _identity(directory: Path) -> tuple[Path, Path]:
    """A self-made root and a server certificate for 127.0.0.1 signed by it (PEM files)."""
    now = WallClock().now()
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = (x509.CertificateBuilder().subject_name(_name("Impostor Root CA"))
            .issuer_name(_name("Impostor Root CA")).public_key(root_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(hours=1)).not_valid_after(now + timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(root_key, hashes.SHA256()))  # fmt: skip
    key = ec.generate_private_key(ec.SECP256R1())
    sans = x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                        x509.IPAddress(IPv4Address("127.0.0.1"))])  # fmt: skip
    leaf = (x509.CertificateBuilder().subject_name(_name("127.0.0.1"))
            .issuer_name(root.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(hours=1)).not_valid_after(now + timedelta(days=1))
            .add_extension(sans, critical=False)
            .sign(root_key, hashes.SHA256()))  # fmt: skip
    chain = directory / "impostor.pem"
    chain.write_bytes(leaf.public_bytes(serialization.Encoding.PEM)
                      + root.public_bytes(serialization.Encoding.PEM))  # fmt: skip
    key_file = directory / "impostor.key"
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))  # fmt: skip
    return chain, key_file


class Impostor:
    """An HTTPS server on 127.0.0.1 with a certificate from a foreign CA."""

    def __init__(self, protocol: str = "https") -> None:
        self.protocol = protocol  # "https" (EST) or "dicom" (a PACS)
        self.handshakes_failed = 0
        self.requests: list[str] = []  # request lines received after a handshake
        self._directory = tempfile.TemporaryDirectory(prefix="impostor-")
        chain, key = _identity(Path(self._directory.name))
        self._context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._context.load_cert_chain(chain, key)
        self._socket = socket.create_server(("127.0.0.1", 0))
        self._socket.settimeout(0.2)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="impostor", daemon=True)

    @property
    def port(self) -> int:
        """The port it listens on (127.0.0.1)."""
        return int(self._socket.getsockname()[1])

    @property
    def url(self) -> str:
        """The impostor's EST base URL."""
        return f"https://127.0.0.1:{self.port}/.well-known/est"

    def __enter__(self) -> Impostor:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)
        self._socket.close()
        self._directory.cleanup()

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                connection, _ = self._socket.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with connection:
                connection.settimeout(_TIMEOUT)
                self._answer(connection)

    def _answer(self, connection: socket.socket) -> None:
        try:
            tls = self._context.wrap_socket(connection, server_side=True)
        except (ssl.SSLError, OSError):
            self.handshakes_failed += 1
            return
        with tls:
            try:
                head = tls.recv(16384)
            except (ssl.SSLError, OSError):
                return
            if not head:
                return
            if self.protocol == "dicom":  # PS3.8 9.3: the first byte is the PDU type
                self.requests.append(f"DICOM PDU type 0x{head[0]:02x} ({len(head)} bytes)")
                return
            self.requests.append(head.split(b"\r\n", 1)[0].decode("latin-1"))
            body = b"impostor\n"
            try:
                tls.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: "
                            + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
            except (ssl.SSLError, OSError):
                return
