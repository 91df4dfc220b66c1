"""One accepted connection, guarded: timeouts, a bounded request head, a lean TLS buffer.

:class:`GuardedProtocol` sits between the transport and aiohttp's request handler
(which it drives unchanged).  It closes a connection that has not sent a whole
request head (up to the blank line) within ``header_timeout`` seconds of its first
byte (the first request: of the connection), or whose head passes ``head_bytes``
(431), one that sends nothing for ``idle_timeout`` seconds (before a head, or
inside a request's body), and one whose request is not answered within
``request_timeout`` seconds of its head's end (a body trickled slower than the idle
timeout, or an answer that slow); each is a refusal, except an idle close after a
request was answered (a keep-alive that ran out).  On a
kept-alive connection the bytes that arrive after an answer was written begin the
next head, with its own clock (pipelined requests, sent before the answer, are
bounded by aiohttp's own line and header limits: a 400, audited through
:mod:`testbed.live.http_errors`).

:class:`LeanTls` is asyncio's server-side TLS protocol with a 16 KiB read buffer (one
TLS record) instead of 256 KiB: that buffer is allocated for every accepted
connection, before its handshake, and was most of an idle connection's cost.  A
handshake that fails, times out (``handshake_timeout``) or is abandoned is a
refusal with OpenSSL's reason (:func:`handshake_failure`).
"""

from __future__ import annotations

import asyncio
import ssl
from asyncio import sslproto
from collections.abc import Callable, Iterable
from typing import Any, cast

from testbed.live.limits import Limits
from testbed.live.refusals import Refusal

__all__ = ["GuardedProtocol", "LeanTls", "Refuse", "handshake_failure"]

Refuse = Callable[[Refusal, str], None]
"""Notes a refusal of this connection: (reason, detail)."""

_END_OF_HEAD = b"\r\n\r\n"
_CONTINUE = b"HTTP/1.1 100"
_TOO_LARGE = (b"HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n"
              b"Content-Length: 0\r\n\r\n")  # fmt: skip


