"""Faults are values: scheduled, each with a start, an end and a target.

A fault spec (what the scenario says) is a frozen dataclass discriminated by
``kind``.  The simulation starts each fault at ``start`` and heals it at ``end``
(Jepsen: every fault is a start/stop pair); every run heals whatever is still
active at the end and then checks that the system recovers.

The specs live by what they act on: :mod:`~testbed.faults.identity` (certificates and
their validation), :mod:`~testbed.faults.network`, :mod:`~testbed.faults.clinical`
(the IdP and the EHR) and :mod:`~testbed.faults.dicom`; :mod:`~testbed.faults.window`
holds what they share and the vocabulary (:class:`FaultKind`).
"""

from __future__ import annotations

from testbed.faults.clinical import (
    ClientCredentialLeaked,
    EhrOutage,
    IdpKeyRotation,
    IdpOutage,
    PatientMoved,
    ScopeDrift,
    TokenExpired,
)
from testbed.faults.dicom import (
    AeTitleNotAllowed,
    DicomEndpointChanged,
    DicomFault,
    FirmwareBreaksDicomTls,
    PacsOutage,
    PacsTrustMissing,
    TlsFallback,
)
from testbed.faults.identity import (
    CaOutage,
    ClockSkew,
    RenewalAgentBroken,
    RevokedCertificate,
    TrustBundleMissing,
    TrustBundleStale,
)
from testbed.faults.network import (
    BlockedRoute,
    ExceptionExpired,
    Partition,
    PolicyDrift,
    ServiceOutage,
    SiteOutage,
)
from testbed.faults.window import EHR_FAULTS, RENAMED_KINDS, DeviceFault, FaultKind

__all__ = [
    "EHR_FAULTS",
    "RENAMED_KINDS",
    "AeTitleNotAllowed",
    "BlockedRoute",
    "CaOutage",
    "ClientCredentialLeaked",
    "ClockSkew",
    "DeviceFault",
    "DicomEndpointChanged",
    "DicomFault",
    "EhrOutage",
    "ExceptionExpired",
    "FaultKind",
    "FaultSpec",
    "FirmwareBreaksDicomTls",
    "IdpKeyRotation",
    "IdpOutage",
    "PacsOutage",
    "PacsTrustMissing",
    "Partition",
    "PatientMoved",
    "PolicyDrift",
    "RenewalAgentBroken",
    "RevokedCertificate",
    "ScopeDrift",
    "ServiceOutage",
    "SiteOutage",
    "TlsFallback",
    "TokenExpired",
    "TrustBundleMissing",
    "TrustBundleStale",
]


FaultSpec = (
    RenewalAgentBroken
    | RevokedCertificate
    | CaOutage
    | TrustBundleMissing
    | TrustBundleStale
    | ClockSkew
    | BlockedRoute
    | ServiceOutage
    | Partition
    | PolicyDrift
    | ExceptionExpired
    | SiteOutage
    | TokenExpired
    | IdpOutage
    | IdpKeyRotation
    | EhrOutage
    | PatientMoved
    | ScopeDrift
    | ClientCredentialLeaked
    | PacsOutage
    | AeTitleNotAllowed
    | PacsTrustMissing
    | DicomEndpointChanged
    | FirmwareBreaksDicomTls
)
