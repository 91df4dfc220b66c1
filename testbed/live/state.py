"""The state directory of a live run: where ``testbed serve`` tells clients how to reach it.

::

    DIR/endpoints.json   URLs of the EST, CRL, OCSP and admin endpoints (only while serving)
    DIR/ca-bundle.pem    the root and issuing CAs, root first
    DIR/admin.secret     the admin API's bearer secret (mode 0600)
    DIR/server.pem       the EST server's certificate and its issuing CA
    DIR/server.key       the EST server's private key (mode 0600)
    DIR/events.jsonl     the live audit log, one JSON event a line, written as it happens
    DIR/serve.lock       held (``flock``) by the one ``testbed serve`` using DIR
    DIR/scenario.yaml    the scenario it serves, DIR/profiles/ its profiles, DIR/run.json
                         (``testbed report DIR`` reads them: :mod:`testbed.report.directory`)

``endpoints.json`` is written last, atomically, once every socket listens, and
removed on a clean shutdown, so its presence means "the server is up".  The hospital
itself is kept in ``hospital.db`` and ``ca-keys/`` (:mod:`testbed.live.store`): a
``testbed serve`` on the same directory continues it, and its audit log; a new
hospital (``--new``) keeps an earlier run's audit log renamed
``events-<its last write>.jsonl``.
"""

from __future__ import annotations

import dataclasses
import fcntl
import ipaddress
import json
import os
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

from cryptography import x509
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
)
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from testbed.errors import LiveError
from testbed.events import Event
from testbed.pki.ca import CertificateAuthority
from testbed.pki.keys import KeyType, new_private_key, new_serial_number, signature_hash
from testbed.pki.leaf_profile import key_usage

__all__ = ["EventFile", "StateDir", "server_identity"]

_PRIVATE = 0o600


