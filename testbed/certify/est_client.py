"""A small EST client (RFC 7030) over verified HTTPS: device-side code.

The shipped reference device (``fixtures/devices/reference``) enrolls and re-enrolls
with it, and the kit's recovery check (KIT-01) enrolls a probe device with it.  The
CSR is the project's device request (:func:`testbed.pki.keys.csr_der`); the server is
verified against the trust bundle the device was given, never skipped.
"""

from __future__ import annotations

import base64
import http.client
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs7

from testbed.pki.keys import PrivateKey, csr_der

__all__ = ["EstAnswer", "csr_body", "post", "read_certificates"]

TIMEOUT = 15.0


@dataclass(frozen=True, slots=True)
class EstAnswer:
    """An EST server's HTTP answer."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    @property
    def retry_after(self) -> int | None:
        """Seconds of ``Retry-After`` (a 202 or 503), if given as a number."""
        value = self.headers.get("retry-after", "")
        return int(value) if value.isdigit() else None

    @property
    def text(self) -> str:
        """The body as text (a refusal's explanation)."""
        return self.body.decode("utf-8", errors="replace").strip()


def csr_body(key: PrivateKey, common_name: str) -> bytes:
    """The body of a ``simpleenroll`` / ``simplereenroll``: base64 of the DER CSR."""
    return base64.encodebytes(csr_der(key, common_name))


def _context(ca_bundle: Path, client: tuple[Path, Path] | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(ca_bundle))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if client is not None:
        context.load_cert_chain(str(client[0]), str(client[1]))
    return context


def post(
    url: str,
    body: bytes,
    *,
    ca_bundle: Path,
    basic: tuple[str, str] | None = None,
    client: tuple[Path, Path] | None = None,
    context: ssl.SSLContext | None = None,
) -> EstAnswer:
    """POST a CSR to an EST operation URL (``.../simpleenroll``); the server must
    present a certificate the bundle validates for the URL's host (``ssl.SSLError``
    otherwise, as any connection failure raises ``OSError``).  ``context`` replaces
    the verifying one (a shipped faulty device uses it to show what EST-02 catches)."""
    parts = urlsplit(url)
    context = context or _context(ca_bundle, client)
    connection = http.client.HTTPSConnection(parts.hostname or "", parts.port or 443,
                                             context=context, timeout=TIMEOUT)  # fmt: skip
    headers = {"Content-Type": "application/pkcs10"}
    if basic is not None:
        token = base64.b64encode(f"{basic[0]}:{basic[1]}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    try:
        connection.request("POST", parts.path, body=body, headers=headers)
        answer = connection.getresponse()
        data = answer.read()
        return EstAnswer(answer.status, {k.lower(): v for k, v in answer.getheaders()}, data)
    finally:
        connection.close()


def read_certificates(body: bytes) -> list[x509.Certificate]:
    """The certificates of a certs-only answer (base64 of DER PKCS#7); ``ValueError``
    when it is not one."""
    return pkcs7.load_der_pkcs7_certificates(base64.b64decode(body))
