"""One PACS service served over DICOM TLS by pynetdicom, decided by the hospital's Pacs.

pynetdicom's server is kept for what it does well (PDUs, ACSE, DIMSE) and changed
where REFERENCES.md "DICOM" measured it failing a hospital:

- **Handshake off the accept loop.**  pynetdicom wraps each accepted socket in TLS
  inside its accept loop, without a timeout: one client that connects and sends
  nothing stops every other.  Here the accept loop only accepts (``TCP_NODELAY`` on,
  the connection gate asked, a refused connection reset at once); the handshake runs
  in the connection's own thread with ``handshake_timeout``, with the context the
  site holds *now* (:class:`~testbed.live.dicom.tls.SiteContexts`).
- **Failed handshakes audited.**  pynetdicom drops them silently; here each is a
  ``request-refused`` tally (:mod:`testbed.live.refusals`) with its ``cause``
  (:func:`~testbed.live.dicom.tls.handshake_cause`).
- **Decisions from the core.**  The A-ASSOCIATE request (calling and called AE
  titles, the peer's certificate, the negotiated TLS version and suite, the peer's
  zone) is decided by the hospital's :class:`~testbed.dicom.DicomPath` (the network hop,
  then :meth:`Pacs.associate <testbed.pacs.pacs.Pacs.associate>`);
  C-ECHO, C-STORE and C-FIND by ``echo``, ``store_instance`` and ``find``.  Every
  call runs on the hospital's thread (:mod:`.calls`); each writes its own event.
- **Rejections that arrive.**  A refusal is sent as the core's A-ASSOCIATE-RJ and the
  association is then killed, so a TLS peer reads the RJ before the close.
- **Speed** (``make bench-dicom``).  The association runs in the connection's thread
  (no extra thread per association), shares the server's presentation contexts (no
  deep copy per association), offers only the SOP classes the PACS stores (pydicom
  validates every proposed UID), never runs pynetdicom's periodic full ``gc.collect()``
  in the accept loop, and ends without pynetdicom's 10 ms sleeps in ``kill``.

The zone: a peer from a zone's loopback address (:class:`~testbed.live.zones.ZoneAddresses`)
is in that zone (``zone_from: "source"`` on its ``dicom-association`` event).  dcmtk
cannot choose its source address, so every dcmtk peer comes from ``127.0.0.1``, which
is no zone's: for that address the acceptor cannot know the zone and takes the zone of
the device the CA issued the certificate to (else of the device the calling AE title
belongs to), ``zone_from: "registration"``, so the network hop is not exercised for
such peers (docs/pacs.md, "Zones").  A peer from *another* zone's address is placed
there and refused by the network hop or the PACS (``ae-title-wrong-zone``); one from
an address that is no zone's, other than ``127.0.0.1``, is in none
(``zone_from: "none"``).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from cryptography import x509
from pydicom.dataset import Dataset
from pynetdicom import AE, evt
from pynetdicom._globals import MODE_ACCEPTOR
from pynetdicom.association import Association as NetAssociation
from pynetdicom.transport import RequestHandler, ThreadedAssociationServer

from testbed.dicom import DicomPath
from testbed.live.dicom.bounds import BoundedSocket
from testbed.live.dicom.calls import Calls
from testbed.live.dicom.instances import StorageFull
from testbed.live.dicom.tls import HandshakeCause, handshake_cause
from testbed.live.gate import Cap, ConnectionGate
from testbed.live.limits import Limits
from testbed.live.peer import peer_certificate
from testbed.live.refusals import Refusal
from testbed.pacs import Association, AssociationRequest, Pacs, StoreRequest, ZoneFrom
from testbed.pacs.ae_title import canonical_ae_title, invalid_ae_title
from testbed.pacs.dataset import REQUIREMENTS
from testbed.pacs.echo import VERIFICATION_SOP_CLASS
from testbed.pacs.query import STUDY_ROOT_FIND, FindRequest
from testbed.pacs.tls_profile import SuiteFamily, TlsOffer, TlsVersion

__all__ = ["AcceptorPlan", "DicomAcceptor", "tls_offer"]

_logger = logging.getLogger(__name__)
_RESET = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends a reset
_VERSIONS = {"TLSv1": TlsVersion.TLS1_0, "TLSv1.1": TlsVersion.TLS1_1,
             "TLSv1.2": TlsVersion.TLS1_2, "TLSv1.3": TlsVersion.TLS1_3}  # fmt: skip
LOOPBACK = "127.0.0.1"

Source = tuple[str, str] | None


@dataclass(frozen=True, slots=True)
class AcceptorPlan:
    """What one acceptor needs from the live server (all calls are thread-safe)."""

    dicom: DicomPath  # the hospital's one DICOM entry (testbed.dicom)
    service: str
    context: Callable[[], ssl.SSLContext]  # the site's TLS context for a new handshake
    calls: Calls  # runs a core call on the hospital's thread
    now: Callable[[], datetime]
    zone_of: Callable[[str], Source]  # a peer address's (site, zone), None: no zone's
    # (source, why): tally it; why: a handshake's cause, a cap, or a refusal of the
    # association's transport with its detail (a PDU too large, a stalled read)
    refused: Callable[[str, HandshakeCause | Cap | tuple[Refusal, str]], None]
    gate: ConnectionGate
    limits: Limits

    @property
    def pacs(self) -> Pacs:
        """The PACS this acceptor serves."""
        return self.dicom.pacs[self.service]

    @property
    def listener(self) -> str:
        """The name of this acceptor's listener (connection caps and tallies)."""
        return f"dicom:{self.service}"


