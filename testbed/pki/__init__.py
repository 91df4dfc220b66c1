"""The hospital's PKI: CA, revocation, trust bundles, verification, EST, renewal.

- :mod:`~testbed.pki.keys`: key types, seed-derived keys, device CSRs.
- :mod:`~testbed.pki.ca`: root and issuing CAs, leaf issuance with ownership records.
- :mod:`~testbed.pki.issuance`: what a CA issues and revokes, as values.
- :mod:`~testbed.pki.revocation`: CRLs built in one pass, their distribution, OCSP.
- :mod:`~testbed.pki.trust`: per-site trust bundles with a distribution delay.
- :mod:`~testbed.pki.verify`: the TLS-hop decision (validity, chain, revocation).
- :mod:`~testbed.pki.est`: the EST (RFC 7030) enrollment core, without I/O.
- :mod:`~testbed.pki.renewal`: renewal times with jitter and change windows.
- :mod:`~testbed.pki.fidelity`: the declared fidelity levels and their one seam;
  :mod:`~testbed.pki.full` (real DER, :mod:`~testbed.pki.chain` path validation) and
  :mod:`~testbed.pki.modeled` (values, no signing).
"""

from __future__ import annotations

from testbed.pki.ca import (
    CertificateAuthority,
    IssuanceRecord,
    IssuingCA,
    IssuingMode,
    Revocation,
)
from testbed.pki.est import (
    CERTS_ONLY,
    EnrollmentDirectory,
    EnrollmentSubject,
    EstResponse,
    EstService,
    certs_only,
)
from testbed.pki.keys import (
    KeyType,
    PrivateKey,
    PublicKey,
    common_name,
    make_csr,
    new_private_key,
)
from testbed.pki.renewal import ChangeWindow, renewal_time
from testbed.pki.revocation import CrlDistribution, PublishedCrl, build_crl, ocsp_response
from testbed.pki.trust import MISSING_VERSION, TrustBundle, TrustDistribution
from testbed.pki.verify import Verifier

__all__ = [
    "CERTS_ONLY",
    "MISSING_VERSION",
    "CertificateAuthority",
    "ChangeWindow",
    "CrlDistribution",
    "EnrollmentDirectory",
    "EnrollmentSubject",
    "EstResponse",
    "EstService",
    "IssuanceRecord",
    "IssuingCA",
    "IssuingMode",
    "KeyType",
    "PrivateKey",
    "PublicKey",
    "PublishedCrl",
    "Revocation",
    "TrustBundle",
    "TrustDistribution",
    "Verifier",
    "build_crl",
    "certs_only",
    "common_name",
    "make_csr",
    "new_private_key",
    "ocsp_response",
    "renewal_time",
]
