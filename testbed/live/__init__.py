"""Live mode: the scenario's hospital on loopback sockets, driven by real clients.

- :mod:`~testbed.live.hospital`: the CA, inventory, EST core and revocation over wall time.
- :mod:`~testbed.live.server`: the aiohttp apps (EST over HTTPS, CRL/OCSP, admin API).
- :mod:`~testbed.live.state`: the state directory clients read (endpoints, trust bundle).
- :mod:`~testbed.live.commands`: ``testbed serve`` and ``testbed devices``.

The package itself imports nothing, so ``testbed devices ...`` (an HTTP client of the
admin API) starts without loading the servers.
"""

from __future__ import annotations

__all__: list[str] = []