def tls_offer(sock: ssl.SSLSocket) -> TlsOffer:
    """What a finished handshake agreed, as the core's :class:`TlsOffer`."""
    version = _VERSIONS.get(sock.version() or "", TlsVersion.TLS1_0)
    cipher = (sock.cipher() or ("", "", 0))[0]
    if version is TlsVersion.TLS1_3 or (
        "ECDHE" in cipher and ("GCM" in cipher or "CHACHA20" in cipher)
    ):
        family = SuiteFamily.ECDHE_AEAD
    elif "ECDHE" in cipher:
        family = SuiteFamily.ECDHE_CBC
    else:
        family = SuiteFamily.RSA
    return TlsOffer(frozenset({version}), frozenset({family}))


class _Association(NetAssociation):
    """pynetdicom's association, killed without its 10 ms polling sleep; notes whether
    an abort was its idle timer's (``network_timeout``), which a close cannot tell: the
    peer's answer to the A-ABORT restarts that timer."""

    idle_abort = False

    def _abort_blocking(self, block: bool = True) -> None:
        # every abort comes here (pynetdicom rebinds ``abort`` inside its handlers)
        if self.dul.idle_timer_expired():
            self.idle_abort = True
        super()._abort_blocking(block)

    def kill(self) -> None:
        self._reactor_checkpoint.set()
        self._kill = True
        self.is_established = False
        self._is_paused = True
        while self.dul.is_alive() and not self.dul.stop_dul():
            time.sleep(0.0005)


TRANSIENT_CONGESTION = (2, 3, 1)
"""A-ASSOCIATE-RJ result, source, diagnostic (PS3.8 §9.3.4): rejected (transient), by
the service provider (presentation), temporary congestion."""

T = TypeVar("T")


def decided(calls: Calls, decide: Callable[[], T]) -> T | None:
    """The core's answer to ``decide``, run on the hospital's thread, or None when none
    could be had (the thread held past the wait, so the call never runs, or the call
    raised): the caller refuses.  Failing closed matters here: pynetdicom swallows an
    error raised in an ``EVT_REQUESTED`` handler and then accepts the association by
    itself."""
    try:
        return calls(decide)
    except Exception:
        _logger.exception("no decision on an association could be had")
        return None


