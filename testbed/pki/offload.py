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
the EST service takes that verdict for those bytes instead of recomputing it.  When
the CA has planned the device's next leaf (:class:`~testbed.pki.ca.LeafPlan`: the
serial it reserved, the issuing CA and validity window at the device's renewal
time), the worker also signs that leaf with the issuing CA's key, using the CA's own
:func:`~testbed.pki.ca.build_leaf`; the EST service issues it only for exactly that
CSR and only if the plan still holds when the device asks
(:meth:`~testbed.pki.ca.CertificateAuthority.adopt`), and signs inline otherwise.

The channel is a socket pair carrying length-prefixed pickles of plain tuples; the
simulation's end never blocks on reading (it is non-blocking) and only briefly on
writing (the worker reads everything that has arrived between any two jobs, and
writes as much of its answers as the socket takes, so it never waits for the
simulation to read; at most ``max_in_flight`` requests are outstanding and further
ones wait in a queue in the simulation's process, sent oldest first as answers come
back).  The worker stops when :meth:`CryptoWorker.close` is called, when its socket
closes, or when the simulation's process exits without closing it (the worker
watches its parent's sentinel).
"""

from __future__ import annotations

import gc
import multiprocessing
import pickle
import select
import socket
import struct
import weakref
from collections import deque
from collections.abc import Iterator, Sequence
from multiprocessing.process import BaseProcess
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_der_private_key,
)

from testbed.clock import aware_utc, naive_utc

if TYPE_CHECKING:
    from testbed.pki.ca import IssuingCA, LeafPlan
    from testbed.pki.keys import CsrCheck

__all__ = ["CryptoWorker"]

# fork: no re-import of the caller's main module (spawn would need an
# ``if __name__ == "__main__"`` guard in every script that runs a scenario); the
# worker is started early, before the run has built much, and touches nothing of it
_START_METHOD = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
_HEADER = struct.Struct("!I")
_DEFERRED_BATCH = 16  # requests that are not urgent are sent this many at a time
_READABLE = select.POLLIN | select.POLLHUP | select.POLLERR


def _frame(message: object) -> bytes:
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(body)) + body


def _send(sock: socket.socket, message: object) -> None:
    sock.sendall(_frame(message))


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


def _serve(sock: socket.socket, clock: Any) -> None:
    """The worker: answer requests until told to stop or the socket closes.

    Bundles and issuers are kept as they arrive; among the jobs read so far, path
    facts and CSRs (needed soon) go before leaves signed ahead (needed at renewal).
    The socket is non-blocking on this side too: between two jobs the worker reads
    what has arrived and writes what the socket takes of its answers, so it never
    waits on the simulation; with nothing to do it sleeps until a request arrives
    or, while answers are pending, until the socket can take them.
    """
    # forked from the simulation: its heap is this process's oldest generation, and
    # full collections here would walk (and copy, page by page) all of it for nothing
    gc.freeze()
    kept = _Kept()
    urgent: deque[tuple[Any, ...]] = deque()
    deferred: deque[tuple[Any, ...]] = deque()
    buffer = bytearray()
    pending = bytearray()  # answers not yet taken by the socket
    sock.setblocking(False)
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    # the parent's end of the socket pair is open here too (fork), so the socket never
    # reports the parent's exit: its sentinel does (readable once the parent is gone)
    parent = multiprocessing.parent_process()
    sentinel = None if parent is None else parent.sentinel
    if sentinel is not None:
        poller.register(sentinel, select.POLLIN)
    while True:
        if urgent or deferred:
            ready = poller.poll(0)  # a look, never a wait
        else:
            poller.modify(sock, select.POLLIN | (select.POLLOUT if pending else 0))
            ready = poller.poll()
        for fd, flags in ready:
            if fd == sentinel:
                return  # the simulation's process has exited
            if flags & _READABLE and not _read_requests(sock, buffer, kept, urgent, deferred):
                return
        if pending:
            try:
                del pending[: sock.send(pending)]
            except BlockingIOError:
                pass
            except OSError:
                return
        if not (urgent or deferred):
            continue
        pending += _frame(_job(urgent.popleft() if urgent else deferred.popleft(), kept, clock))


def _read_requests(
    sock: socket.socket,
    buffer: bytearray,
    kept: _Kept,
    urgent: deque[tuple[Any, ...]],
    deferred: deque[tuple[Any, ...]],
) -> bool:
    """Read what has arrived: keep bundles and issuers, queue jobs; False means stop."""
    from testbed.pki.verify import bundle_index

    while True:  # all that has arrived: the simulation may be waiting to write more
        try:
            chunk = sock.recv(1 << 16)
        except BlockingIOError:
            break
        except OSError:
            return False
        if not chunk:
            return False  # the simulation's end closed
        buffer += chunk
    for message in _frames(buffer):
        tag = message[0]
        if tag == "stop":
            return False
        if tag == "bundle":
            _, fingerprint, ders = message
            certificates = tuple(x509.load_der_x509_certificate(d) for d in ders)
            kept.indexes[fingerprint] = bundle_index(certificates)
        elif tag == "issuer":
            _, name, certificate_der, key_der = message
            kept.issuers[name] = _issuer(certificate_der, key_der)
        else:
            (deferred if tag == "leaf" else urgent).append(message)
    return True


class _Kept:
    """What the worker keeps between jobs: bundles, issuing CAs, leaf names per device."""

    def __init__(self) -> None:
        self.indexes: dict[bytes, Any] = {}  # bundle fingerprint -> verify's index
        self.issuers: dict[str, tuple[x509.Name, Any, Any]] = {}  # name, key, leaves' AKI
        # (trust domain, site, device) -> leaf subject and SAN extension, as the CA keeps
        self.names: dict[tuple[str, str, str], tuple[x509.Name, Any]] = {}


def _job(message: tuple[Any, ...], kept: _Kept, clock: Any) -> tuple[Any, ...]:
    """One request's answer, ``(token, payload)``."""
    from testbed.pki.ca import LeafPlan
    from testbed.pki.keys import prepared_csr  # what the worker runs
    from testbed.pki.verify import derive_facts

    indexes = kept.indexes
    tag, token = message[0], message[1]
    if tag == "derive":
        _, _, leaf_der, fingerprint = message
        leaf = x509.load_der_x509_certificate(leaf_der)
        return token, derive_facts(leaf, indexes[fingerprint]).to_tuple()
    if tag == "csr":
        _, _, key_type, scalar, common_name = message
        return token, prepared_csr(key_type, scalar, common_name)
    _, _, deadline, key_type, scalar, trust_domain, plan, fingerprints = message
    if clock.value > deadline:  # the device has asked already: it was done there
        return token, None
    issuer, device_id, site, serial, not_before, not_after = plan
    planned = LeafPlan(issuer, device_id, site, serial, aware_utc(not_before),
                       aware_utc(not_after))  # fmt: skip
    csr_der, check, signed = _leaf(kept, key_type, scalar, trust_domain, planned)
    if signed is None:
        return token, (csr_der, check, None, ())
    facts = tuple(
        (fingerprint, derive_facts(signed, indexes[fingerprint]).to_tuple())
        for fingerprint in fingerprints
    )
    return token, (csr_der, check, signed.public_bytes(Encoding.DER), facts)


