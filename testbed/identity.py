"""The seed's identity objects, and which of them may hold a machine identity.

Machine identities (certificates, SMART clients, AE titles) map to workloads and
devices, never to people: :func:`machine_identity_allowed` is the rule, and
:class:`IdentityObject` refuses to bind a credential to an operator.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from testbed.errors import RegistrationError

__all__ = ["CredentialKind", "IdentityKind", "IdentityObject", "machine_identity_allowed"]


class IdentityKind(StrEnum):
    """Seed §2: the identity objects a hospital needs."""

    DEVICE = "device"
    OPERATOR = "operator"
    APPLICATION = "application"
    MODALITY = "modality"
    LOCATION = "location"
    SERVICE_ACCOUNT = "service-account"


class CredentialKind(StrEnum):
    """The machine credentials the hospital issues."""

    X509_CERTIFICATE = "x509-certificate"
    SMART_BACKEND_CLIENT = "smart-backend-client"
    DICOM_AE_TITLE = "dicom-ae-title"


_MACHINE_HOLDERS = frozenset(
    {IdentityKind.DEVICE, IdentityKind.APPLICATION, IdentityKind.SERVICE_ACCOUNT}
)


def machine_identity_allowed(kind: IdentityKind) -> bool:
    """Seed §4: certificates identify a workload, a device or a service, not a person."""
    return kind in _MACHINE_HOLDERS


@dataclass(frozen=True, slots=True)
class IdentityObject:
    """An identity with the credentials bound to it."""

    kind: IdentityKind
    id: str
    credentials: tuple[CredentialKind, ...] = ()

    def __post_init__(self) -> None:
        if self.credentials and not machine_identity_allowed(self.kind):
            raise RegistrationError(
                f"{self.kind.value} {self.id!r} cannot hold machine credentials "
                f"{[c.value for c in self.credentials]}: machine identities map to devices, "
                "applications and service accounts, never to people or places"
            )
