"""Faults on the devices' certificates and on what validates them: a broken renewal
agent, a revocation, a CA outage, a missing or stale trust bundle, a skewed clock."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar, Literal

from pydantic import ConfigDict, Field

from testbed.faults.window import KIND, STRICT, Count, DeviceTarget, FaultKind, SiteTarget, Window
from testbed.targets import DEVICES, TargetForm
from testbed.units import Duration

__all__ = [
    "CaOutage",
    "ClockSkew",
    "RenewalAgentBroken",
    "RevokedCertificate",
    "TrustBundleMissing",
    "TrustBundleStale",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class RenewalAgentBroken(Window):
    """The renewal agent of the target devices is broken: renewals are missed, and each
    certificate expires at its end unless the fault heals first."""

    __pydantic_config__: ClassVar[ConfigDict] = STRICT
    targets: ClassVar[frozenset[TargetForm]] = DEVICES
    kind: Annotated[Literal[FaultKind.RENEWAL_AGENT_BROKEN], KIND] = FaultKind.RENEWAL_AGENT_BROKEN
    target: DeviceTarget
    count: Count = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RevokedCertificate(Window):
    """The target devices' certificates are revoked at ``start`` (CRLs show it later)."""

    __pydantic_config__: ClassVar[ConfigDict] = STRICT
    targets: ClassVar[frozenset[TargetForm]] = DEVICES
    kind: Annotated[Literal[FaultKind.REVOKED_CERTIFICATE], KIND] = FaultKind.REVOKED_CERTIFICATE
    target: DeviceTarget
    count: Count = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CaOutage(Window):
    """The certificate authority answers nothing: no enrollment, no new CRLs.

    ``target`` is ``ca`` (the whole CA) or ``site:NAME``: that site's issuing CA
    (per-site issuing), which takes down only the enrollment of that site's devices
    and the CRLs of that issuing CA.
    """

    __pydantic_config__: ClassVar[ConfigDict] = STRICT
    targets: ClassVar[frozenset[TargetForm]] = frozenset({TargetForm.CA, TargetForm.SITE_CA})
    kind: Annotated[Literal[FaultKind.CA_OUTAGE], KIND] = FaultKind.CA_OUTAGE
    target: Annotated[str, Field(pattern=r"^(ca|site:.+)$")] = "ca"
    """ca (the whole CA) or site:NAME (that site's issuing CA, per-site issuing)."""

    @property
    def site(self) -> str | None:
        """The site whose issuing CA is down, or None: the whole CA."""
        return None if self.target == "ca" else self.target.partition(":")[2]


@dataclass(frozen=True, slots=True, kw_only=True)
class TrustBundleMissing(Window):
    """The relying parties at one site hold no trust bundle."""

    __pydantic_config__: ClassVar[ConfigDict] = STRICT
    targets: ClassVar[frozenset[TargetForm]] = frozenset({TargetForm.SITE})
    kind: Annotated[Literal[FaultKind.TRUST_BUNDLE_MISSING], KIND] = FaultKind.TRUST_BUNDLE_MISSING
    target: SiteTarget


@dataclass(frozen=True, slots=True, kw_only=True)
class TrustBundleStale(Window):
    """One site stops receiving trust-bundle updates."""

    __pydantic_config__: ClassVar[ConfigDict] = STRICT
    targets: ClassVar[frozenset[TargetForm]] = frozenset({TargetForm.SITE})
    kind: Annotated[Literal[FaultKind.TRUST_BUNDLE_STALE], KIND] = FaultKind.TRUST_BUNDLE_STALE
    target: SiteTarget


@dataclass(frozen=True, slots=True, kw_only=True)
class ClockSkew(Window):
    """The target devices' clocks run ``offset`` behind (or ahead, if ``ahead``)."""

    __pydantic_config__: ClassVar[ConfigDict] = STRICT
    targets: ClassVar[frozenset[TargetForm]] = DEVICES
    kind: Annotated[Literal[FaultKind.CLOCK_SKEW], KIND] = FaultKind.CLOCK_SKEW
    target: DeviceTarget
    count: Count = None
    offset: Duration
    """How far the devices' clocks are off (a duration such as 2h)."""
    ahead: Annotated[bool, Field(strict=True)] = False
    """true: the clocks run ahead; false: behind."""