def _issuer(certificate_der: bytes, key_der: bytes) -> tuple[x509.Name, Any, Any]:
    """An issuing CA as the worker keeps it: its name, its key, the leaves' AKI."""
    from testbed.pki.leaf_profile import authority_key_id

    key = load_der_private_key(key_der, password=None)
    subject = x509.load_der_x509_certificate(certificate_der).subject
    return subject, key, authority_key_id(key)  # type: ignore[arg-type]


def _leaf(
    kept: _Kept,
    key_type: str,
    scalar: int,
    trust_domain: str,
    plan: Any,
) -> tuple[bytes, CsrCheck, x509.Certificate | None]:
    """A device's next CSR, the CA's check of it, and the leaf the CA would sign for it."""
    from testbed.pki.keys import KeyType, ec_key, request_and_check
    from testbed.pki.leaf_profile import build_leaf, leaf_sans, leaf_subject

    key = ec_key(KeyType(key_type), scalar)
    der, check = request_and_check(key, plan.device_id)
    if not check.valid:  # never for a CSR made here; the CA would refuse it, so sign nothing
        return der, check, None
    issuer, issuing_key, authority_key = kept.issuers[plan.issuer]
    where = (trust_domain, plan.site, plan.device_id)
    subject_and_sans = kept.names.get(where)  # as the CA keeps them
    if subject_and_sans is None:
        subject_and_sans = kept.names[where] = (
            leaf_subject(plan.device_id, trust_domain),
            leaf_sans(trust_domain, plan.site, plan.device_id),
        )
    leaf = build_leaf(
        issuer=issuer,
        issuing_key=issuing_key,
        authority_key=authority_key,
        subject=subject_and_sans[0],
        sans=subject_and_sans[1],
        public=key.public_key(),
        serial=plan.serial,
        not_before=plan.not_before,
        not_after=plan.not_after,
    )
    return der, check, leaf


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
    ``(der, (signature_valid, common_name))``, :func:`~testbed.pki.keys.prepared_csr`).
    """

    def __init__(self, *, max_in_flight: int = 4096, max_queued: int = 100_000) -> None:
        if max_in_flight < 1:
            raise ValueError(f"max_in_flight must be at least 1, got {max_in_flight}")
        self.max_in_flight = max_in_flight
        self.max_queued = max_queued
        # requests not sent yet: those needed soon first (path facts), then the rest
        self._urgent: deque[tuple[list[tuple[Any, ...]], tuple[Any, ...]]] = deque()
        self._deferred: deque[tuple[list[tuple[Any, ...]], tuple[Any, ...]]] = deque()
        context: Any = multiprocessing.get_context(_START_METHOD)
        # the simulation's time as the caller last told it (shared with the helper)
        self._clock: Any = context.RawValue("d", float("-inf"))
        self._sock: socket.socket | None = None
        self.process: BaseProcess | None = None  # the helper, once started
        self._finalizer: weakref.finalize[Any, CryptoWorker] | None = None
        self._bundles: set[bytes] = set()
        self._issuers: set[str] = set()
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
                target=_serve, args=(child, self._clock), name="testbed-crypto", daemon=True
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

    def submit_leaf(
        self,
        key_type: str,
        scalar: int,
        trust_domain: str,
        plan: LeafPlan,
        issuing: IssuingCA,
        deadline: float,
        bundles: Sequence[tuple[bytes, tuple[x509.Certificate, ...]]] = (),
    ) -> int | None:
        """Ask for a device's next CSR, its check, the leaf signed to ``plan``, and the
        leaf's path facts under each of ``bundles`` (``(fingerprint, certificates)``).

        ``issuing`` is the issuing CA the plan names (its certificate and key are sent
        once, like each bundle).  Answered as ``(csr_der, csr_check, leaf_der or
        None, ((fingerprint, facts), ...))``, or None when the helper reaches it after
        :meth:`tell_time` passed ``deadline`` (the simulation second the device asks).
        These requests wait behind path facts of installed leaves, needed sooner.
        """
        messages: list[tuple[Any, ...]] = []
        if plan.issuer not in self._issuers:
            key_der = issuing.key.private_bytes(
                Encoding.DER, PrivateFormat.PKCS8, NoEncryption()
            )
            messages.append(("issuer", plan.issuer,
                             issuing.certificate.public_bytes(Encoding.DER), key_der))
        fingerprints = []
        for fingerprint, certificates in bundles:
            if fingerprint not in self._bundles:
                ders = [c.public_bytes(Encoding.DER) for c in certificates]
                messages.append(("bundle", fingerprint, ders))
            fingerprints.append(fingerprint)
        # a tuple of plain values pickles far faster than a dataclass of aware datetimes
        plain = (plan.issuer, plan.device_id, plan.site, plan.serial,
                 naive_utc(plan.not_before), naive_utc(plan.not_after))  # fmt: skip
        token = self._request(
            messages, "leaf", deadline, key_type, scalar, trust_domain, plain,
            tuple(fingerprints), urgent=False,
        )  # fmt: skip
        if token is not None:
            self._issuers.add(plan.issuer)
            self._bundles.update(fingerprints)
        return token

    def _request(
        self, before: list[tuple[Any, ...]], tag: str, *args: Any, urgent: bool = True
    ) -> int | None:
        """Queue a request (sent once fewer than ``max_in_flight`` are outstanding); a token."""
        if self.dead or self.queued >= self.max_queued:
            return None
        token = self._next
        self._next += 1
        queue = self._urgent if urgent else self._deferred
        queue.append((before, (tag, token, *args)))
        self._pump()
        return None if self.dead else token

    def _pump(self, *, force: bool = False) -> None:
        """Send queued requests (urgent ones first) while fewer than ``max_in_flight`` are out.

        Requests that are not urgent wait until a few have gathered (one write for
        them all), unless ``force``, an urgent one goes too, or few are outstanding
        (the helper may be about to run out of work).
        """
        batch = len(self._deferred) >= _DEFERRED_BATCH or self._in_flight < _DEFERRED_BATCH
        if not (force or self._urgent or batch):
            return
        if self.queued and self._in_flight >= self.max_in_flight:
            self._read()
        out = bytearray()
        while self._in_flight < self.max_in_flight and not self.dead:
            queue = self._urgent or self._deferred
            if not queue:
                break
            before, request = queue.popleft()
            for message in before:  # bundles and issuers: needed by later requests too
                out += _frame(message)
            if request[1] in self._abandoned:  # taken before it was even sent
                self._abandoned.discard(request[1])
                continue
            out += _frame(request)
            self._in_flight += 1
            self.sent += 1
        if out:
            try:
                self._send_all(self._start(), bytes(out))
            except OSError:
                self.close()

    def tell_time(self, seconds: float) -> None:
        """The simulation has reached ``seconds``: leaves planned for earlier are skipped."""
        self._clock.value = seconds

    @staticmethod
    def _send_all(sock: socket.socket, data: bytes) -> None:
        # the worker reads between any two jobs, so a full buffer empties soon: wait
        # for room rather than drop half a frame
        sock.setblocking(True)
        try:
            sock.sendall(data)
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
        """Read every answer that has arrived (never waiting), then send what is queued."""
        self._read()
        self._pump(force=True)

    def _read(self) -> None:
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

    @property
    def queued(self) -> int:
        """Requests waiting to be sent."""
        return len(self._urgent) + len(self._deferred)

    def close(self) -> None:
        """Stop the worker (idempotent); nothing more is sent afterwards."""
        self.dead = True
        if self._finalizer is not None:
            self._finalizer()
        self._sock = None
        self._in_flight = 0
        self._ready.clear()
        self._abandoned.clear()
        self._urgent.clear()
        self._deferred.clear()
