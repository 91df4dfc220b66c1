"""Faults on the identity provider and the EHR (issue 11; a scenario with an ``ehr``
block): expired or unknown tokens, outages, a patient moved, scope drift, a leaked
client credential."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, ClassVar, Literal

from pydantic import ConfigDict, Field

from testbed.faults.window import (
    KIND,
    STRICT,
    Count,
    DeviceTarget,
    FaultKind,
    IdpTarget,
    ServiceTarget,
    Window,
)
from testbed.targets import DEVICES, TargetForm
from testbed.units import Duration, parse_duration

__all__ = [
    "ClientCredentialLeaked",
    "EhrOutage",
    "IdpKeyRotation",
    "IdpOutage",
    "PatientMoved",
    "ScopeDrift",
    "TokenExpired",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenExpired(Window):
    """The target devices' token caches read a clock ``offset`` behind: they present
    cached access tokens past their expiry (the EHR answers 401 ``token-expired``;
    the device then drops the token and gets a new one at its next try)."""

    __pydantic_config__: ClassVar[ConfigDict] = STRICT
    targets: ClassVar[frozenset[TargetForm]] = DEVICES
    kind: Annotated[Literal[FaultKind.TOKEN_EXPIRED], KIND] = FaultKind.TOKEN_EXPIRED
    target: DeviceTarget
    count: Count = None
    offset: Duration = field(default_factory=lambda: parse_duration("2h"))
    """How far behind the devices' token caches read the clock."""


@dataclass(frozen=True, slots=True, kw_only=True)
class IdpOutage(Window):
    """The identity provider answers nothing: no token is granted (devices keep their
    data, and a token they hold still works until it expires)."""

    __pydantic_config__: ClassVar[ConfigDict] = STRICT
    targets: ClassVar[frozenset[TargetForm]] = frozenset({TargetForm.IDP})
    kind: Annotated[Literal[FaultKind.IDP_OUTAGE], KIND] = FaultKind.IDP_OUTAGE
    target: IdpTarget = "idp"


@dataclass(frozen=True, slots=True, kw_only=True)
class IdpKeyRotation(Window):
    """The IdP rotates its signing key at ``start`` (the old key stays published for
    ``overlap``) while the EHR's copy of the IdP's JWKS is held stale until ``end``:
    tokens signed with the new key are refused (``token-key-unknown``) until then."""

    __pydantic_config__: ClassVar[ConfigDict] = STRICT
    targets: ClassVar[frozenset[TargetForm]] = frozenset({TargetForm.IDP})
    kind: Annotated[Literal[FaultKind.IDP_KEY_ROTATION], KIND] = FaultKind.IDP_KEY_ROTATION
    target: IdpTarget = "idp"
    overlap: Duration = field(default_factory=lambda: parse_duration("0s"))
    """How long the old signing key stays published after the rotation."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EhrOutage(Window):
    """An EHR (``service:NAME``) fails: for ``answers_lost`` from ``start`` it stores
    writes but its answers are lost (devices keep the items and retry; their
    ``If-None-Exist`` makes no duplicate), then it is down until ``end``."""

    __pydantic_config__: ClassVar[ConfigDict] = STRICT
    targets: ClassVar[frozenset[TargetForm]] = frozenset({TargetForm.SERVICE})
    kind: Annotated[Literal[FaultKind.EHR_OUTAGE], KIND] = FaultKind.EHR_OUTAGE
    target: ServiceTarget
    answers_lost: Duration = field(default_factory=lambda: parse_duration("10m"))
    """How long from start the EHR stores writes but its answers are lost (shorter than
    the fault)."""

    def __post_init__(self) -> None:
        Window.__post_init__(self)
        if self.answers_lost >= self.length:
            raise ValueError("answers_lost shorter than the fault (end - start)")

    @property
    def service(self) -> str:
        """The EHR service that fails."""
        return self.target.partition(":")[2]


@dataclass(frozen=True, slots=True, kw_only=True)
class PatientMoved(Window):
    """The patient each target device writes for is moved to another ward at
    ``start`` (the device is not told) and back at ``end``: its writes meanwhile are
    refused (``patient-context-mismatch``) and kept by store-and-forward devices."""

    __pydantic_config__: ClassVar[ConfigDict] = STRICT
    targets: ClassVar[frozenset[TargetForm]] = DEVICES
    kind: Annotated[Literal[FaultKind.PATIENT_MOVED], KIND] = FaultKind.PATIENT_MOVED
    target: DeviceTarget
    count: Count = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ScopeDrift(Window):
    """A firmware update makes the target devices ask for ``scopes`` instead of their
    own until ``end`` (the rollback): the IdP grants only what is pre-authorized, and
    refuses (``scope-not-authorized``) when nothing asked for is."""

    __pydantic_config__: ClassVar[ConfigDict] = STRICT
    targets: ClassVar[frozenset[TargetForm]] = DEVICES
    kind: Annotated[Literal[FaultKind.SCOPE_DRIFT], KIND] = FaultKind.SCOPE_DRIFT
    target: DeviceTarget
    count: Count = None
    scopes: Annotated[str, Field(min_length=1)] = "system/Patient.cruds system/Encounter.u"
    """The SMART scopes (space-separated) the devices ask for instead of their own."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientCredentialLeaked(Window):
    """Someone else holds the target devices' client credential until ``end``: each time
    a device asks for a token, the other party sends the same credential (its
    assertion, replayed; or the shared secret).  Refused as a replay
    (``token-replayed``) under ``private_key_jwt``; granted under
    ``client_secret_basic``, where the oracle counts it as unauthorized access."""

    __pydantic_config__: ClassVar[ConfigDict] = STRICT
    targets: ClassVar[frozenset[TargetForm]] = DEVICES
    kind: Annotated[Literal[FaultKind.CLIENT_CREDENTIAL_LEAKED], KIND] = (
        FaultKind.CLIENT_CREDENTIAL_LEAKED
    )
    target: DeviceTarget
    count: Count = None
