"""Who a live request or association comes from: its address and its client certificate.

A client certificate is read from the TLS connection's DER, and the same DER always
gives the same :class:`~cryptography.x509.Certificate` object while it is among the
:data:`MAX_INTERNED` most recently presented.  The core's caches (the access point's
leaf facts, the verifier's path facts) are keyed by certificate object, so a device
that presents its one certificate on every request (or every reconnection) adds no
entry to them; a certificate parsed anew per request added about 4 KB per request
until the caches' bound.
"""

from __future__ import annotations

import ssl
import threading
from collections import OrderedDict
from typing import Any

from cryptography import x509

__all__ = ["MAX_INTERNED", "certificate_of", "peer_address", "peer_certificate"]

MAX_INTERNED = 4096
"""The distinct client certificates kept parsed (the least recently presented goes)."""

_interned: OrderedDict[bytes, x509.Certificate] = OrderedDict()
_lock = threading.Lock()  # the event loop and the DICOM associations' threads share it


def certificate_of(der: bytes | None) -> x509.Certificate | None:
    """The certificate of ``der`` (None for none), one object per distinct DER."""
    if not der:
        return None
    with _lock:
        found = _interned.get(der)
        if found is not None:
            _interned.move_to_end(der)
            return found
        certificate = _interned[der] = x509.load_der_x509_certificate(der)
        if len(_interned) > MAX_INTERNED:
            _interned.popitem(last=False)
        return certificate


def peer_certificate(transport: Any) -> x509.Certificate | None:
    """The client certificate of an aiohttp request's transport, or of an
    :class:`ssl.SSLSocket` (None: no TLS, or no certificate presented)."""
    if transport is None:
        return None
    if isinstance(transport, ssl.SSLSocket):
        return certificate_of(transport.getpeercert(binary_form=True))
    ssl_object = transport.get_extra_info("ssl_object")
    return None if ssl_object is None else certificate_of(ssl_object.getpeercert(binary_form=True))


def peer_address(transport: Any) -> str | None:
    """The peer's IP address of a request's transport, or None."""
    peer = transport.get_extra_info("peername") if transport is not None else None
    return str(peer[0]) if peer else None
