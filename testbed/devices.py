"""Device profiles (what a vendor's model supports) and device records (seed §7 step 1).

A :class:`DeviceProfile` comes from a file under ``fixtures/profiles/``; profiles
make the compatibility matrix.  A :class:`DeviceRecord` is the pre-created identity
record of one device: the seed's list of fields, registered before the device
connects.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, ClassVar

from pydantic import AfterValidator, ConfigDict, Field, TypeAdapter

from testbed.errors import RegistrationError, ScenarioError
from testbed.inputs import load_yaml, validate
from testbed.pki.keys import KeyType
from testbed.sites import HealthSystem, ServiceKind
from testbed.units import PositiveDuration

__all__ = [
    "DeviceClass",
    "DeviceProfile",
    "DeviceRecord",
    "EnrollmentProtocol",
    "check_ae_title",
    "check_profile_services",
    "check_smart_scope",
    "load_profile",
    "load_profiles",
    "make_record",
]


class DeviceClass(StrEnum):
    """Broad kinds of AI-enabled device (seed §5: segment by function)."""

    IMAGING_MODALITY = "imaging-modality"
    BEDSIDE_MONITOR_GATEWAY = "bedside-monitor-gateway"
    REMOTE_MONITORING_HUB = "remote-monitoring-hub"
    AI_INFERENCE_SERVER = "ai-inference-server"
    ULTRASOUND = "ultrasound"


class EnrollmentProtocol(StrEnum):
    """How a device obtains its certificate."""

    EST = "est"
    SCEP = "scep"
    MANUAL = "manual"


_AE_FORBIDDEN = re.compile(r"[\\\x00-\x1f\x7f]")


def check_ae_title(value: str) -> str:
    """PS3.5: at most 16 characters, no backslash or control characters, not all spaces."""
    if len(value) > 16:
        raise ValueError(f"an AE title of at most 16 characters (PS3.5), not {len(value)}")
    if _AE_FORBIDDEN.search(value):
        raise ValueError("an AE title without backslash or control characters (PS3.5)")
    if not value.strip():
        raise ValueError("an AE title that is not all spaces (PS3.5)")
    return value


AeTitle = Annotated[str, AfterValidator(check_ae_title)]


def ae_title_for(profile: DeviceProfile, index: int) -> str | None:
    """The DICOM AE title of the profile's ``index``-th device (from 1): its
    ``ae_title_prefix`` and three digits; None for a profile without DICOM.

    Raises ValueError when the title breaks PS3.5 (longer than 16 characters).
    """
    if profile.ae_title_prefix is None:
        return None
    return check_ae_title(f"{profile.ae_title_prefix}{index:03d}")

# SMART App Launch 2.0 §3 scopes, as a backend service (a device) holds them:
# system/<resource type or *>.<v2 permissions "cruds" in order, or v1 read|write|*>
_SMART_SCOPE = re.compile(
    r"system/(\*|[A-Z][A-Za-z]*)\.(read|write|\*|(?=[cruds])c?r?u?d?s?)(\?[^\s]+)?"
)


def check_smart_scope(value: str) -> str:
    """A SMART system scope (backend services: a device's access, never a person's)."""
    if not _SMART_SCOPE.fullmatch(value):
        raise ValueError(
            "a SMART backend-services scope like 'system/Observation.c' or "
            "'system/ImagingStudy.rs' (system/, a resource type or *, then cruds or "
            "read/write/*)"
        )
    return value


SmartScope = Annotated[str, AfterValidator(check_smart_scope)]


@dataclass(frozen=True, slots=True)
class DeviceProfile:
    """What one vendor model supports."""

    __pydantic_config__: ClassVar[ConfigDict] = ConfigDict(extra="forbid")

    id: str
    vendor: str
    model: str
    device_class: DeviceClass
    enrollment_protocols: Annotated[tuple[EnrollmentProtocol, ...], Field(min_length=1)]
    key_types: Annotated[tuple[KeyType, ...], Field(min_length=1)]
    max_validity: PositiveDuration
    automated_renewal: bool
    store_and_forward: bool
    reports_failures: bool
    services: Annotated[tuple[ServiceKind, ...], Field(min_length=1)]
    fhir_versions: tuple[str, ...] = ()
    fhir_scopes: tuple[SmartScope, ...] = ()
    dicom_tls: tuple[str, ...] = ()
    ae_title_prefix: AeTitle | None = None
    buffer_capacity: Annotated[int, Field(ge=0)] = 0
    #: a DICOM study's instances (a scenario with a ``dicom:`` block sends studies)
    instances_per_study: Annotated[int, Field(ge=1, le=10_000)] = 1
    rotates_key_on_renewal: bool = True
    firmware: str = ""
    notes: str = ""

    @property
    def supports_est(self) -> bool:
        """Whether the device can enroll and renew over EST."""
        return EnrollmentProtocol.EST in self.enrollment_protocols

    def validity(self, requested: timedelta) -> timedelta:
        """The lifetime the device accepts: the scenario's, capped by the profile."""
        return min(requested, self.max_validity)


