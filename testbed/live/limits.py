"""What one ``testbed serve`` may spend on its unauthenticated loopback peers.

Every listener (EST, CRL/OCSP, services, admin) admits at most ``per_listener``
open connections, all of them together at most ``total``, and one source address at
most ``per_source``; a connection above a cap is closed at once (a TCP reset), never
queued.  A connection that has not sent a whole request head within
``header_timeout`` seconds, or sends nothing for ``idle_timeout`` seconds, is
closed; a TLS handshake has ``handshake_timeout`` seconds, and a request
``request_timeout`` seconds from the end of its head to its answer (its body
included: a body trickled a byte at a time cannot hold a connection for days).
A request head is at most ``head_bytes`` and a body at most ``body_bytes`` (413
above it); a DICOM message's dataset at most ``dataset_bytes`` (the association is
closed above it), and a PACS service keeps at most ``stored_bytes`` of instances and
``stored_instances`` of them (0xA700 above); an EHR service at most
``stored_resources`` FHIR resources and ``stored_resource_bytes`` of them as JSON
(507 above).  With ``rate`` set, each source may
make ``rate`` requests a second on average (``burst`` at once); above it the answer
is 429 with ``Retry-After``.  Refusals are counted per source
and reason and written as one audit event each ``audit_interval`` seconds
(:mod:`testbed.live.refusals`).
"""

from __future__ import annotations

import math
import resource
from dataclasses import dataclass, fields

from testbed.errors import LiveError

__all__ = [
    "FD_HEADROOM",
    "MAX_STORED_BYTES",
    "MAX_STORED_INSTANCES",
    "MAX_STORED_RESOURCES",
    "MAX_STORED_RESOURCE_BYTES",
    "Limits",
    "raise_fd_limit",
]

MAX_STORED_BYTES = 4 << 30
"""The default bound of one PACS service's instance log (``--max-stored-bytes``)."""
MAX_STORED_INSTANCES = 100_000
"""The default bound of one PACS service's instances (``--max-stored-instances``): their
identities are held in memory (under 1 KiB each)."""

MAX_STORED_RESOURCES = 100_000
"""The default bound of one EHR service's FHIR resources (``--max-stored-resources``):
all of them are held in memory, 3-7 KB each as Python objects (measured)."""
MAX_STORED_RESOURCE_BYTES = 256 << 20
"""The default bound of one EHR service's resources as compact JSON
(``--max-stored-resource-bytes``); with the count's bound, under 1 GiB of memory."""

FD_HEADROOM = 64
"""File descriptors kept for what is not a connection: listeners, the audit log, the
state directory, the event loop."""


OPTIONS = {
    "total": "--max-connections", "per_listener": "--max-connections-per-listener",
    "per_source": "--max-connections-per-source", "header_timeout": "--header-timeout",
    "idle_timeout": "--idle-timeout", "handshake_timeout": "--handshake-timeout",
    "request_timeout": "--request-timeout", "body_bytes": "--max-body",
    "dataset_bytes": "--max-dataset", "stored_bytes": "--max-stored-bytes",
    "stored_instances": "--max-stored-instances",
    "stored_resources": "--max-stored-resources",
    "stored_resource_bytes": "--max-stored-resource-bytes", "rate": "--rate-limit",
    "burst": "--rate-burst", "audit_interval": "--audit-interval",
    "audit_log_bytes": "--audit-log-max-bytes",
}  # fmt: skip
"""The ``testbed serve`` option that sets each limit (``head_bytes`` has none)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """Caps, timeouts and sizes of the live servers (see the module docstring); each
    is ``testbed serve``'s option in :data:`OPTIONS`."""

    total: int = 512
    per_listener: int = 256
    per_source: int = 64
    header_timeout: float = 10.0
    idle_timeout: float = 30.0
    handshake_timeout: float = 10.0
    request_timeout: float = 60.0
    head_bytes: int = 16 * 1024
    body_bytes: int = 64 * 1024
    dataset_bytes: int = 16 * 1024 * 1024
    stored_bytes: int = MAX_STORED_BYTES
    stored_instances: int = MAX_STORED_INSTANCES
    stored_resources: int = MAX_STORED_RESOURCES
    stored_resource_bytes: int = MAX_STORED_RESOURCE_BYTES
    rate: float = 0.0
    burst: int = 20
    audit_interval: float = 10.0
    audit_log_bytes: int = 64 * 1024 * 1024

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            allowed_zero = field.name == "rate"
            if not math.isfinite(value) or value < 0 or (value == 0 and not allowed_zero):
                expected = "a number >= 0 (0: off)" if allowed_zero else "a positive number"
                option = OPTIONS.get(field.name)
                named = f"{option} (limit {field.name})" if option else f"limit {field.name}"
                raise LiveError(f"{named}: expected {expected}, got {value!r}")


def raise_fd_limit(limits: Limits) -> int:
    """Make room for ``limits.total`` connections in this process's file-descriptor
    limit (raising the soft limit up to the hard one); the soft limit now.

    :class:`LiveError` when even the hard limit is too low: the connection cap must
    trip before the process runs out of descriptors, or one flood stops every service.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = limits.total + FD_HEADROOM
    if soft != resource.RLIM_INFINITY and soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            raise LiveError(
                f"--max-connections {limits.total} needs {needed} file descriptors, but the "
                f"hard limit is {hard}; lower --max-connections to at most "
                f"{hard - FD_HEADROOM} or raise the limit (ulimit -n)"
            )
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
        soft = needed
    return int(soft)
