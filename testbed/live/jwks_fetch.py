"""Live mode's JWKS fetcher: the identity provider reads a client's JWKS URL over HTTPS.

:class:`HttpsFetcher` is the :data:`~testbed.smart.jwks.Fetcher` of ``testbed serve``
(the core's :class:`~testbed.smart.jwks.JwksCache` calls it when its copy is missing or
stale): one ``GET`` with ``Accept: application/json`` (SMART App Launch 2.2), a
timeout, a size limit, the server certificate checked against a trust store, and the
answer's ``Cache-Control: max-age`` returned so the cache keeps the set no longer than
the client allows (``no-store`` and ``no-cache`` keep nothing).  Any failure (not
HTTPS, not loopback, refused, timed out, not 200, too large) raises
:class:`~testbed.smart.jwks.JwksError`, which the IdP answers ``invalid_client``
``jwks-unavailable``.

Live mode is a loopback testbed: a URL whose host is not a loopback address
(``127.0.0.0/8``, ``::1``, ``localhost``) is refused without a connection, so a
registered URL cannot make the hospital reach out to the network.

A fetch takes at most ``timeout`` (a few seconds by default) in all: a deadline
closes the connection then, however the server trickles its bytes (a per-read timeout
alone would let a server that sends a byte every few seconds hold a fetch for as long
as it likes).  The core asks for keys in the middle of a token request, which the
server answers on its event loop; so :class:`OffLoopFetcher` fetches the URL the
request will need (:meth:`~testbed.smart.idp.IdentityProvider.jwks_due`) on one of
its own few threads first (one fetch per URL at a time, shared by the requests that
need it), and hands the core that answer: a slow JWKS server (or one that says
``no-store``, so that every token request fetches again, as SMART asks) delays the
token requests of its own client, and of other clients whose URLs wait for a thread
while more than :data:`FETCH_THREADS` slow ones are fetched, not the server's other
requests.  Operators register the
URLs; a client cannot choose one at request time (``jku`` must equal the registered
URL), but any token request that names such a client while the cache holds no fresh
copy makes one fetch.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import ipaddress
import re
import socket
import ssl
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlsplit

from testbed.smart.jwks import ACCEPT, Fetched, Fetcher, JwksError

__all__ = ["FETCH_THREADS", "HttpsFetcher", "OffLoopFetcher", "max_age_of"]

FETCH_THREADS = 4
"""Threads fetching JWKS URLs at once (more token requests needing a fetch wait)."""

_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d{1,10})\"?\s*(?:,|$)", re.IGNORECASE)
_NO_KEEP = re.compile(r"(?:^|,)\s*(?:no-store|no-cache)\s*(?:,|$)", re.IGNORECASE)


def max_age_of(cache_control: str | None) -> int | None:
    """The seconds ``Cache-Control`` lets a cache keep an answer: ``max-age``, 0 for
    ``no-store``/``no-cache``, None when it says neither (RFC 9111 §5.2.2)."""
    if cache_control is None:
        return None
    if _NO_KEEP.search(cache_control):
        return 0
    match = _MAX_AGE.search(cache_control)
    return None if match is None else int(match.group(1))


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class HttpsFetcher:
    """GET a JWKS URL on loopback over HTTPS (see the module docstring).

    ``context``: the TLS client context (which CAs sign the JWKS servers' certificates;
    hostname checked); ``timeout``: seconds for the whole fetch (connection and reads);
    ``max_bytes``: the largest key set accepted.
    """

    context: ssl.SSLContext
    timeout: float = 3.0
    max_bytes: int = 64 * 1024

    def __call__(self, url: str) -> Fetched:
        """The body and ``max-age`` of ``url``; :class:`JwksError` on any failure."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        if parts.scheme != "https" or not _loopback(host):
            raise JwksError(f"JWKS URL {url!r}: expected https:// on a loopback address "
                            "(live mode reaches nothing else)")  # fmt: skip
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connection = http.client.HTTPSConnection(host, parts.port or 443, timeout=self.timeout,
                                                 context=self.context)  # fmt: skip
        cut = threading.Event()

        def cut_now() -> None:  # the deadline: a read blocked on the socket returns
            cut.set()
            sock = connection.sock
            if sock is not None:
                with contextlib.suppress(OSError):  # closed already
                    sock.shutdown(socket.SHUT_RDWR)

        deadline = threading.Timer(self.timeout, cut_now)
        deadline.daemon = True
        deadline.start()
        try:
            connection.request("GET", path, headers={"Accept": ACCEPT})
            answer = connection.getresponse()
            body = answer.read(self.max_bytes + 1)
        except (OSError, ValueError, http.client.HTTPException) as error:
            why = f"took longer than {self.timeout:g} s in all" if cut.is_set() else str(error)
            raise JwksError(f"JWKS URL {url!r} could not be fetched: {why}") from None
        finally:
            deadline.cancel()
            connection.close()
        if cut.is_set():  # the deadline fell during the last read: the body may be cut short
            raise JwksError(f"JWKS URL {url!r} could not be fetched: took longer than "
                            f"{self.timeout:g} s in all")  # fmt: skip
        if answer.status != 200:
            raise JwksError(f"JWKS URL {url!r} answered {answer.status}; expected 200")
        if len(body) > self.max_bytes:
            raise JwksError(f"JWKS URL {url!r} sent more than {self.max_bytes} bytes")
        return Fetched(body, max_age_of(answer.getheader("Cache-Control")))


