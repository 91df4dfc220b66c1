"""A free loopback port for a peer that must be told its port (dcmtk ``storescp``,
Orthanc, a stock SCP), rather than binding port 0 itself.

The port is drawn at random below the kernel's ephemeral range
(``/proc/sys/net/ipv4/ip_local_port_range``, where client sockets get their local
ports), so another test's outgoing connection, on another xdist worker, cannot take
it between the pick and the peer's bind; a port something listens on already is
skipped.  Port 0 would give one from that very range.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

__all__ = ["free_port"]

_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_LOWEST = 20_000


def _ephemeral_start() -> int:
    try:
        return int(_RANGE.read_text(encoding="ascii").split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768  # Linux's default


def free_port(host: str = "127.0.0.1") -> int:
    """A port on ``host`` nothing is bound to now, below the ephemeral range."""
    top = max(_ephemeral_start(), _LOWEST + 1_000)
    draw = random.SystemRandom()
    for _ in range(200):
        port = draw.randrange(_LOWEST, top)
        with socket.socket() as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port on {host} in [{_LOWEST}, {top})")
