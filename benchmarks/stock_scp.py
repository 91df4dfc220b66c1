"""A stock pynetdicom TLS storage SCP that decides nothing: the benchmark's floor.

``python -m benchmarks.stock_scp PORT --cert C --key K --bundle B`` serves, with
pynetdicom's own ``AE.start_server`` (its accept loop, its handshake there, its
per-association thread and deep copy of the contexts, its periodic ``gc.collect()``:
nothing of the testbed's acceptor changed), the same TLS as the testbed's acceptor
(:func:`testbed.live.dicom.tls.acceptor_context`, the BCP 195 profile: TLS 1.2+,
ECDHE with AEAD suites, a client certificate required and its chain checked against
the bundle; no CRL, as dcmtk ``storescp`` has none and the acceptor leaves revocation
to the core) and the same SOP classes (the ones the PACS
stores, Verification and Study Root C-FIND; pynetdicom's default transfer syntaxes).
Every association is accepted, every C-STORE decodes its dataset and answers success:
no allow-list, no decision, no event, no storage.  What the testbed's acceptor costs
above it is the decision core, its events and the durable store.
"""

from __future__ import annotations

import argparse
import signal
import ssl
import sys
import threading
from pathlib import Path
from typing import Any

from pynetdicom import AE, evt

from testbed.live.dicom.tls import TrustMaterial, acceptor_context
from testbed.pacs.dataset import REQUIREMENTS
from testbed.pacs.echo import VERIFICATION_SOP_CLASS
from testbed.pacs.query import STUDY_ROOT_FIND
from testbed.pacs.tls_profile import TlsProfile

__all__ = ["main", "stock_context"]

AE_TITLE = "STOCKSCP"


def stock_context(*, cert: Path, key: Path, bundle: Path) -> ssl.SSLContext:
    """The testbed acceptor's BCP 195 context over ``bundle`` (the chain checked; time
    and revocation are the testbed core's, so this SCP checks neither)."""
    certificates = tuple(
        f"-----BEGIN CERTIFICATE-----{block}".encode()
        for block in bundle.read_text().split("-----BEGIN CERTIFICATE-----")[1:]
    )
    context = acceptor_context(server_cert=cert, server_key=key,
                               trust=TrustMaterial(certificates),
                               profile=TlsProfile.BCP195_NON_DOWNGRADING)  # fmt: skip
    return context


def _stored(event: evt.Event) -> int:
    event.dataset  # noqa: B018 -- decoded, as every acceptor must to store it
    return 0x0000


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("port", type=int)
    parser.add_argument("--cert", type=Path, required=True)
    parser.add_argument("--key", type=Path, required=True)
    parser.add_argument("--bundle", type=Path, required=True)
    args = parser.parse_args(argv)
    ae = AE(ae_title=AE_TITLE)
    for uid in (*REQUIREMENTS, VERIFICATION_SOP_CLASS, STUDY_ROOT_FIND):
        ae.add_supported_context(uid)
    context = stock_context(cert=args.cert, key=args.key, bundle=args.bundle)
    handlers: list[Any] = [(evt.EVT_C_STORE, _stored), (evt.EVT_C_ECHO, lambda event: 0x0000)]
    server = ae.start_server(("127.0.0.1", args.port), block=False, ssl_context=context,
                             evt_handlers=handlers)  # fmt: skip
    done = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: done.set())
    done.wait()
    server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