@dataclass(frozen=True, slots=True)
class DeviceRecord:
    """The pre-created identity record of one device (seed §7 step 1)."""

    device_id: str
    vendor: str
    model: str
    serial: str
    site: str
    zone: str
    owner: str
    profile: str
    intended_services: tuple[str, ...]
    certificate_type: KeyType
    fhir_scopes: tuple[str, ...] = ()
    ae_title: str | None = None
    dicom_endpoints: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.ae_title is not None:  # registration refuses what dcmtk would truncate
            try:
                check_ae_title(self.ae_title)
            except ValueError as error:
                raise ValueError(f"device {self.device_id!r}: {error}") from None


def check_profile_services(profile: DeviceProfile, system: HealthSystem) -> None:
    """:class:`~testbed.errors.RegistrationError` naming the profile and the service
    kind when ``profile`` uses a kind of service the health system has none of (a
    device of it could reach nothing it needs)."""
    for kind in profile.services:
        if not system.services_of_kind(kind):
            present = sorted({s.kind.value for s in system.services})
            raise RegistrationError(
                f"profile {profile.id!r} uses the {kind.value} service, but this "
                f"scenario has no service of kind {kind.value!r} (its services "
                f"are of kinds {present}): add one to the scenario's 'services' or register "
                "the device with a profile that does not use it"
            )


def make_record(
    profile: DeviceProfile,
    system: HealthSystem,
    *,
    device_id: str,
    serial: str,
    site: str,
    zone: str,
    owner: str,
    preferred_key: KeyType,
    services: tuple[str, ...] | None = None,
    ae_title: str | None = None,
) -> DeviceRecord:
    """The identity record of one device of ``profile``, used by simulation and live mode.

    Intended services default to the nearest service of each kind the profile
    uses; the certificate type is the preferred key type when the profile supports
    it, else the profile's first.
    """
    if services is None:
        check_profile_services(profile, system)
        services = tuple(system.nearest(ServiceKind(kind), site).name for kind in profile.services)
    key_type = preferred_key if preferred_key in profile.key_types else profile.key_types[0]
    return DeviceRecord(
        device_id=device_id,
        vendor=profile.vendor,
        model=profile.model,
        serial=serial,
        site=site,
        zone=zone,
        owner=owner,
        profile=profile.id,
        intended_services=services,
        certificate_type=key_type,
        fhir_scopes=profile.fhir_scopes,
        ae_title=ae_title,
        dicom_endpoints=tuple(s for s in services if system.service(s).kind is ServiceKind.PACS),
    )


_PROFILE = TypeAdapter(DeviceProfile)


def load_profile(path: Path) -> DeviceProfile:
    """Read and validate one profile file; its ``id`` must equal the file's stem."""
    data = load_yaml(path)
    if isinstance(data, dict):
        data.setdefault("id", path.stem)
    profile = validate(_PROFILE, data, file=str(path))
    if profile.id != path.stem:
        raise ScenarioError(str(path), "id", f"the file name's stem {path.stem!r}", got=profile.id)
    return profile


def load_profiles(directory: Path) -> dict[str, DeviceProfile]:
    """Every ``*.yaml`` profile in ``directory``, by id."""
    if not directory.is_dir():
        raise ScenarioError(str(directory), "", "a directory of device profiles")
    return {p.stem: load_profile(p) for p in sorted(directory.glob("*.yaml"))}
