"""Machine identities map to devices, applications and service accounts, never people."""

from __future__ import annotations

import pytest

from testbed.errors import RegistrationError
from testbed.identity import CredentialKind, IdentityKind, IdentityObject, machine_identity_allowed

MACHINES = {IdentityKind.DEVICE, IdentityKind.APPLICATION, IdentityKind.SERVICE_ACCOUNT}


@pytest.mark.parametrize("kind", list(IdentityKind), ids=str)
def test_who_may_hold_a_machine_identity(kind: IdentityKind) -> None:
    assert machine_identity_allowed(kind) is (kind in MACHINES)


@pytest.mark.parametrize("kind", sorted(MACHINES), ids=str)
def test_machines_hold_credentials(kind: IdentityKind) -> None:
    holder = IdentityObject(kind, "x", (CredentialKind.X509_CERTIFICATE,))
    assert holder.credentials == (CredentialKind.X509_CERTIFICATE,)


@pytest.mark.parametrize("kind", sorted(set(IdentityKind) - MACHINES), ids=str)
def test_people_and_places_cannot_hold_credentials(kind: IdentityKind) -> None:
    with pytest.raises(RegistrationError, match=f"{kind.value} 'x' cannot hold"):
        IdentityObject(kind, "x", (CredentialKind.SMART_BACKEND_CLIENT,))


def test_an_operator_without_credentials_is_fine() -> None:
    assert IdentityObject(IdentityKind.OPERATOR, "nurse-1").credentials == ()
