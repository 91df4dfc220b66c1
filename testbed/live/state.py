"""The state directory of a live run: where ``testbed serve`` tells clients how to reach it.

::

    DIR/endpoints.json   URLs of the EST, CRL, OCSP and services endpoints, and the
                         admin socket's path (only while serving)
    DIR/admin.sock       the admin API's Unix domain socket (mode 0600, while serving)
    DIR/ca-bundle.pem    the root and issuing CAs, root first
    DIR/admin.secret     the admin API's bearer secret (mode 0600)
    DIR/introspection.secret  the bearer secret of the IdP's introspection endpoint
                         (mode 0600; with an ``ehr:`` block)
    DIR/server.pem       the EST server's certificate and its issuing CA
    DIR/server.key       the EST server's private key (mode 0600)
    DIR/events.jsonl     the live audit log, one JSON event a line, written as it happens;
                         DIR/events-<n>.jsonl its earlier segments (rotated by size)
    DIR/serve.lock       the process id of the ``testbed serve`` holding DIR (the lock
                         itself is ``flock`` on the directory)
    DIR/scenario.yaml    the scenario it serves, DIR/profiles/ its profiles, DIR/run.json
                         (``testbed report DIR`` reads them: :mod:`testbed.report.directory`)

The directory must be this user's and not writable by group or others (checked at
start); files are written through a new temporary file and a rename and read with
``O_NOFOLLOW``, so a planted symlink is never followed.
``endpoints.json`` is written last, atomically, once every socket listens, and
removed on a clean shutdown, so its presence means "the server is up".  The hospital
itself is kept in ``hospital.db`` and ``ca-keys/`` (:mod:`testbed.live.store`): a
``testbed serve`` on the same directory continues it, and its audit log; a new
hospital (``--new``) keeps an earlier run's audit log renamed
``events-<its last write>.jsonl``.
"""

from __future__ import annotations

import errno
import fcntl
import ipaddress
import json
import os
import secrets
import socket
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
)
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from testbed.errors import LiveError
from testbed.event_sink import segments
from testbed.live.audit import AuditLog, RotatingSink
from testbed.pki.ca import CertificateAuthority
from testbed.pki.keys import KeyType, new_private_key, new_serial_number, signature_hash
from testbed.pki.leaf_profile import key_usage

__all__ = ["StateDir", "check_directory", "server_identity"]

_PRIVATE = 0o600
_SUN_PATH = 107  # bytes of a Unix socket's path (sockaddr_un.sun_path, less its NUL)


