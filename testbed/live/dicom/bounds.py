"""The bounds pynetdicom's PDU reader lacks, on the association's socket.

pynetdicom reads whatever length a PDU declares into memory, waits inside a PDU with no
timer able to fire, and gathers a message's command set and dataset whole in memory
before any handler sees them.  :class:`BoundedSocket` ends the connection at each of
these, and tallies why (:class:`~testbed.live.refusals.Refusal`).

pynetdicom also goes on reading and decoding while the association's thread waits in a
handler, and queues each decoded message without limit, so a peer that sends requests
without waiting for the answers (beyond the one operation at a time it negotiated,
PS3.7 D.3.3.3) would hold as many messages in memory as it sent.  The socket stops
reading while :data:`MAX_QUEUED_MESSAGES` wait: the peer's own TCP window fills, and it
waits.  That is flow control, not a refusal: nothing is tallied, and each request is
answered in its turn.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable

from pynetdicom.association import Association as NetAssociation
from pynetdicom.transport import AssociationSocket

from testbed.live.refusals import Refusal

__all__ = ["MAX_COMMAND_BYTES", "MAX_PDU_BYTES", "MAX_QUEUED_MESSAGES", "BoundedSocket"]

MAX_PDU_BYTES = 256 * 1024
"""The largest PDU an acceptor reads (a P-DATA-TF is at most the maximum PDU length it
offers, 16 KiB; an A-ASSOCIATE-RQ a few KiB): pynetdicom would read any length a peer
declares, up to 4 GiB, into memory before anything is decided."""


_P_DATA_TF = 0x04
_PDV_HEAD = struct.Struct(">LBB")  # item length, presentation context ID, control header

MAX_COMMAND_BYTES = 64 * 1024
"""The largest command set an acceptor gathers (a DIMSE command is a few hundred
bytes; pynetdicom gathers its fragments in memory until the last one, however many)."""

MAX_QUEUED_MESSAGES = 1
"""Decoded messages that may wait for the association's thread before the socket stops
reading: a peer keeping to the one operation at a time the acceptor negotiates never has
one waiting, so an association holds at most the message a handler has, this one, and
the one being gathered (each within its caps)."""


class BoundedSocket(AssociationSocket):
    """pynetdicom's association socket with the bounds its reader lacks: a PDU whose
    declared length is above :data:`MAX_PDU_BYTES` ends the connection before it is
    read, and so does a PDU whose bytes stop coming for ``read_timeout`` (pynetdicom's
    timers cannot fire while its reader waits inside a PDU), and a message whose
    fragments (P-DATA-TF PDVs) pass ``max_dataset`` bytes of dataset or
    :data:`MAX_COMMAND_BYTES` of command (pynetdicom gathers each whole in memory
    before any handler sees it).  Each is tallied, with its reason, through
    ``refused``; :attr:`refused_why` keeps it, so the close it causes is not tallied
    again.

    pynetdicom reads a PDU as two calls: its 6-byte header, then its body; the body of
    a P-DATA-TF is read here for its PDV items' lengths and control headers (PS3.8
    §9.3.5.1, E.2: bit 0 command, bit 1 last fragment)."""

    def __init__(self, assoc: NetAssociation, client_socket: socket.socket, *,
                 read_timeout: float, max_dataset: int,
                 refused: Callable[[Refusal, str], None]) -> None:  # fmt: skip
        super().__init__(assoc, client_socket=client_socket)
        self._read_timeout = read_timeout
        self._caps = (max_dataset, MAX_COMMAND_BYTES)  # by the control header's bit 0
        self._refused = refused
        self.refused_why: Refusal | None = None
        self._body_of: int | None = None  # the type of the PDU whose body comes next
        self._gathered = [0, 0]  # bytes of the dataset and of the command so far

    def _refuse(self, why: Refusal, detail: str) -> None:
        self.refused_why = why
        self._refused(why, detail)

    @property
    def ready(self) -> bool:
        """Whether to read now: pynetdicom's answer (bytes are waiting), unless
        :data:`MAX_QUEUED_MESSAGES` decoded messages already wait for a handler."""
        if self.assoc.dimse.msg_queue.qsize() >= MAX_QUEUED_MESSAGES:
            return False
        return bool(super().ready)

    def recv(self, nr_bytes: int) -> bytearray:
        if nr_bytes > MAX_PDU_BYTES:
            self._refuse(Refusal.PDU_TOO_LARGE,
                         f"a PDU of {nr_bytes} bytes declared; at most {MAX_PDU_BYTES}")
            raise OSError(f"PDU of {nr_bytes} bytes refused")
        sock = self.socket
        if sock is not None:
            sock.settimeout(self._read_timeout)
        try:
            data = super().recv(nr_bytes)
        except TimeoutError:
            self._refuse(Refusal.IDLE_TIMEOUT,
                         f"no byte of a PDU's {nr_bytes} for {self._read_timeout:g} s")
            raise
        body_of, self._body_of = self._body_of, None
        if body_of is None:
            self._body_of = data[0] if len(data) == 6 else None  # a header: its body next
        elif body_of == _P_DATA_TF:
            self._count(data)
        return data

    def _count(self, body: bytearray) -> None:
        offset = 0
        while offset + _PDV_HEAD.size <= len(body):
            length, _, control = _PDV_HEAD.unpack_from(body, offset)
            part = control & 0x01  # 0: a dataset fragment, 1: a command fragment
            self._gathered[part] += max(length - 2, 0)
            if self._gathered[part] > self._caps[part]:
                what = "command set" if part else "dataset"
                self._refuse(Refusal.MESSAGE_TOO_LARGE,
                             f"a {what} of more than {self._caps[part]} bytes "
                             f"({self._gathered[part]} so far)")  # fmt: skip
                raise OSError(f"{what} too large")
            if control & 0x02:  # its last fragment
                self._gathered[part] = 0
            offset += 4 + length