class OffLoopFetcher:
    """A :data:`~testbed.smart.jwks.Fetcher` whose fetches are made ahead, on its own
    :data:`FETCH_THREADS` threads (see the module docstring).

    ``outcome = await prefetch(url)`` fetches ``url`` off the event loop (requests that
    need the same URL meanwhile wait for that one fetch) and gives the outcome: the
    answer, or the :class:`JwksError`.  ``with handing(url, outcome):`` around the
    core's synchronous answer makes its call for ``url`` take that outcome.  A call
    with nothing handed fetches on the caller's thread.
    """

    def __init__(self, fetch: Fetcher) -> None:
        self._fetch = fetch
        self._pool = ThreadPoolExecutor(FETCH_THREADS, thread_name_prefix="jwks-fetch")
        self._pending: dict[str, asyncio.Future[Fetched | JwksError]] = {}
        self._handed: dict[str, Fetched | JwksError] = {}
        #: fetches made on the pool's threads (tests read it)
        self.ahead = 0

    async def prefetch(self, url: str) -> Fetched | JwksError:
        """Fetch ``url`` on a pool thread, or wait for the fetch of it in progress."""
        pending = self._pending.get(url)
        if pending is None:
            loop = asyncio.get_running_loop()
            pending = loop.run_in_executor(self._pool, self._outcome, url)
            self._pending[url] = pending
            self.ahead += 1
            pending.add_done_callback(lambda _: self._pending.pop(url, None))
        return await asyncio.shield(pending)

    @contextlib.contextmanager
    def handing(self, url: str, outcome: Fetched | JwksError) -> Iterator[None]:
        """The core's calls for ``url`` within the block take ``outcome``."""
        self._handed[url] = outcome
        try:
            yield
        finally:
            self._handed.pop(url, None)

    def _outcome(self, url: str) -> Fetched | JwksError:
        try:
            return self._fetch(url)
        except JwksError as error:
            return error

    def __call__(self, url: str) -> Fetched:
        """The outcome handed for ``url``, else a fetch now."""
        outcome = self._handed.get(url)
        if outcome is None:
            return self._fetch(url)
        if isinstance(outcome, JwksError):
            raise outcome
        return outcome

    def close(self) -> None:
        """Stop the threads (a fetch in progress ends within its timeout)."""
        self._pool.shutdown(wait=False, cancel_futures=True)