class _Handler(RequestHandler):
    """Runs the association in the connection's own thread (no thread of its own),
    sharing the server's presentation contexts instead of a deep copy of them per
    association (negotiation only reads them: it builds new result contexts)."""

    def handle(self) -> None:
        assoc = self._create_association()
        evt.trigger(assoc, evt.EVT_CONN_OPEN, {"address": self.client_address})
        assoc.run()

    def _create_association(self) -> NetAssociation:
        server = self.server
        assoc = _Association(self.ae, MODE_ACCEPTOR)
        assoc._server = server
        assoc.name = f"AcceptorThread@{server.ae_title}"
        assert isinstance(server, _Server)  # the only server that makes this handler
        plan, source = server.acceptor.plan, str(self.client_address[0])
        assoc.set_socket(BoundedSocket(
            assoc, self.request, read_timeout=plan.limits.idle_timeout,
            max_dataset=plan.limits.dataset_bytes,
            refused=lambda why, detail: plan.calls.soon(
                lambda: plan.refused(source, (why, detail))),
        ))  # fmt: skip
        acceptor = assoc.acceptor
        acceptor.maximum_length = self.ae.maximum_pdu_size
        acceptor.ae_title = server.ae_title
        acceptor.address_info = self.local
        acceptor.implementation_class_uid = self.ae.implementation_class_uid
        acceptor.implementation_version_name = self.ae.implementation_version_name
        acceptor.supported_contexts = server.contexts  # shared, not copied
        assoc.requestor.address_info = self.remote
        bindings: dict[Any, Any] = server._handlers
        for event, bound in bindings.items():
            if event.is_intervention and bound:
                assoc.bind(event, *bound)
            elif isinstance(event, evt.NotificationEvent):
                for handler, args in bound:
                    assoc.bind(event, handler, args)
        return assoc


class _Server(ThreadedAssociationServer):
    """pynetdicom's threaded server with the accept loop reduced to accepting."""

    daemon_threads = True
    block_on_close = False
    acceptor: DicomAcceptor

    def get_request(self) -> tuple[socket.socket, tuple[str, int]]:
        assert self.socket is not None  # bound in __init__
        sock, address = self.socket.accept()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock, address

    def verify_request(self, request: Any, client_address: Any) -> bool:
        return self.acceptor.admit(request, str(client_address[0]))

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        self.acceptor.serve_connection(request, client_address, self)

    def service_actions(self) -> None:
        """Nothing: pynetdicom runs ``gc.collect()`` here every 60 passes of the accept
        loop, a full collection of the whole hospital's heap (100-200 ms holding the
        GIL) in the middle of other devices' associations."""

    def shutdown_request(self, request: Any) -> None:
        with contextlib.suppress(OSError):
            request.shutdown(socket.SHUT_RDWR)
        request.close()