def _write(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Write atomically: a temporary file with ``mode``, then a rename."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.unlink(missing_ok=True)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
    os.chmod(temporary, mode)  # the umask may have narrowed it
    temporary.replace(path)


@dataclass(frozen=True, slots=True)
class StateDir:
    """The files of one live run under ``root``."""

    root: Path

    @property
    def endpoints(self) -> Path:
        """``endpoints.json``."""
        return self.root / "endpoints.json"

    @property
    def bundle(self) -> Path:
        """``ca-bundle.pem``."""
        return self.root / "ca-bundle.pem"

    @property
    def secret(self) -> Path:
        """``admin.secret``."""
        return self.root / "admin.secret"

    @property
    def server_cert(self) -> Path:
        """``server.pem`` (leaf then issuing CA)."""
        return self.root / "server.pem"

    @property
    def server_key(self) -> Path:
        """``server.key``."""
        return self.root / "server.key"

    @property
    def events(self) -> Path:
        """``events.jsonl``."""
        return self.root / "events.jsonl"

    @contextmanager
    def claimed(self, *, continuing: bool = False) -> Iterator[Path | None]:
        """Hold the directory for one ``testbed serve``; yields where an earlier run's
        audit log was kept (None when there was none, or when ``continuing`` the
        hospital the directory holds: its log goes on).

        :class:`LiveError` when the directory cannot be written or another server
        holds it.  Drops a stale ``endpoints.json`` (a server that did not stop cleanly).
        """
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=self.root):
                pass
            lock = os.open(self.root / "serve.lock", os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            reason = error.strerror or str(error)
            detail = f"{self.root}: expected a writable state directory ({reason})"
            raise LiveError(detail) from None
        try:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise LiveError(
                    f"{self.root} is in use by another `testbed serve`; stop it first "
                    "or give another --state-dir"
                ) from None
            self.endpoints.unlink(missing_ok=True)
            yield None if continuing else self._keep_earlier_events()
        finally:
            os.close(lock)  # releases the lock

    def _keep_earlier_events(self) -> Path | None:
        """Rename a non-empty ``events.jsonl`` after its last write, so nothing is lost."""
        try:
            stat = self.events.stat()
        except FileNotFoundError:
            return None
        if stat.st_size == 0:
            return None
        stamp = datetime.fromtimestamp(stat.st_mtime, UTC).strftime("%Y%m%dT%H%M%SZ")
        kept = self.root / f"events-{stamp}.jsonl"
        counter = 1
        while kept.exists():
            counter += 1
            kept = self.root / f"events-{stamp}-{counter}.jsonl"
        self.events.rename(kept)
        return kept

    def write_secret(self) -> str:
        """A fresh admin bearer secret, stored with mode 0600."""
        secret = secrets.token_urlsafe(32)
        _write(self.secret, secret.encode() + b"\n", mode=_PRIVATE)
        return secret

    def write_bundle(self, pem: bytes) -> None:
        """Store the trust bundle."""
        _write(self.bundle, pem)

    def write_server_identity(self, chain_pem: bytes, key_pem: bytes) -> None:
        """Store the EST server's certificate chain and key (the key with mode 0600)."""
        _write(self.server_key, key_pem, mode=_PRIVATE)
        _write(self.server_cert, chain_pem)

    def write_endpoints(self, endpoints: dict[str, object]) -> None:
        """Publish the endpoint URLs (call once every socket listens)."""
        _write(self.endpoints, (json.dumps(endpoints, indent=2, sort_keys=True) + "\n").encode())

    def clear_endpoints(self) -> None:
        """Remove ``endpoints.json`` (clean shutdown)."""
        self.endpoints.unlink(missing_ok=True)

    def read_endpoints(self) -> dict[str, object]:
        """The endpoint URLs of the running server, or :class:`LiveError`."""
        try:
            data = json.loads(self.endpoints.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise LiveError(
                f"no live hospital in {self.root}: {self.endpoints.name} is missing; "
                f"start one with `testbed serve SCENARIO --state-dir {self.root}`"
            ) from None
        except json.JSONDecodeError as error:
            raise LiveError(f"{self.endpoints} is not JSON: {error}") from None
        if not isinstance(data, dict):
            raise LiveError(f"{self.endpoints} is not a JSON object")
        return {str(k): v for k, v in data.items()}

    def read_secret(self) -> str:
        """The admin bearer secret, or :class:`LiveError`."""
        try:
            return self.secret.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            raise LiveError(f"{self.secret} is missing; is `testbed serve` running?") from None


class EventFile:
    """An event-log listener that appends each event to a JSON-lines file at once.

    A file that exists already is a continued hospital's log (a new hospital's was
    renamed away): it goes on, its events numbered after the last one there; a line
    a crash cut short is dropped first.
    """

    def __init__(self, path: Path) -> None:
        self._first = _continue_log(path)
        self._handle: IO[str] = path.open("a", encoding="utf-8", newline="\n")

    def __call__(self, event: Event) -> None:
        """Write one event and flush, so readers see it while the server runs."""
        if self._first:
            event = dataclasses.replace(event, seq=event.seq + self._first)
        self._handle.write(event.to_json() + "\n")
        self._handle.flush()

    def close(self) -> None:
        """Close the file."""
        self._handle.close()


def _continue_log(path: Path) -> int:
    """The number of the next event of the log at ``path`` (0 for none), after cutting
    a last line that a crash left without its end."""
    try:
        handle = path.open("rb+")
    except FileNotFoundError:
        return 0
    with handle:
        size = handle.seek(0, os.SEEK_END)
        tail = b""
        while size > 0 and tail.count(b"\n") < 2:
            step = min(size, 65536)
            size -= step
            handle.seek(size)
            tail = handle.read(step) + tail
        if tail and not tail.endswith(b"\n"):
            cut = tail.rfind(b"\n") + 1
            handle.truncate(size + cut)
            tail = tail[:cut]
        lines = tail.splitlines()
    if not lines:
        return 0
    try:
        return int(json.loads(lines[-1])["seq"]) + 1
    except (ValueError, KeyError, TypeError):
        raise LiveError(f"{path}: the last event is not a JSON event with a seq") from None


_SERVER_USAGE = key_usage(digital_signature=True, key_cert_sign=False)


def server_identity(
    ca: CertificateAuthority,
    *,
    now: datetime,
    lifetime: timedelta = timedelta(days=30),
    also_valid_at: datetime | None = None,
) -> tuple[bytes, bytes]:
    """A TLS server certificate for 127.0.0.1 and localhost, issued by the scenario's CA.

    Valid from ``now`` for ``lifetime`` (and, when given, at ``also_valid_at`` too:
    clients check the server's certificate with their own clocks, which may differ
    from a hospital whose clock a test has moved).  Returns ``(chain_pem, key_pem)``:
    the leaf followed by its issuing CA, and the key.  Not recorded as a device
    certificate (it belongs to no device).
    """
    issuing = ca.issuing_ca_for(ca.sites[0], now=now)
    earliest = min(now, also_valid_at or now)
    latest = max(now, also_valid_at or now)
    key = new_private_key(KeyType.EC_P256, None)
    names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    ski = x509.SubjectKeyIdentifier.from_public_key(issuing.key.public_key())
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(issuing.certificate.subject)
        .public_key(key.public_key())
        .serial_number(new_serial_number(None))
        .not_valid_before(earliest - ca.backdate)
        .not_valid_after(min(latest + lifetime, issuing.certificate.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(_SERVER_USAGE, critical=True)  # ECDHE-ECDSA: signing only
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
    )
    leaf = builder.sign(issuing.key, signature_hash(issuing.key))
    chain = leaf.public_bytes(Encoding.PEM) + issuing.certificate.public_bytes(Encoding.PEM)
    key_pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    return chain, key_pem
