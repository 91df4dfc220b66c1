"""Pure cryptographic work ahead of need, on another core.

In a simulation a new certificate is verified at the device's next connection, a
simulated day later, which is milliseconds later on the wall clock: time enough to
validate its path in another process while the simulation goes on.  The
:class:`CryptoWorker` is that process.  It runs exactly the code the
:class:`~testbed.pki.verify.Verifier` runs on a cache miss
(:func:`~testbed.pki.verify.derive_facts`: the CAs that can sit on the path, their
validity windows, and ``cryptography``'s path validation at the reference time) on
the DER bytes of the leaf and of the bundle, and sends the result back.  Its answers
are pure functions of those bytes, so a run gives the same decisions, events and
report with or without it; an answer that has not arrived when it is needed is
simply computed in the simulation's process.

The same worker makes devices' next CSRs: a device draws its next key (a P-256 or
P-384 scalar from the run's seeded generator) when it installs a certificate, and
the key pair and the PKCS#10 request are built here, together with the CA's check
of the request's signature on the exact bytes (:func:`~testbed.pki.keys.prepared_csr`);
the EST service takes that verdict for those bytes instead of recomputing it.

The channel is a socket pair carrying length-prefixed pickles of plain tuples; the
simulation's end never blocks on reading (it is non-blocking) and never on writing
(at most ``max_in_flight`` requests of a few hundred bytes are outstanding, far
below the socket buffers).  The worker stops when :meth:`CryptoWorker.close` is
called or its socket closes (the parent exited); it is a daemon process, so it never
outlives the parent.
"""

from __future__ import annotations

import multiprocessing
import pickle
import socket
import struct
import weakref
from collections.abc import Iterator
from multiprocessing.process import BaseProcess
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

__all__ = ["CryptoWorker"]

# fork: no re-import of the caller's main module (spawn would need an
# ``if __name__ == "__main__"`` guard in every script that runs a scenario); the
# worker is started early, before the run has built much, and touches nothing of it
_START_METHOD = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
_HEADER = struct.Struct("!I")


def _send(sock: socket.socket, message: object) -> None:
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    sock.sendall(_HEADER.pack(len(body)) + body)


def _frames(buffer: bytearray) -> Iterator[Any]:
    """Every complete message at the head of ``buffer`` (consumed from it)."""
    start = 0
    size = _HEADER.size
    while len(buffer) - start >= size:
        (length,) = _HEADER.unpack_from(buffer, start)
        if len(buffer) - start - size < length:
            break
        yield pickle.loads(buffer[start + size : start + size + length])
        start += size + length
    del buffer[:start]


def _serve(sock: socket.socket) -> None:
    """The worker: answer ``derive`` requests until told to stop or the socket closes."""
    from testbed.pki.keys import prepared_csr  # what the worker runs
    from testbed.pki.verify import bundle_index, derive_facts

    indexes: dict[bytes, Any] = {}
    buffer = bytearray()
    while True:
        try:
            chunk = sock.recv(1 << 16)
        except OSError:
            return
        if not chunk:
            return
        buffer += chunk
        for message in _frames(buffer):
            tag = message[0]
            if tag == "stop":
                return
            if tag == "bundle":
                _, fingerprint, ders = message
                certificates = tuple(x509.load_der_x509_certificate(d) for d in ders)
                indexes[fingerprint] = bundle_index(certificates)
            elif tag == "derive":
                _, token, leaf_der, fingerprint = message
                leaf = x509.load_der_x509_certificate(leaf_der)
                facts = derive_facts(leaf, indexes[fingerprint])
                _send(sock, (token, facts.to_tuple()))
            elif tag == "csr":
                _, token, key_type, scalar, common_name = message
                _send(sock, (token, prepared_csr(key_type, scalar, common_name)))


def _stop(process: BaseProcess, sock: socket.socket) -> None:
    try:
        sock.setblocking(True)
        _send(sock, ("stop",))
    except OSError:
        pass
    sock.close()
    process.join(timeout=5)
    if process.is_alive():
        process.terminate()
        process.join(timeout=5)


