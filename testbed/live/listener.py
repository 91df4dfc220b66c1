"""A listening socket with its own accept loop: admitted, guarded, or reset at once.

aiohttp's sites hand every accepted connection to the application and queue the rest
in the kernel; here each accepted connection first asks the
:class:`~testbed.live.gate.ConnectionGate`.  Above a cap it is closed with a TCP reset
at once (a refusal, audited), so a flood of idle connections cannot take the file
descriptors every service needs.  An admitted connection gets a
:class:`~testbed.live.guarded.GuardedProtocol` around aiohttp's request handler and,
on a TLS port, a :class:`~testbed.live.guarded.LeanTls` around that.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import struct

from aiohttp import web

from testbed.live.guard import Guard, source_of
from testbed.live.guarded import GuardedProtocol, LeanTls
from testbed.live.http_errors import AuditingLogger
from testbed.live.refusals import Refusal

__all__ = ["Listener", "app_runner"]

_logger = logging.getLogger(__name__)
_RESET = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends a reset
_AIOHTTP_KEEPALIVE = 3600.0  # seconds; the guard's idle timeout is shorter
_ACCEPT_PAUSE = 0.1  # seconds to wait after the system refused an accept (EMFILE...)


def app_runner(app: web.Application, guard: Guard, listener: str) -> web.AppRunner:
    """aiohttp's runner for one listener's app: its errors audited, request lines and
    headers bounded.  Its own keep-alive timer is set long: the connection's
    :class:`GuardedProtocol` closes idle connections (and audits those never used)."""

    def noted(reason: Refusal, source: str, status: int, detail: str) -> None:
        guard.refuse(reason, listener=listener, source=source, status=status, detail=detail)

    return web.AppRunner(app, access_log=None, logger=AuditingLogger(noted),
                         keepalive_timeout=_AIOHTTP_KEEPALIVE,
                         max_line_size=8190, max_field_size=8190, max_headers=64,
                         handle_signals=False)  # fmt: skip


class Listener:
    """One listening socket served by one aiohttp runner (set up), TLS or plain."""

    def __init__(
        self,
        name: str,
        sock: socket.socket,
        runner: web.AppRunner,
        guard: Guard,
        *,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.name = name
        self.sock = sock
        self.runner = runner
        self.guard = guard
        self.tls = tls
        self._open: set[asyncio.Transport] = set()
        self._connecting: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start accepting (the runner must be set up)."""
        self._task = asyncio.get_running_loop().create_task(self._accept())

    async def _accept(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, address = await loop.sock_accept(self.sock)
            except OSError as error:  # out of descriptors or memory: wait, never spin
                _logger.warning("%s: accept failed: %s", self.name, error)
                await asyncio.sleep(_ACCEPT_PAUSE)
                continue
            self._admit(conn, address)

    def _admit(self, conn: socket.socket, address: object) -> None:
        source = source_of(conn, address)
        cap = self.guard.gate.admit(self.name, source)
        if cap is not None:
            with contextlib.suppress(OSError):
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET)
            conn.close()
            limit = {"connection-cap-total": self.guard.limits.total,
                     "connection-cap-listener": self.guard.limits.per_listener,
                     "connection-cap-source": self.guard.limits.per_source}[cap.value]  # fmt: skip
            self.guard.refuse(Refusal(cap.value), listener=self.name, source=source,
                              detail=f"{limit} connections open")  # fmt: skip
            return
        if conn.family != socket.AF_UNIX:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.setblocking(False)
        task = asyncio.get_running_loop().create_task(self._connect(conn, source))
        self._connecting.add(task)
        task.add_done_callback(self._connecting.discard)

    async def _connect(self, conn: socket.socket, source: str) -> None:
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self.guard.gate.release(self.name, source)

        server = self.runner.server
        if server is None:  # the runner was cleaned up meanwhile
            conn.close()
            release()
            return

        def refuse(reason: Refusal, detail: str) -> None:
            self.guard.refuse(reason, listener=self.name, source=source, detail=detail)

        app = GuardedProtocol(server(), limits=self.guard.limits, refuse=refuse,
                              on_lost=release if self.tls is None else None)  # fmt: skip
        outer: asyncio.BaseProtocol = app
        if self.tls is not None:
            outer = LeanTls(app, self.tls, handshake_timeout=self.guard.limits.handshake_timeout,
                            on_lost=release)  # fmt: skip
        loop = asyncio.get_running_loop()
        try:
            transport, _ = await loop.connect_accepted_socket(lambda: outer, conn)
        except OSError:
            conn.close()
            release()
            return
        if not released:
            self._open.add(transport)
            previous = release

            def release_and_forget() -> None:
                self._open.discard(transport)
                previous()

            app.on_lost = release_and_forget if self.tls is None else None
            if isinstance(outer, LeanTls):
                outer.on_lost = release_and_forget

    @property
    def open(self) -> int:
        """Connections of this listener now open."""
        return self.guard.gate.of(self.name)

    async def stop(self) -> None:
        """Stop accepting, finish aiohttp's connections, abort the rest (handshakes)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.sock.close()
        await self.runner.cleanup()
        for transport in list(self._open):
            transport.abort()
        for task in list(self._connecting):
            task.cancel()
        await asyncio.sleep(0)  # the aborted connections' losses are noted before the last flush
