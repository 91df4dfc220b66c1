"""The PACS: a transport-free DICOM service core (issue 12, point 1; ``docs/pacs.md``).

One concept per module:

- :mod:`.ae_title`: AE titles checked (PS3.5) and compared as DICOM compares them;
- :mod:`.allow_list`: calling AE title <-> device <-> zone, per PACS, from records;
- :mod:`.tls_profile`: the TLS profile a site accepts (BCP 195 by default, or legacy);
- :mod:`.certificates`: the certificate checks, by the access path's own hops;
- :mod:`.association`: A-ASSOCIATE decisions and their A-ASSOCIATE-RJ;
- :mod:`.dataset`: what a dataset must hold per SOP class (pydicom);
- :mod:`.store`: C-STORE decisions and the instance store (no duplicates);
- :mod:`.echo`: C-ECHO; :mod:`.status`: DIMSE status codes;
- :mod:`.pacs`: the service (:class:`Pacs`), one event per decision.
"""

from __future__ import annotations

from testbed.pacs.allow_list import AllowedAe, AllowList
from testbed.pacs.association import (
    Association,
    AssociationDecision,
    AssociationPolicy,
    AssociationRequest,
    PacsEndpoint,
    ZoneFrom,
)
from testbed.pacs.certificates import HopCertificates
from testbed.pacs.echo import EchoRequest
from testbed.pacs.pacs import Pacs
from testbed.pacs.store import MemoryStore, StoreRequest
from testbed.pacs.tls_profile import TlsOffer, TlsProfile

__all__ = [
    "AllowList",
    "AllowedAe",
    "Association",
    "AssociationDecision",
    "AssociationPolicy",
    "AssociationRequest",
    "EchoRequest",
    "HopCertificates",
    "MemoryStore",
    "Pacs",
    "PacsEndpoint",
    "StoreRequest",
    "TlsOffer",
    "TlsProfile",
    "ZoneFrom",
]
