"""Access decisions: allow or deny, with a reason from a closed set.

Every hop on the path of a device action (registration, network, TLS, application,
service) returns a :class:`Decision`.  The reasons are an enum so that the incident
playbook (:mod:`testbed.diagnosis`) reads them instead of guessing.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["ALLOW", "Decision", "Hop", "Reason"]


class Hop(StrEnum):
    """Where on the path of a device action a decision was taken."""

    REGISTRATION = "registration"
    NETWORK = "network"
    TLS = "tls"
    APPLICATION = "application"
    SERVICE = "service"


class Reason(StrEnum):
    """The closed set of reasons for a decision."""

    OK = "ok"
    NOT_REGISTERED = "not-registered"
    DEVICE_SUSPENDED = "device-suspended"
    DEVICE_RETIRED = "device-retired"
    ROUTE_BLOCKED = "route-blocked"
    CERT_MISSING = "cert-missing"
    CERT_EXPIRED = "cert-expired"
    CERT_NOT_YET_VALID = "cert-not-yet-valid"
    CERT_REVOKED = "cert-revoked"
    CERT_SUPERSEDED = "cert-superseded"
    IDENTITY_MISMATCH = "identity-mismatch"
    CERT_UNTRUSTED_AT_SITE = "cert-untrusted-at-site"
    REVOCATION_UNKNOWN = "revocation-unknown"
    TOKEN_EXPIRED = "token-expired"
    SCOPE_INSUFFICIENT = "scope-insufficient"
    AE_TITLE_NOT_ALLOWED = "ae-title-not-allowed"
    SERVICE_UNAVAILABLE = "service-unavailable"
    CA_UNAVAILABLE = "ca-unavailable"
    BOOTSTRAP_AUTH_FAILED = "bootstrap-auth-failed"
    CSR_INVALID = "csr-invalid"
    CSR_SUBJECT_MISMATCH = "csr-subject-mismatch"
    REENROLL_IDENTITY_CHANGED = "reenroll-identity-changed"
    UNSUPPORTED_MEDIA_TYPE = "unsupported-media-type"
    PENDING_APPROVAL = "pending-approval"
    # SMART backend services: the identity provider (token endpoint, introspection)
    # and the resource server's token check (testbed/smart/, docs/smart.md)
    TOKEN_REQUEST_INVALID = "token-request-invalid"
    GRANT_TYPE_UNSUPPORTED = "grant-type-unsupported"
    CLIENT_UNKNOWN = "client-unknown"
    CLIENT_AUTH_METHOD_REFUSED = "client-auth-method-refused"
    CLIENT_SECRET_INVALID = "client-secret-invalid"
    CLIENT_SUSPENDED = "client-suspended"
    CLIENT_OFFBOARDED = "client-offboarded"
    ASSERTION_MALFORMED = "assertion-malformed"
    ASSERTION_ALG_REFUSED = "assertion-alg-refused"
    ASSERTION_HEADER_INVALID = "assertion-header-invalid"
    ASSERTION_ISSUER_MISMATCH = "assertion-issuer-mismatch"
    ASSERTION_AUDIENCE_INVALID = "assertion-audience-invalid"
    ASSERTION_EXPIRED = "assertion-expired"
    ASSERTION_LIFETIME_TOO_LONG = "assertion-lifetime-too-long"
    ASSERTION_SIGNATURE_INVALID = "assertion-signature-invalid"
    ASSERTION_RATE_EXCEEDED = "assertion-rate-exceeded"
    JKU_NOT_REGISTERED = "jku-not-registered"
    CLIENT_KEY_UNRESOLVED = "client-key-unresolved"
    JWKS_UNAVAILABLE = "jwks-unavailable"
    TOKEN_REPLAYED = "token-replayed"
    CERT_BINDING_REQUIRED = "cert-binding-required"
    SCOPE_MALFORMED = "scope-malformed"
    SCOPE_NOT_AUTHORIZED = "scope-not-authorized"
    TOKEN_INVALID = "token-invalid"
    TOKEN_KEY_UNKNOWN = "token-key-unknown"
    TOKEN_INACTIVE = "token-inactive"
    TOKEN_CERT_MISMATCH = "token-cert-mismatch"
    # the EHR's FHIR API and patient context (testbed/ehr/, docs/ehr.md)
    REQUEST_MALFORMED = "request-malformed"
    RESOURCE_INVALID = "resource-invalid"
    REFERENCE_UNRESOLVED = "reference-unresolved"
    RESOURCE_NOT_FOUND = "resource-not-found"
    CONDITION_AMBIGUOUS = "condition-ambiguous"
    PATIENT_CONTEXT_MISMATCH = "patient-context-mismatch"
    ENCOUNTER_MISMATCH = "encounter-mismatch"
    STORAGE_FULL = "storage-full"  # a bounded store (live mode's) holds all it may
    SEARCH_TOO_COSTLY = "search-too-costly"
    # the PACS (testbed/pacs/): DICOM associations and C-STORE
    TLS_PROFILE_REFUSED = "tls-profile-refused"
    CALLED_AE_UNKNOWN = "called-ae-unknown"
    AE_TITLE_WRONG_ZONE = "ae-title-wrong-zone"
    NO_ASSOCIATION = "no-association"
    SOP_CLASS_NOT_SUPPORTED = "sop-class-not-supported"
    DATASET_INVALID = "dataset-invalid"
    SOP_INSTANCE_CONFLICT = "sop-instance-conflict"
    # network faults (issue 13; testbed/network/blocks.py): a partition cuts the
    # traffic's site or zone from the service's, or the site is down altogether
    PARTITIONED = "partitioned"
    SITE_DOWN = "site-down"
    # the hospital's DICOM path (testbed/dicom.py): nothing listens where the device
    # connects any more (the PACS moved its port)
    DICOM_PORT_CLOSED = "dicom-port-closed"


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer of one hop: allowed or not, and why."""

    allowed: bool
    reason: Reason
    hop: Hop
    detail: str = ""

    @classmethod
    def deny(cls, reason: Reason, hop: Hop, detail: str = "") -> Decision:
        """A refusal with its reason."""
        if reason is Reason.OK:
            raise ValueError("a denial needs a reason other than 'ok'")
        return cls(False, reason, hop, detail)

    @classmethod
    def allow(cls, hop: Hop, detail: str = "") -> Decision:
        """An allowance at ``hop`` (shared instances: decisions are immutable)."""
        if not detail:
            return _ALLOWED[hop]
        return cls(True, Reason.OK, hop, detail)


_ALLOWED = {hop: Decision(True, Reason.OK, hop) for hop in Hop}
ALLOW = _ALLOWED[Hop.SERVICE]