class DicomAcceptor:
    """The DICOM TLS acceptor of one PACS service (see the module docstring)."""

    def __init__(self, plan: AcceptorPlan, *, host: str = LOOPBACK, port: int = 0) -> None:
        self.plan = plan
        self._open: dict[int, Association] = {}  # id(pynetdicom association) -> core's
        self._lock = threading.Lock()
        ae = AE(ae_title=plan.pacs.policy.endpoint.ae_title)
        ae.maximum_associations = plan.limits.per_listener
        ae.network_timeout = plan.limits.idle_timeout
        ae.acse_timeout = plan.limits.header_timeout
        ae.dimse_timeout = plan.limits.idle_timeout
        ae.require_called_aet = False  # the core decides, with its reason and event
        # the SOP classes the PACS stores (testbed.pacs.dataset), echo and find: a
        # presentation context for any other class is refused at negotiation
        for uid in (*REQUIREMENTS, VERIFICATION_SOP_CLASS, STUDY_ROOT_FIND):
            ae.add_supported_context(uid)
        self.ae = ae
        handlers: list[Any] = [
            (evt.EVT_REQUESTED, self._requested),
            (evt.EVT_C_ECHO, self._echo),
            (evt.EVT_C_STORE, self._store),
            (evt.EVT_C_FIND, self._find),
            (evt.EVT_CONN_CLOSE, self._closed),
        ]
        server = _Server(ae, (host, port), ae.ae_title, ae.supported_contexts,
                         None, handlers, _Handler)  # fmt: skip
        server.acceptor = self
        ae._servers.append(server)
        self.server = server
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port it listens on."""
        return int(self.server.server_address[1])

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread = threading.Thread(target=self.server.serve_forever,
                                        kwargs={"poll_interval": 0.5},
                                        name=f"dicom-accept-{self.plan.pacs.service}",
                                        daemon=True)  # fmt: skip
        self._thread.start()

    def stop(self) -> None:
        """Stop accepting and abort the open associations."""
        self.server.shutdown()
        for assoc in self.server.active_associations:
            assoc.abort()
        if self._thread is not None:
            self._thread.join(timeout=5)

    # -- connections -------------------------------------------------------------

    def admit(self, sock: socket.socket, source: str) -> bool:
        """Ask the connection gate; a refused connection is reset at once and tallied."""
        plan = self.plan
        cap = plan.gate.admit(plan.listener, source)  # thread-safe: no hop to the loop
        if cap is None:
            return True
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET)
        sock.close()
        plan.calls.soon(lambda: plan.refused(source, cap))
        return False

    def serve_connection(self, sock: socket.socket, address: Any, server: _Server) -> None:
        """The connection's thread: the TLS handshake (bounded), then the association."""
        plan, source = self.plan, str(address[0])
        try:
            tls = self._handshake(sock, source)
            if tls is None:
                return
            tls.settimeout(None)  # pynetdicom polls with select; its timers bound idleness
            server.finish_request(tls, address)
        except Exception:
            _logger.exception("%s: association from %s failed", plan.listener, source)
        finally:
            with contextlib.suppress(OSError):
                sock.close()
            plan.gate.release(plan.listener, source)

    def _handshake(self, sock: socket.socket, source: str) -> ssl.SSLSocket | None:
        plan = self.plan
        try:
            context = plan.context()
        except TimeoutError as error:  # the hospital's thread, not the peer, was slow
            detail = f"no TLS context for the handshake: {error}"
            plan.calls.soon(lambda: plan.refused(source, (Refusal.SERVER_ERROR, detail)))
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET)
            return None
        sock.settimeout(plan.limits.handshake_timeout)
        try:
            tls = context.wrap_socket(sock, server_side=True,
                                      do_handshake_on_connect=False)  # fmt: skip
            tls.do_handshake()
        except (OSError, ValueError) as error:
            cause = handshake_cause(error)
            plan.calls.soon(lambda: plan.refused(source, cause))
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET)
            return None
        return tls

    # -- DICOM events --------------------------------------------------------------

    def _requested(self, event: evt.Event) -> None:
        """A-ASSOCIATE-RQ: the core decides; a refusal is sent as A-ASSOCIATE-RJ, then
        the association is killed so a TLS peer receives it."""
        assoc: NetAssociation = event.assoc
        plan = self.plan
        primitive = assoc.requestor.primitive
        calling = _title(primitive.calling_ae_title if primitive else "")
        called = _title(primitive.called_ae_title if primitive else "")
        sock = assoc.dul.socket.socket if assoc.dul.socket else None
        if not isinstance(sock, ssl.SSLSocket):  # never: every connection is TLS here
            assoc.acse.send_abort(0x02)
            return
        peer = str(assoc.requestor.address)
        source = plan.zone_of(peer)
        certificate = peer_certificate(sock)
        offer = tls_offer(sock)

        def decide() -> Any:
            zone, zone_from = source, ZoneFrom.SOURCE
            if zone is None and peer == LOOPBACK:  # dcmtk's only address: see above
                zone, zone_from = _own_zone(plan, certificate, calling), ZoneFrom.REGISTRATION
            if zone is None:
                zone_from = ZoneFrom.NONE
            request = AssociationRequest(
                calling_ae=calling,
                called_ae=called,
                certificate=certificate,
                source=zone,
                tls=offer,
                zone_from=zone_from,
            )
            return plan.dicom.associate(plan.service, request, now=plan.now())

        answer = decided(plan.calls, decide)
        if answer is None:  # no decision could be had: fail closed, never accept unasked
            detail = "no decision on the association could be had: refused, transient"
            plan.calls.soon(lambda: plan.refused(peer, (Refusal.SERVER_ERROR, detail)))
            assoc.acse.send_reject(*TRANSIENT_CONGESTION)
            assoc.kill()
            return
        if answer.association is not None:
            with self._lock:
                self._open[id(assoc)] = answer.association
            return
        rejection = answer.rejection
        assoc.acse.send_reject(rejection.result, rejection.source, rejection.diagnostic)
        assoc.kill()

    def _association(self, event: evt.Event) -> Association | None:
        with self._lock:
            return self._open.get(id(event.assoc))

    def _refuse(self, event: evt.Event, why: Refusal, detail: str) -> None:
        """Tally a refusal of what the association's peer sent (on the hospital's thread,
        whenever it is free)."""
        plan, peer = self.plan, str(event.assoc.requestor.address)
        plan.calls.soon(lambda: plan.refused(peer, (why, detail)))

    def _core(self, event: evt.Event, call: Callable[[], T], what: str) -> T | None:
        """``call`` on the hospital's thread, or None when it could not start within the
        wait (it never runs): a refusal tallied ``server-error``, so the peer's failure
        status is accounted for.  Either way the association's idle clock starts again
        as it answers (:func:`_answered`)."""
        try:
            return self.plan.calls(call)
        except TimeoutError as error:
            self._refuse(event, Refusal.SERVER_ERROR, f"{what} not decided: {error}")
            return None
        finally:
            _answered(event.assoc)

    def _echo(self, event: evt.Event) -> int:
        plan, held = self.plan, self._association(event)
        if held is None:
            return 0x0124
        answer = self._core(event, lambda: plan.dicom.echo(held, now=plan.now()), "C-ECHO")
        return _PROCESSING_FAILURE if answer is None else int(answer.status)

    def _store(self, event: evt.Event) -> int:
        plan, held = self.plan, self._association(event)
        if held is None:
            return 0x0124
        try:
            dataset = event.dataset
        except Exception as error:  # what pydicom could not read: the core never sees it
            self._refuse(event, Refusal.MALFORMED_DICOM,
                         f"C-STORE dataset not decodable: {type(error).__name__}: {error}")
            return _CANNOT_UNDERSTAND
        command: Any = event.request
        request = StoreRequest(
            held,
            dataset,
            sop_class_uid=str(command.AffectedSOPClassUID),
            sop_instance_uid=str(command.AffectedSOPInstanceUID),
        )
        try:
            answer = self._core(event, lambda: plan.dicom.store(request, now=plan.now()),
                                "C-STORE")  # fmt: skip
        except StorageFull as full:  # the PACS's bound, before anything was kept
            self._refuse(event, Refusal.STORAGE_FULL, f"C-STORE not kept: {full}")
            return _OUT_OF_RESOURCES
        except OSError as error:  # the disk refused the record (cut off again): not kept
            self._refuse(event, Refusal.SERVER_ERROR, f"C-STORE not kept: {error}")
            return _OUT_OF_RESOURCES
        return _OUT_OF_RESOURCES if answer is None else int(answer.status)

    def _find(self, event: evt.Event) -> Any:
        plan, held = self.plan, self._association(event)
        if held is None:
            yield 0x0124, None
            return
        identifier: Dataset = event.identifier
        request = FindRequest(
            held,
            study_uid=_key(identifier, "StudyInstanceUID"),
            series_uid=_key(identifier, "SeriesInstanceUID"),
            sop_instance_uid=_key(identifier, "SOPInstanceUID"),
        )
        answer = self._core(event, lambda: plan.pacs.find(request, now=plan.now()), "C-FIND")
        if answer is None:
            yield _OUT_OF_RESOURCES, None
            return
        for instance in answer.found:
            match = Dataset()
            match.QueryRetrieveLevel = "IMAGE"
            match.StudyInstanceUID = instance.study_uid
            match.SeriesInstanceUID = instance.series_uid
            match.SOPInstanceUID = instance.sop_instance_uid
            match.SOPClassUID = instance.sop_class_uid
            match.PatientID = instance.patient_id
            yield 0xFF00, match
        if not answer.decision.allowed:
            yield int(answer.status), None

    def _closed(self, event: evt.Event) -> None:
        """The connection closed: the core's association is released (queued: it must
        happen however busy the hospital's thread is); a close by one of pynetdicom's
        timers is tallied as the refusal it is."""
        with self._lock:
            held = self._open.pop(id(event.assoc), None)
        sock = event.assoc.dul.socket
        if not (isinstance(sock, BoundedSocket) and sock.refused_why is not None):
            timeout = _timed_out(event.assoc, self.plan.limits, established=held is not None)
            if timeout is not None:  # (a refusal of the socket's own was tallied there)
                self._refuse(event, *timeout)
        if held is not None:
            plan = self.plan

            def release() -> None:
                with contextlib.suppress(KeyError):
                    plan.dicom.release(held)

            plan.calls.soon(release)


