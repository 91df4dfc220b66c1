"""Live mode: the scenario's hospital on loopback sockets, driven by real clients.

- :mod:`~testbed.live.hospital`: the CA, inventory, EST core and revocation over wall time.
- :mod:`~testbed.live.server`: the aiohttp apps (EST over HTTPS, CRL/OCSP, admin API).
- :mod:`~testbed.live.state`: the state directory clients read (endpoints, trust bundle).
- :mod:`~testbed.live.commands`: ``testbed serve`` and ``testbed devices``.
"""

from __future__ import annotations

from testbed.live.hospital import Bootstrap, LiveHospital, Registration, device_id_for
from testbed.live.server import LiveServer, Ports, run_until
from testbed.live.state import StateDir

__all__ = [
    "Bootstrap",
    "LiveHospital",
    "LiveServer",
    "Ports",
    "Registration",
    "StateDir",
    "device_id_for",
    "run_until",
]