class CryptoWorker:
    """One helper process for pure cryptographic work: path facts and device CSRs.

    ``submit`` asks for the verification facts of a (leaf, bundle) pair (answered as
    ``_Facts.to_tuple``); ``submit_csr`` for a device's next CSR from a seed-derived
    EC key, with the CA's signature check run on its bytes (answered as
    ``(der, signature_valid)``, :func:`~testbed.pki.keys.prepared_csr`).
    """

    def __init__(self, *, max_in_flight: int = 64) -> None:
        if max_in_flight < 1:
            raise ValueError(f"max_in_flight must be at least 1, got {max_in_flight}")
        self.max_in_flight = max_in_flight
        self._sock: socket.socket | None = None
        self.process: BaseProcess | None = None  # the helper, once started
        self._finalizer: weakref.finalize[Any, CryptoWorker] | None = None
        self._bundles: set[bytes] = set()
        self._buffer = bytearray()
        self._ready: dict[int, Any] = {}
        self._abandoned: set[int] = set()
        self._next = 0
        self._in_flight = 0
        self.sent = 0
        self.answered = 0
        self.dead = False

    def _start(self) -> socket.socket:
        if self._sock is None:
            context: Any = multiprocessing.get_context(_START_METHOD)
            parent, child = socket.socketpair()
            process: BaseProcess = context.Process(
                target=_serve, args=(child,), name="testbed-crypto", daemon=True
            )
            process.start()
            child.close()
            parent.setblocking(False)
            self._sock = parent
            self.process = process
            self._finalizer = weakref.finalize(self, _stop, process, parent)
        return self._sock

    def submit(
        self, leaf: x509.Certificate, fingerprint: bytes, bundle: tuple[x509.Certificate, ...]
    ) -> int | None:
        """Ask for the facts of ``leaf`` under a bundle; a token, or None if not sent."""
        messages: list[tuple[Any, ...]] = []
        if fingerprint not in self._bundles:
            ders = [c.public_bytes(Encoding.DER) for c in bundle]
            messages.append(("bundle", fingerprint, ders))
        token = self._request(messages, "derive", leaf.public_bytes(Encoding.DER), fingerprint)
        if token is not None:
            self._bundles.add(fingerprint)
        return token

    def submit_csr(self, key_type: str, scalar: int, common_name: str) -> int | None:
        """Ask for a CSR for the EC key of ``scalar`` (and its signature check); a token."""
        return self._request([], "csr", key_type, scalar, common_name)

    def _request(self, before: list[tuple[Any, ...]], tag: str, *args: Any) -> int | None:
        if self.dead:
            return None
        if self._in_flight >= self.max_in_flight:
            self._drain()
            if self._in_flight >= self.max_in_flight:
                return None
        sock = self._start()
        token = self._next
        try:
            for message in before:
                self._send(sock, message)
            self._send(sock, (tag, token, *args))
        except OSError:
            self.close()
            return None
        self._next += 1
        self._in_flight += 1
        self.sent += 1
        return token

    @staticmethod
    def _send(sock: socket.socket, message: object) -> None:
        # bounded in-flight requests keep the buffer from filling; should it still be
        # full, wait for room rather than drop half a frame
        sock.setblocking(True)
        try:
            _send(sock, message)
        finally:
            sock.setblocking(False)

    def has_answered(self, token: int) -> bool:
        """Whether the answer to ``token`` has arrived (reads what is there, never waits)."""
        if token not in self._ready:
            self._drain()
        return token in self._ready

    def take(self, token: int) -> Any | None:
        """The answer to ``token`` if it has arrived, else None (and it is then dropped).

        A caller that gets None does the work itself; the late answer is discarded
        when it arrives, so nothing accumulates.
        """
        if token not in self._ready:
            self._drain()
        if token in self._ready:
            return self._ready.pop(token)
        if not self.dead:
            self._abandoned.add(token)
        return None

    def _drain(self) -> None:
        """Read every answer that has arrived, without waiting."""
        sock = self._sock
        if sock is None or not self._in_flight:
            return
        while True:
            try:
                chunk = sock.recv(1 << 16)
            except BlockingIOError:
                break
            except OSError:
                self.close()
                return
            if not chunk:
                self.close()
                return
            self._buffer += chunk
        for token, payload in _frames(self._buffer):
            self._in_flight -= 1
            self.answered += 1
            if token in self._abandoned:
                self._abandoned.discard(token)
            else:
                self._ready[token] = payload

    @property
    def in_flight(self) -> int:
        """Requests sent and not yet answered."""
        return self._in_flight

    def close(self) -> None:
        """Stop the worker (idempotent); nothing more is sent afterwards."""
        self.dead = True
        if self._finalizer is not None:
            self._finalizer()
        self._sock = None
        self._in_flight = 0
        self._ready.clear()
        self._abandoned.clear()
