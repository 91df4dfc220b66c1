"""The incident playbook (seed §8): which failure is this?

It reads the recorded reasons; it does not guess.  The categories are the seed's
four questions (is the certificate invalid, is the device out of network scope, has
the token expired, has the endpoint changed) plus the two that the hospital side
causes: a service or CA that is down, and a device whose registration state refuses it;
and data a service refuses itself (a DICOM dataset that is invalid or conflicts).
"""

from __future__ import annotations

from enum import StrEnum
from types import MappingProxyType

from testbed.decisions import Reason

__all__ = ["CATEGORY_OF", "IncidentCategory", "diagnose"]


class IncidentCategory(StrEnum):
    """Seed §8 incident-playbook categories."""

    CERTIFICATE_INVALID = "certificate-invalid"
    OUT_OF_NETWORK_SCOPE = "out-of-network-scope"
    TOKEN_EXPIRED = "token-expired"
    ENDPOINT_CHANGED = "endpoint-changed"
    SERVICE_UNAVAILABLE = "service-unavailable"
    DEVICE_NOT_AUTHORIZED = "device-not-authorized"
    DATA_REFUSED = "data-refused"


C, R = IncidentCategory, Reason

CATEGORY_OF = MappingProxyType(
    {
        R.CERT_MISSING: C.CERTIFICATE_INVALID,
        R.CERT_EXPIRED: C.CERTIFICATE_INVALID,
        R.CERT_NOT_YET_VALID: C.CERTIFICATE_INVALID,
        R.CERT_REVOKED: C.CERTIFICATE_INVALID,
        R.CERT_SUPERSEDED: C.CERTIFICATE_INVALID,
        R.IDENTITY_MISMATCH: C.CERTIFICATE_INVALID,
        R.CERT_UNTRUSTED_AT_SITE: C.CERTIFICATE_INVALID,
        R.REVOCATION_UNKNOWN: C.CERTIFICATE_INVALID,
        R.ROUTE_BLOCKED: C.OUT_OF_NETWORK_SCOPE,
        R.SCOPE_INSUFFICIENT: C.OUT_OF_NETWORK_SCOPE,
        R.TOKEN_EXPIRED: C.TOKEN_EXPIRED,
        R.ENDPOINT_CHANGED: C.ENDPOINT_CHANGED,
        R.AE_TITLE_NOT_ALLOWED: C.ENDPOINT_CHANGED,
        R.SERVICE_UNAVAILABLE: C.SERVICE_UNAVAILABLE,
        R.CA_UNAVAILABLE: C.SERVICE_UNAVAILABLE,
        R.NOT_REGISTERED: C.DEVICE_NOT_AUTHORIZED,
        R.DEVICE_SUSPENDED: C.DEVICE_NOT_AUTHORIZED,
        R.DEVICE_RETIRED: C.DEVICE_NOT_AUTHORIZED,
        R.BOOTSTRAP_AUTH_FAILED: C.DEVICE_NOT_AUTHORIZED,
        R.PENDING_APPROVAL: C.DEVICE_NOT_AUTHORIZED,
        R.CSR_INVALID: C.CERTIFICATE_INVALID,
        R.CSR_SUBJECT_MISMATCH: C.CERTIFICATE_INVALID,
        R.REENROLL_IDENTITY_CHANGED: C.CERTIFICATE_INVALID,
        R.UNSUPPORTED_MEDIA_TYPE: C.DEVICE_NOT_AUTHORIZED,
        # the PACS (testbed/pacs/)
        R.TLS_PROFILE_REFUSED: C.CERTIFICATE_INVALID,
        R.CALLED_AE_UNKNOWN: C.ENDPOINT_CHANGED,
        R.AE_TITLE_WRONG_ZONE: C.OUT_OF_NETWORK_SCOPE,
        R.NO_ASSOCIATION: C.DEVICE_NOT_AUTHORIZED,
        R.SOP_CLASS_NOT_SUPPORTED: C.DATA_REFUSED,
        R.DATASET_INVALID: C.DATA_REFUSED,
        R.SOP_INSTANCE_CONFLICT: C.DATA_REFUSED,
    }
)


def diagnose(reason: Reason) -> IncidentCategory:
    """The playbook category of a denial reason."""
    if reason is Reason.OK:
        raise ValueError("an allowed decision is not an incident")
    return CATEGORY_OF[reason]
