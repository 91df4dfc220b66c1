"""What live TLS contexts ask of OpenSSL that Python's :mod:`ssl` does not name."""

from __future__ import annotations

__all__ = ["X509_V_FLAG_NO_CHECK_TIME"]

X509_V_FLAG_NO_CHECK_TIME = 0x200000
"""OpenSSL's verify flag that skips validity-period checks (``x509_vfy.h``): the chain
is still OpenSSL's to check, the time is the decision core's, so an expired or
not-yet-valid client certificate is refused by the same verifier, with the same reason
and event, as in the simulation."""
