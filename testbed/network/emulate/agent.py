"""The small program an emulation runs inside a namespace: TCP listeners, or probes.

It is run as a script (``ip netns exec NS python agent.py listen|probe``), imports
only the standard library and reads its orders as one JSON line on standard input:

- ``listen``: ``{"endpoints": [[address, port], ...], "max_seconds": S}``; binds
  every endpoint, writes ``ready N`` and accepts (and closes) connections until its
  standard input closes or ``S`` seconds pass, so it stops by itself.
- ``probe``: ``{"flows": [[source, destination, port], ...], "timeout": T,
  "parallel": P}``; connects from each source address to each destination, at most
  ``P`` at a time, each within ``T`` seconds, and writes a JSON list of outcomes in
  order: ``open``, ``refused``, ``timeout`` or ``error:ERRNO``.
"""

from __future__ import annotations

import errno
import json
import selectors
import socket
import sys
import time
from typing import Any, cast

__all__ = ["listen", "probe"]


def listen(endpoints: list[list[Any]], max_seconds: float) -> None:
    """Listen on every endpoint until standard input closes or ``max_seconds`` pass."""
    selector = selectors.DefaultSelector()
    for address, port in endpoints:
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind((address, int(port)))
        server.listen(512)
        server.setblocking(False)
        selector.register(server, selectors.EVENT_READ, "server")
    selector.register(sys.stdin, selectors.EVENT_READ, "stdin")
    sys.stdout.write(f"ready {len(endpoints)}\n")
    sys.stdout.flush()
    deadline = time.monotonic() + max_seconds
    while (left := deadline - time.monotonic()) > 0:
        for key, _ in selector.select(timeout=left):
            if key.data == "stdin":
                if not sys.stdin.readline():
                    return
                continue
            try:
                conn, _peer = cast(socket.socket, key.fileobj).accept()
            except BlockingIOError:
                continue
            conn.close()


def probe(flows: list[list[Any]], timeout: float, parallel: int) -> list[str]:
    """The outcome of a TCP connect for each ``[source, destination, port]``."""
    outcomes = [""] * len(flows)
    selector = selectors.DefaultSelector()
    queue = list(enumerate(flows))
    queue.reverse()
    while queue or selector.get_map():
        while queue and len(selector.get_map()) < parallel:
            index, (source, destination, port) = queue.pop()
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            sock.bind((source, 0))
            code = sock.connect_ex((destination, int(port)))
            if code == errno.EINPROGRESS:
                selector.register(sock, selectors.EVENT_WRITE, (index, time.monotonic() + timeout))
            else:
                outcomes[index] = _outcome(code)
                sock.close()
        waiting = selector.get_map().values()
        if not waiting:
            continue
        soonest = min(key.data[1] for key in waiting)
        for key, _ in selector.select(timeout=max(0.0, soonest - time.monotonic())):
            sock = cast(socket.socket, key.fileobj)
            outcomes[key.data[0]] = _outcome(sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR))
            selector.unregister(sock)
            sock.close()
        now = time.monotonic()
        for key in list(selector.get_map().values()):
            if key.data[1] <= now:
                outcomes[key.data[0]] = "timeout"
                selector.unregister(key.fileobj)
                cast(socket.socket, key.fileobj).close()
    return outcomes


def _outcome(code: int) -> str:
    if code == 0:
        return "open"
    if code == errno.ECONNREFUSED:
        return "refused"
    return f"error:{errno.errorcode.get(code, code)}"


def main() -> None:
    """Read the orders, carry them out."""
    orders = json.loads(sys.stdin.readline())
    if sys.argv[1:] == ["listen"]:
        listen(orders["endpoints"], float(orders["max_seconds"]))
    elif sys.argv[1:] == ["probe"]:
        flows = orders["flows"]
        json.dump(probe(flows, float(orders["timeout"]), int(orders["parallel"])), sys.stdout)
    else:
        raise SystemExit(f"usage: {sys.argv[0]} listen|probe (orders as JSON on stdin)")


if __name__ == "__main__":
    main()