def _write(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Write atomically: a new temporary file with ``mode``, then a rename (which
    replaces a planted symlink instead of following it)."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.unlink(missing_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    descriptor = os.open(temporary, flags, mode)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
    os.chmod(temporary, mode, follow_symlinks=False)  # the umask may have narrowed it
    temporary.replace(path)


def _read(path: Path) -> str:
    """A file's text, never through a symlink (:class:`LiveError` for one)."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise LiveError(f"{path} is a symbolic link; expected a regular file written "
                            "by `testbed serve`") from None  # fmt: skip
        raise
    with os.fdopen(descriptor, "r", encoding="utf-8") as handle:
        return handle.read()


def check_directory(root: Path, *, create: bool) -> None:
    """:class:`LiveError` unless ``root`` is a real directory (not a symlink) owned by
    this user and not writable by group or others; created (mode 0700) if asked."""
    if create and not os.path.lexists(root):
        try:
            root.mkdir(mode=0o700, parents=True)
        except OSError as error:
            reason = error.strerror or str(error)
            raise LiveError(f"{root}: expected a writable state directory ({reason})") from None
    try:
        info = os.lstat(root)
    except OSError as error:
        reason = error.strerror or str(error)
        raise LiveError(f"{root}: expected a state directory ({reason})") from None
    if stat.S_ISLNK(info.st_mode):
        raise LiveError(f"{root} is a symbolic link; expected the state directory itself "
                        "(give its real path)")  # fmt: skip
    if not stat.S_ISDIR(info.st_mode):
        raise LiveError(f"{root}: expected a directory")
    if info.st_uid != os.geteuid():
        raise LiveError(f"{root} is owned by uid {info.st_uid}; expected a state directory "
                        f"owned by this user (uid {os.geteuid()})")  # fmt: skip
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        mode = stat.S_IMODE(info.st_mode)
        raise LiveError(f"{root} has mode {mode:o}: writable by group or others, who could "
                        f"plant files in it; expected no group or other write permission "
                        f"(chmod go-w {root})")  # fmt: skip


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
    def admin_socket(self) -> Path:
        """``admin.sock``, the admin API's Unix domain socket."""
        return self.root / "admin.sock"

    @property
    def admin_url(self) -> str:
        """How ``endpoints.json`` names the admin API: ``unix:`` and the socket's path."""
        return f"unix:{self.admin_socket.absolute()}"

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

        :class:`LiveError` when the directory is unsafe (:func:`check_directory`),
        cannot be written, or another server holds it.  The lock is ``flock`` on the
        directory itself, held as long as the server runs: deleting a file cannot
        release it.  Drops a stale ``endpoints.json`` (a server that did not stop cleanly).
        """
        check_directory(self.root, create=True)
        try:
            with tempfile.TemporaryFile(dir=self.root):
                pass
            lock = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
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
            _write(self.root / "serve.lock", f"{os.getpid()}\n".encode())  # who holds it
            self.endpoints.unlink(missing_ok=True)
            yield None if continuing else self._keep_earlier_events()
        finally:
            os.close(lock)  # releases the lock

    def _keep_earlier_events(self) -> Path | None:
        """Rename a non-empty ``events.jsonl`` after its last write (and its rotated
        segments ``events-<n>.jsonl`` with it), so nothing is lost."""
        try:
            info = os.lstat(self.events)
        except FileNotFoundError:
            return None
        if info.st_size == 0:
            return None
        stamp = datetime.fromtimestamp(info.st_mtime, UTC).strftime("%Y%m%dT%H%M%SZ")
        kept = self.root / f"events-{stamp}.jsonl"
        counter = 1
        while os.path.lexists(kept):
            counter += 1
            kept = self.root / f"events-{stamp}-{counter}.jsonl"
        for segment in segments(self.root):
            segment.rename(kept.with_name(f"{kept.stem}.part{segment.stem[7:]}.jsonl"))
        self.events.rename(kept)
        return kept

    def audit_log(self, *, max_bytes: int = 64 * 1024 * 1024) -> AuditLog:
        """The live audit log, appended to ``events.jsonl`` here, rotated at ``max_bytes``."""
        return AuditLog(RotatingSink(self.root, max_bytes=max_bytes))

    def listen_admin(self, backlog: int) -> socket.socket:
        """Listen on ``admin.sock`` (mode 0600), replacing a stale socket."""
        path = self.admin_socket
        if len(os.fsencode(path.absolute())) > _SUN_PATH:
            raise LiveError(f"{path.absolute()}: a Unix socket path has at most {_SUN_PATH} "
                            "bytes; give a shorter --state-dir")  # fmt: skip
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            pass
        else:
            if not stat.S_ISSOCK(info.st_mode):
                raise LiveError(f"{path} exists and is not a socket; remove it")
            path.unlink()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(str(path))
            os.chmod(path, _PRIVATE, follow_symlinks=False)  # before anyone may connect
            sock.listen(backlog)
        except OSError as error:
            sock.close()
            raise LiveError(f"{path}: cannot listen ({error.strerror or error})") from None
        sock.setblocking(False)
        return sock

    def clear_admin(self) -> None:
        """Remove ``admin.sock`` (clean shutdown)."""
        self.admin_socket.unlink(missing_ok=True)

    def write_secret(self, name: str | None = None) -> str:
        """A fresh bearer secret, stored with mode 0600: the admin API's
        (``admin.secret``), or the one in file ``name`` (``introspection.secret``)."""
        secret = secrets.token_urlsafe(32)
        path = self.secret if name is None else self.root / name
        _write(path, secret.encode() + b"\n", mode=_PRIVATE)
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
            data = json.loads(_read(self.endpoints))
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
            return _read(self.secret).strip()
        except FileNotFoundError:
            raise LiveError(f"{self.secret} is missing; is `testbed serve` running?") from None


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