def _answered(assoc: NetAssociation) -> None:
    """Start the association's idle clock (``network_timeout``) again as its handler
    answers: the peer was waiting for this answer, so the time the hospital took is not
    the peer's silence.  pynetdicom restarts that clock only when it receives, so a
    handler that took ``--idle-timeout`` had the association aborted right after its
    answer, tallied ``idle-timeout`` against the peer."""
    timer = getattr(assoc.dul, "_idle_timer", None)
    if timer is not None:
        timer.restart()


_PROCESSING_FAILURE = 0x0110  # PS3.7 C.4.2: the C-ECHO could not be processed
_OUT_OF_RESOURCES = 0xA700  # PS3.4 B.2.3, C.4.1.1.4: refused, out of resources
_CANNOT_UNDERSTAND = 0xC000  # PS3.4 B.2.3: error, cannot understand


def _timed_out(
    assoc: NetAssociation, limits: Limits, *, established: bool
) -> tuple[Refusal, str] | None:
    """Which of pynetdicom's timers closed ``assoc``, as a refusal (None: neither).

    The ARTIM timer (``acse_timeout``: ``--header-timeout``) runs from the connection
    until an A-ASSOCIATE-RQ arrives; the idle timer (``network_timeout``:
    ``--idle-timeout``) aborts an association that sends nothing."""
    dul = assoc.dul
    if not established and assoc.requestor.primitive is None and dul.artim_timer.expired:
        return Refusal.HEADER_TIMEOUT, (f"no A-ASSOCIATE-RQ within {limits.header_timeout:g} s "
                                        "of the connection")  # fmt: skip
    if established and isinstance(assoc, _Association) and assoc.idle_abort:
        return Refusal.IDLE_TIMEOUT, (f"the association sent nothing for "
                                      f"{limits.idle_timeout:g} s: aborted")  # fmt: skip
    return None


def _own_zone(plan: AcceptorPlan, certificate: x509.Certificate | None, calling_ae: str) -> Source:
    """The (site, zone) a ``127.0.0.1`` peer is taken to come from: that of the device
    the CA issued its certificate to (the identity the network hop checks), else that
    of the device its calling AE title belongs to at this PACS, else none."""
    access = plan.dicom.access
    if certificate is not None:
        issued = access.ca.record(access.leaves.facts(certificate).serial)
        if issued is not None and issued.device_id in access.inventory:
            device = access.inventory.entry(issued.device_id).record
            return (device.site, device.zone)
    if invalid_ae_title(calling_ae) is not None:
        return None
    entry = plan.dicom.allow_lists.current(plan.service).get(canonical_ae_title(calling_ae))
    return None if entry is None else entry.source


def _title(value: object) -> str:
    """An AE title as received (pynetdicom gives ``str``; trailing padding kept off)."""
    text = value.decode("ascii", "replace") if isinstance(value, bytes) else str(value)
    return text.rstrip(" ")


def _key(identifier: Dataset, keyword: str) -> str | None:
    value = identifier.get(keyword)
    return None if value in (None, "") else str(value)
