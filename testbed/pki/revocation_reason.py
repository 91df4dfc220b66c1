"""The reason codes an operator gives a revocation (RFC 5280 §5.3.1).

Its own module, outside the modules the compiled build compiles
(``benchmarks.compiled``): ``testbed schema`` describes the scenario's revocation
``reason`` with this enum's docstring, which a compiled class does not keep.
"""

from __future__ import annotations

from enum import StrEnum

from cryptography import x509

__all__ = ["RevocationReason"]


class RevocationReason(StrEnum):
    """The RFC 5280 §5.3.1 reason codes an operator gives a device's revocation.

    No certificateHold (a hold is not a revocation) and no CA or AA compromise (not a
    device's to claim).  Values are the ASN.1 names, as in CRLs and OCSP answers.
    """

    UNSPECIFIED = "unspecified"
    KEY_COMPROMISE = "keyCompromise"  # lost or stolen, key exposed
    AFFILIATION_CHANGED = "affiliationChanged"
    SUPERSEDED = "superseded"
    CESSATION_OF_OPERATION = "cessationOfOperation"  # offboarded: out of service
    PRIVILEGE_WITHDRAWN = "privilegeWithdrawn"

    @property
    def flag(self) -> x509.ReasonFlags:
        """The reason as ``cryptography`` spells it."""
        return x509.ReasonFlags(self.value)