class GuardedProtocol(asyncio.Protocol):
    """Wraps the request handler ``inner`` of one connection (see the module docstring).

    ``on_lost`` is called once when the connection closes (None when an outer TLS
    protocol releases the connection instead).
    """

    def __init__(
        self,
        inner: asyncio.Protocol,
        *,
        limits: Limits,
        refuse: Refuse,
        on_lost: Callable[[], None] | None,
    ) -> None:
        self.inner = inner
        self.limits = limits
        self.refuse = refuse
        self.on_lost = on_lost
        self.started = False  # connection_made was called (a TLS handshake completed)
        self._transport: asyncio.Transport | None = None
        self._head = 0  # bytes of the current request head so far
        self._head_done = False
        self._answered = False  # written to since the last head was whole
        self._header_timer: asyncio.TimerHandle | None = None
        self._request_timer: asyncio.TimerHandle | None = None
        self._tail = b""  # the last bytes seen, for an end of head split across reads
        self._last = 0.0
        self._timers: list[asyncio.TimerHandle] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Start the header and idle clocks and hand the connection to the handler."""
        self.started = True
        self._transport = cast(asyncio.Transport, transport)  # a stream connection
        loop = asyncio.get_running_loop()
        self._last = loop.time()
        self._header_timer = loop.call_later(self.limits.header_timeout, self._header_timeout)
        self._timers = [loop.call_later(self.limits.idle_timeout, self._idle_check)]
        self._watch_writes(self._transport)
        self.inner.connection_made(transport)

    def _watch_writes(self, transport: asyncio.Transport) -> None:
        """Note when the handler writes (an answer), so the next bytes start a head."""
        write, writelines = transport.write, transport.writelines

        def watched_write(data: bytes | bytearray | memoryview) -> None:
            # an interim "100 Continue" is not the answer: the body still follows
            if not bytes(data[:12]).startswith(_CONTINUE):
                self._answer_started()
            write(data)

        def watched_writelines(lines: Iterable[Any]) -> None:
            self._answer_started()
            writelines(lines)

        transport.write = watched_write  # type: ignore[method-assign]
        transport.writelines = watched_writelines  # type: ignore[method-assign,assignment]

    def _answer_started(self) -> None:
        self._answered = True
        if self._request_timer is not None:
            self._request_timer.cancel()
            self._request_timer = None

    def _next_head(self) -> None:
        """Bytes after an answer on a kept-alive connection: a new head, a new clock."""
        self._head_done, self._answered, self._head, self._tail = False, False, 0, b""
        loop = asyncio.get_running_loop()
        self._header_timer = loop.call_later(self.limits.header_timeout, self._header_timeout)

    def data_received(self, data: bytes) -> None:
        """Bound and time each head, then pass the bytes on."""
        self._last = asyncio.get_running_loop().time()
        if self._head_done and self._answered:
            self._next_head()
        if not self._head_done:
            seen = self._tail + data
            if _END_OF_HEAD in seen:
                self._head_done = True
                self._answered = False
                if self._header_timer is not None:
                    self._header_timer.cancel()
                self._request_timer = asyncio.get_running_loop().call_later(
                    self.limits.request_timeout, self._request_timeout)
            else:
                self._head += len(data)
                self._tail = seen[-3:]
                if self._head > self.limits.head_bytes:
                    detail = (f"no end of the request head in {self._head} bytes "
                              f"(at most {self.limits.head_bytes})")  # fmt: skip
                    self._close(Refusal.HEAD_TOO_LARGE, detail, answer=_TOO_LARGE)
                    return
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        """As the handler says."""
        return self.inner.eof_received()

    def pause_writing(self) -> None:
        """Flow control, passed on."""
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        """Flow control, passed on."""
        self.inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        """Stop the clocks, tell the handler, release the connection's place."""
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        for held in (self._header_timer, self._request_timer):
            if held is not None:
                held.cancel()
        self.inner.connection_lost(exc)
        if self.on_lost is not None:
            self.on_lost()

    def _header_timeout(self) -> None:
        if not self._head_done:
            self._close(Refusal.HEADER_TIMEOUT, "no whole request head within "
                        f"{self.limits.header_timeout:g} s")  # fmt: skip

    def _request_timeout(self) -> None:
        self._request_timer = None
        if self._head_done and not self._answered:
            self._close(Refusal.REQUEST_TIMEOUT, "no answer within "
                        f"{self.limits.request_timeout:g} s of the request head (its body "
                        "not all sent, or its answer that slow)")  # fmt: skip

    def _idle_check(self) -> None:
        loop = asyncio.get_running_loop()
        quiet = loop.time() - self._last
        if quiet < self.limits.idle_timeout:
            self._timers.append(loop.call_later(self.limits.idle_timeout - quiet,
                                                self._idle_check))  # fmt: skip
            return
        if self._head_done and self._answered:  # a kept-alive connection ran out
            self._close(None, "")
        elif self._head_done:  # a head, then nothing and no answer: refused, with the reason
            self._close(Refusal.IDLE_TIMEOUT, "the request's body stopped (or its answer "
                        f"took longer): nothing sent for {self.limits.idle_timeout:g} s "
                        "after the head, and no answer yet")  # fmt: skip
        else:
            self._close(Refusal.IDLE_TIMEOUT, f"nothing sent for {self.limits.idle_timeout:g} s")

    def _close(self, reason: Refusal | None, detail: str, *, answer: bytes = b"") -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        if reason is not None:
            self.refuse(reason, detail)
        if answer:
            transport.write(answer)
        transport.close()


class LeanTls(sslproto.SSLProtocol):
    """Server-side TLS with a one-record read buffer; on losing the connection it
    notes a failed handshake and releases the connection's place (``on_lost``)."""

    max_size = 16 * 1024 + 256  # one TLS record's plaintext and then some

    def __init__(
        self,
        app: GuardedProtocol,
        context: ssl.SSLContext,
        *,
        handshake_timeout: float,
        on_lost: Callable[[], None],
    ) -> None:
        # no waiter: the outcome of the handshake is read in connection_lost
        super().__init__(asyncio.get_running_loop(), app, context,
                         None,  # type: ignore[arg-type]
                         server_side=True,
                         ssl_handshake_timeout=handshake_timeout)  # type: ignore[arg-type]  # fmt: skip
        self.app = app
        self.on_lost = on_lost

    def connection_lost(self, exc: BaseException | None) -> None:
        """A connection whose handshake never completed is refused, with OpenSSL's reason."""
        try:
            super().connection_lost(exc)
        finally:
            if not self.app.started:
                self.app.refuse(Refusal.TLS_HANDSHAKE, handshake_failure(exc))
            self.on_lost()


def handshake_failure(error: BaseException | None) -> str:
    """OpenSSL's reason for a failed handshake (its verify reason and code for a
    client certificate it refused), or what else ended it."""
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"certificate verify failed: {error.verify_message} ({error.verify_code})"
    if isinstance(error, ssl.SSLError):
        return f"TLS error: {error.reason or error}"
    if isinstance(error, ConnectionAbortedError):
        return "handshake timeout"
    if error is None:
        return "closed before the handshake completed"
    return f"connection error during the handshake: {error}"
