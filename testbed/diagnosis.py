"""The incident playbook (seed §8): which failure is this?

It reads the recorded reasons; it does not guess.  The categories are the seed's
four questions (is the certificate invalid, is the device out of network scope, has
the token expired, has the endpoint changed) plus the two that the hospital side
causes: a service or CA that is down, and a device whose registration state refuses it;
and the EHR's two: a write for a patient who is not in the device's context (seed §3),
and content a service refuses (an EHR resource or a DICOM dataset that is invalid
or conflicts); and "DICOM endpoint changed": a PACS that moved its called AE title
or port.
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
    # the EHR's refusals: seed §3 (the EHR is authoritative for patient context), and
    # content a service refuses: the EHR's resources, the PACS's datasets (a device
    # software or mapping fault)
    PATIENT_CONTEXT = "patient-context"
    DATA_REJECTED = "data-rejected"
    # the playbook's "DICOM endpoint changed": the PACS's called AE title or port moved
    # and the device still sends to the old one
    DICOM_ENDPOINT_CHANGED = "dicom-endpoint-changed"


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
        # SMART: a client that cannot authenticate or is not allowed is not authorized;
        # a token the resource server refuses is the seed's "has the token expired?";
        # a scope outside the pre-authorized set is out of scope; an unreachable JWKS
        # URL is an endpoint problem
        R.TOKEN_REQUEST_INVALID: C.DEVICE_NOT_AUTHORIZED,
        R.GRANT_TYPE_UNSUPPORTED: C.DEVICE_NOT_AUTHORIZED,
        R.CLIENT_UNKNOWN: C.DEVICE_NOT_AUTHORIZED,
        R.CLIENT_AUTH_METHOD_REFUSED: C.DEVICE_NOT_AUTHORIZED,
        R.CLIENT_SECRET_INVALID: C.DEVICE_NOT_AUTHORIZED,
        R.CLIENT_SUSPENDED: C.DEVICE_NOT_AUTHORIZED,
        R.CLIENT_OFFBOARDED: C.DEVICE_NOT_AUTHORIZED,
        R.ASSERTION_MALFORMED: C.DEVICE_NOT_AUTHORIZED,
        R.ASSERTION_ALG_REFUSED: C.DEVICE_NOT_AUTHORIZED,
        R.ASSERTION_HEADER_INVALID: C.DEVICE_NOT_AUTHORIZED,
        R.ASSERTION_ISSUER_MISMATCH: C.DEVICE_NOT_AUTHORIZED,
        R.ASSERTION_AUDIENCE_INVALID: C.DEVICE_NOT_AUTHORIZED,
        R.ASSERTION_EXPIRED: C.DEVICE_NOT_AUTHORIZED,
        R.ASSERTION_LIFETIME_TOO_LONG: C.DEVICE_NOT_AUTHORIZED,
        R.ASSERTION_SIGNATURE_INVALID: C.DEVICE_NOT_AUTHORIZED,
        R.ASSERTION_RATE_EXCEEDED: C.DEVICE_NOT_AUTHORIZED,
        R.JKU_NOT_REGISTERED: C.DEVICE_NOT_AUTHORIZED,
        R.CLIENT_KEY_UNRESOLVED: C.DEVICE_NOT_AUTHORIZED,
        R.JWKS_UNAVAILABLE: C.ENDPOINT_CHANGED,
        R.TOKEN_REPLAYED: C.DEVICE_NOT_AUTHORIZED,
        R.CERT_BINDING_REQUIRED: C.CERTIFICATE_INVALID,
        R.SCOPE_MALFORMED: C.OUT_OF_NETWORK_SCOPE,
        R.SCOPE_NOT_AUTHORIZED: C.OUT_OF_NETWORK_SCOPE,
        R.TOKEN_INVALID: C.TOKEN_EXPIRED,
        R.TOKEN_KEY_UNKNOWN: C.TOKEN_EXPIRED,
        R.TOKEN_INACTIVE: C.TOKEN_EXPIRED,
        R.TOKEN_CERT_MISMATCH: C.TOKEN_EXPIRED,
        R.REQUEST_MALFORMED: C.DATA_REJECTED,
        R.RESOURCE_INVALID: C.DATA_REJECTED,
        R.REFERENCE_UNRESOLVED: C.DATA_REJECTED,
        R.RESOURCE_NOT_FOUND: C.DATA_REJECTED,
        R.CONDITION_AMBIGUOUS: C.DATA_REJECTED,
        R.PATIENT_CONTEXT_MISMATCH: C.PATIENT_CONTEXT,
        R.ENCOUNTER_MISMATCH: C.PATIENT_CONTEXT,
        R.STORAGE_FULL: C.SERVICE_UNAVAILABLE,  # the EHR takes no more writes
        R.SEARCH_TOO_COSTLY: C.DATA_REJECTED,  # a search to narrow
        # the PACS (testbed/pacs/)
        R.TLS_PROFILE_REFUSED: C.CERTIFICATE_INVALID,
        R.CALLED_AE_UNKNOWN: C.DICOM_ENDPOINT_CHANGED,
        R.DICOM_PORT_CLOSED: C.DICOM_ENDPOINT_CHANGED,
        R.AE_TITLE_WRONG_ZONE: C.OUT_OF_NETWORK_SCOPE,
        R.NO_ASSOCIATION: C.DEVICE_NOT_AUTHORIZED,
        R.SOP_CLASS_NOT_SUPPORTED: C.DATA_REJECTED,
        R.DATASET_INVALID: C.DATA_REJECTED,
        R.SOP_INSTANCE_CONFLICT: C.DATA_REJECTED,
        # network faults (issue 13): the service cannot be reached at all
        R.PARTITIONED: C.SERVICE_UNAVAILABLE,
        R.SITE_DOWN: C.SERVICE_UNAVAILABLE,
    }
)


def diagnose(reason: Reason) -> IncidentCategory:
    """The playbook category of a denial reason."""
    if reason is Reason.OK:
        raise ValueError("an allowed decision is not an incident")
    return CATEGORY_OF[reason]
