"""The scenario format: what a user writes in YAML, validated at the boundary.

``load_scenario(path)`` returns a frozen :class:`Scenario` or raises
:class:`~testbed.errors.ScenarioError` naming the file, the field path and what was
expected.  :func:`json_schema` is the JSON Schema of the format (shipped as
``scenarios/scenario.schema.json`` so editors can complete files).
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, ConfigDict, Field, TypeAdapter, WithJsonSchema

from testbed.crosscheck import cross_check
from testbed.errors import ScenarioError
from testbed.expectations import ExpectationSpec, Metric
from testbed.faults import RENAMED_KINDS, ExceptionExpired, FaultSpec
from testbed.inputs import field_path, load_located, located, validate
from testbed.network.design import DESIGNS, design_path, load_design
from testbed.operation_action import OperationAction
from testbed.pki.ca import IssuingMode
from testbed.pki.fidelity import Fidelity
from testbed.pki.keys import KeyType
from testbed.pki.revocation import RevocationReason
from testbed.positions import parse_field_path
from testbed.sites import NAME, Service, Site
from testbed.smart.settings import MAX_TOKEN_LIFETIME, ClientAuth
from testbed.targets import DEVICES, TargetForm
from testbed.units import Duration, PositiveDuration, parse_duration, run_start

__all__ = [
    "CensusSpec",
    "ChangeWindowSpec",
    "DicomSettings",
    "EhrSettings",
    "FleetGroup",
    "NetworkRule",
    "Operation",
    "OperationAction",
    "PkiSettings",
    "Scenario",
    "Workload",
    "json_schema",
    "load_scenario",
]

_STRICT: ConfigDict = ConfigDict(extra="forbid", use_attribute_docstrings=True)


class Weekday(StrEnum):
    """Days for change windows."""

    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"


#: A SPIFFE trust domain that is also a DNS name (it ends every device's DNS SAN):
#: dot-separated labels of lowercase letters, digits and inner dashes.
TRUST_DOMAIN = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$"


def _trust_domain(value: str) -> str:
    if len(value) > 253 or not re.fullmatch(TRUST_DOMAIN, value):
        raise ValueError(
            "a DNS name of lowercase letters, digits, dots and dashes "
            "(the SPIFFE trust domain of every device identity)"
        )
    return value


@dataclass(frozen=True, slots=True)
class ChangeWindowSpec:
    """A recurring maintenance window in UTC in which renewals may run."""

    __pydantic_config__: ClassVar[ConfigDict] = _STRICT

    days: Annotated[tuple[Weekday, ...], Field(min_length=1)]
    """The days of the week the window opens on (mon ... sun)."""
    start: time
    """The time of day (UTC) the window opens, such as 02:00."""
    duration: PositiveDuration


@dataclass(frozen=True, slots=True)
class PkiSettings:
    """How the hospital's certificate authority is run."""

    __pydantic_config__: ClassVar[ConfigDict] = _STRICT

    issuing: IssuingMode = IssuingMode.CENTRAL
    """central: one issuing CA for every site; per-site: an issuing CA per site."""
    key_type: KeyType = KeyType.EC_P256
    """The key type of the devices' and the CAs' keys."""
    lifetime: PositiveDuration = field(default_factory=lambda: _d("30d"))
    renew_at: Annotated[float, Field(gt=0, lt=1)] = 0.66
    """The fraction of a certificate's lifetime after which its device renews it."""
    jitter: Annotated[float, Field(ge=0, lt=1)] = 0.05
    """A random spread of the renewal time, as a fraction of the lifetime (seeded)."""
    change_windows: tuple[ChangeWindowSpec, ...] = ()
    """Maintenance windows renewals must wait for (none: renew at any time)."""
    renewal_retry: PositiveDuration = field(default_factory=lambda: _d("1h"))
    """How long a device waits before it tries a failed renewal again."""
    crl_interval: PositiveDuration = field(default_factory=lambda: _d("24h"))
    """How often the CA publishes a new CRL."""
    crl_validity: PositiveDuration = field(default_factory=lambda: _d("7d"))
    """How long a CRL is valid after it is published (its nextUpdate)."""
    trust_distribution_delay: Duration = field(default_factory=lambda: _d("1h"))
    """How long a new trust bundle takes to reach every site's relying parties."""
    manual_approval: Annotated[bool, Field(strict=True)] = False
    """true: an operator approves each first enrollment (after approval_delay)."""
    approval_delay: Duration = field(default_factory=lambda: _d("2h"))
    """How long an operator takes to approve an enrollment (manual_approval)."""
    manual_recovery_delay: Duration = field(default_factory=lambda: _d("8h"))
    """How long an operator takes to recover a device by hand (a new bootstrap)."""
    manual_enrollment_delay: Duration = field(default_factory=lambda: _d("1d"))
    """How long an operator takes to enroll or renew a manual-only device by hand."""


@dataclass(frozen=True, slots=True)
class CensusSpec:
    """How big each site's census is in the EHR (testbed/ehr/census.py)."""

    __pydantic_config__: ClassVar[ConfigDict] = _STRICT

    locations: Annotated[int, Field(ge=1, le=10_000, strict=True)] = 4
    """Wards (FHIR Locations) per site."""
    patients: Annotated[int, Field(ge=0, le=1_000_000, strict=True)] = 20
    """Patients admitted per site."""


def _token_lifetime(value: timedelta) -> timedelta:
    if value > MAX_TOKEN_LIFETIME:
        raise ValueError("at most 300s (SMART backend services: expires_in SHOULD NOT "
                         "exceed 300 seconds)")  # fmt: skip
    return value


@dataclass(frozen=True, slots=True)
class EhrSettings:
    """The hospital's identity provider and EHR (issue 11); a scenario without this
    block has neither (its EHR services are names that are up or down).

    ``client_auth`` and ``certificate_bound`` unset: from the scenario's ``design``
    (``credentials: shared`` is ``client_secret_basic``, otherwise
    ``private_key_jwt``; tokens bound as its ``certificate_bound_tokens`` says), or
    ``private_key_jwt`` unbound without a design.
    """

    __pydantic_config__: ClassVar[ConfigDict] = _STRICT

    census: CensusSpec = field(default_factory=CensusSpec)
    """How big each site's census is in the EHR."""
    token_lifetime: Annotated[PositiveDuration, AfterValidator(_token_lifetime)] = field(
        default_factory=lambda: _d("300s")
    )
    jwks_cache: Duration = field(default_factory=lambda: _d("5m"))
    """How long the EHR keeps its copy of the IdP's JWKS (a relying party's cache)."""
    client_auth: ClientAuth | None = None
    """How devices authenticate to the IdP: private_key_jwt or client_secret_basic
    (absent: from the design)."""
    certificate_bound: Annotated[bool | None, Field(strict=True)] = None
    """true: tokens are bound to the device's certificate (RFC 8705 cnf); absent: from
    the design."""
    token_refresh_margin: Duration = field(default_factory=lambda: _d("30s"))
    """How long before a cached token's expiry a device asks for a new one."""
    key_overlap: Duration = field(default_factory=lambda: _d("10m"))
    """How long the IdP's old signing key stays published after a rotation."""


@dataclass(frozen=True, slots=True)
class NetworkRule:
    """Zone ``from`` may reach service ``to`` (at ``site``, or at every site)."""

    __pydantic_config__: ClassVar[ConfigDict] = ConfigDict(
        extra="forbid", populate_by_name=True, use_attribute_docstrings=True
    )

    source: Annotated[str, Field(alias="from")]
    """The zone the traffic comes from."""
    to: str
    """The service (its name) the zone may reach."""
    site: str | None = None
    """Only from this site's zone (absent: at every site)."""


@dataclass(frozen=True, slots=True)
class FleetGroup:
    """``count`` devices of one profile at one site and zone."""

    __pydantic_config__: ClassVar[ConfigDict] = _STRICT

    profile: str
    """The device profile (a file in the profiles directory, without .yaml)."""
    count: Annotated[int, Field(ge=1, le=1_000_000, strict=True)]
    """How many devices of the profile the group has."""
    site: str
    """The site (its name) the devices are at."""
    zone: str
    """The zone of that site the devices are in."""
    owner: str
    """Who owns the devices (a team); the inventory and reports name it."""
    name: Annotated[str | None, Field(pattern=NAME)] = None
    """The group's name (absent: profile-site); device ids are NAME-001, NAME-002, ..."""
    services: tuple[str, ...] | None = None
    """The services the devices deliver to (absent: every service of the kinds their
    profile needs)."""
    onboard_at: Duration = field(default_factory=lambda: _d("0s"))
    """When the group's first device is onboarded, after the scenario's start."""
    onboard_spread: Duration = field(default_factory=lambda: _d("0s"))
    """Over how long the group's devices are onboarded, evenly spread from onboard_at."""
    offboard_at: Duration | None = None
    """When the group's devices are offboarded (absent: never)."""

    @property
    def group(self) -> str:
        """The group's name: given, or ``profile-site``."""
        return self.name or f"{self.profile}-{self.site}"

    def device_id(self, index: int) -> str:
        """The id of the group's ``index``-th device (from 1): ``{group}-{index:03d}``."""
        return f"{self.group}-{index:03d}"

    def has_device(self, device_id: str) -> bool:
        """Whether ``device_id`` names one of this group's devices."""
        prefix, _, number = device_id.rpartition("-")
        if prefix != self.group or not (number.isascii() and number.isdecimal()):
            return False
        return 1 <= int(number) <= self.count and self.device_id(int(number)) == device_id


@dataclass(frozen=True, slots=True)
class Workload:
    """Clinical traffic: each device delivers to each intended service every ``interval``."""

    __pydantic_config__: ClassVar[ConfigDict] = _STRICT

    interval: PositiveDuration = field(default_factory=lambda: _d("1h"))
    """How often each device delivers to each of its services."""
    retry: PositiveDuration = field(default_factory=lambda: _d("5m"))
    """How long a device waits before it tries a refused delivery again."""


DICOM_TLS_PORT = 2762
"""The port IANA registered for DICOM over TLS (dicom-tls)."""


@dataclass(frozen=True, slots=True)
class DicomSettings:
    """Imaging traffic as DICOM (issue 12): present, each delivery of an imaging device
    to a PACS is a study (its profile's ``instances_per_study``) sent over one
    association, kept on the device until every instance is stored."""

    __pydantic_config__: ClassVar[ConfigDict] = _STRICT

    port: Annotated[
        int, Field(ge=1, le=65535, strict=True, description="The PACS's DICOM TLS port.")
    ] = DICOM_TLS_PORT
    lost_answers: Annotated[
        float,
        Field(
            ge=0,
            lt=1,
            description=(
                "The fraction of C-STORE responses lost on the way back (drawn from a "
                "generator seeded by the scenario's seed): the PACS stored the instance, "
                "the device did not hear it, aborts and sends the study again later."
            ),
        ),
    ] = 0.0


@dataclass(frozen=True, slots=True)
class Operation:
    """An operator action at a scenario time, on a target.

    Targets: ``device:ID``, ``group:NAME`` or ``site:NAME`` (devices); for
    ``rotate-ca-key``, ``ca`` (central issuing) or ``site:NAME`` (per-site issuing:
    that site's issuing CA).
    """

    __pydantic_config__: ClassVar[ConfigDict] = _STRICT

    at: Duration
    """When the operator acts, after the scenario's start."""
    action: OperationAction
    """What the operator does: revoke, rebootstrap, offboard, suspend, resume, rotate-ca-key
    or rotate-shared-credential (credentials: shared; see docs/designs.md)."""
    target: str
    """device:ID, group:NAME or site:NAME; for rotate-ca-key, ca or site:NAME."""
    count: Annotated[int | None, Field(ge=1, strict=True)] = None
    """Only the first this many of the target's devices (absent: all of them)."""
    overlap: Duration = field(default_factory=lambda: _d("0s"))
    """rotate-ca-key: how long the old CA key stays trusted alongside the new one."""
    reason: RevocationReason | None = None
    """revoke only: the RFC 5280 reason code the CRL and OCSP give."""

    @property
    def targets(self) -> frozenset[TargetForm]:
        """The forms of target this operation's action accepts."""
        if self.action is OperationAction.ROTATE_CA_KEY:
            return frozenset({TargetForm.CENTRAL_CA, TargetForm.SITE_CA})
        return DEVICES


@dataclass(frozen=True, slots=True)
class Scenario:
    """A whole scenario file."""

    __pydantic_config__: ClassVar[ConfigDict] = _STRICT

    name: Annotated[str, Field(pattern=NAME)]
    """The scenario's name (lowercase letters, digits and dashes); reports and runs/ use it."""
    seed: Annotated[int, Field(strict=True)]  # a number, not a string that parses as one
    """The random seed: the same seed gives the same events."""
    start: Annotated[datetime, AfterValidator(run_start)]
    """When the run starts: a UTC time such as 2026-01-05T00:00:00Z."""
    duration: PositiveDuration
    """How long the run lasts (a duration such as 90d)."""
    sites: Annotated[tuple[Site, ...], Field(min_length=1)]
    """The health system's sites and their network zones."""
    services: Annotated[tuple[Service, ...], Field(min_length=1)]
    """The clinical services (PACS, EHR), each in a zone of a site."""
    fleet: Annotated[tuple[FleetGroup, ...], Field(min_length=1)]
    """The devices: groups of one profile at one site and zone."""
    description: str = ""
    """What the scenario is about, in a sentence or two."""
    trust_domain: Annotated[
        str,
        AfterValidator(_trust_domain),
        WithJsonSchema({"type": "string", "pattern": TRUST_DOMAIN, "maxLength": 253}),
    ] = "hospital.example"
    """The SPIFFE trust domain of every device identity (a DNS name)."""
    profiles_dir: str | None = None
    """The directory of device profiles, relative to this file (absent: the shipped profiles)."""
    pki: PkiSettings = field(default_factory=PkiSettings)
    """The certificate authority: issuing, keys, lifetimes, renewal, CRLs, approval."""
    network: tuple[NetworkRule, ...] = ()
    """The zone allow list: which zone may reach which service (not with a design)."""
    design: Annotated[
        str | None,
        Field(
            description=(
                "The network design the network hop enforces instead of the network "
                "rules: a name in fixtures/designs (flat-shared-credentials, "
                "per-site-vlans, central-ca-automated-renewal, "
                "fhir-first-scoped-identities, zero-trust-microsegmentation) or a "
                "path to a design file, relative to this file."
            )
        ),
    ] = None
    workload: Workload = field(default_factory=Workload)
    """The devices' clinical traffic."""
    ehr: Annotated[
        EhrSettings | None,
        Field(
            description=(
                "The identity provider (SMART backend services) and the EHR's FHIR "
                "API with a census per site; devices whose profile uses the EHR get "
                "tokens and write FHIR resources. Absent: neither is built."
            )
        ),
    ] = None
    dicom: Annotated[
        DicomSettings | None,
        Field(description="Send imaging traffic to the PACS as DICOM studies (opt-in)."),
    ] = None
    faults: tuple[Annotated[FaultSpec, Field(discriminator="kind")], ...] = ()
    """What goes wrong and when: each fault has a kind, a start, an end and a target."""
    operations: tuple[Operation, ...] = ()
    """Planned operator actions (revoke, rebootstrap, offboard, ...) at scenario times."""
    expectations: dict[Metric, ExpectationSpec] = field(default_factory=dict)
    """What the run must show: a measure and its bound (a number, {min, max} or all)."""
    recovery_window: PositiveDuration = field(default_factory=lambda: _d("3d"))
    """Time after the last fault's end before recovery is checked (longer than zero)."""
    schema_ref: Annotated[str | None, Field(alias="$schema")] = None
    """The JSON Schema editors check this file against (ignored by the testbed)."""
    fidelity: Annotated[
        Fidelity,
        Field(
            description=(
                "How real the run's certificates, CSRs and CRLs are. full: real DER "
                "signed with cryptography, chains checked by its path validation. "
                "modeled: small values carrying the same facts (serial, names, issuer "
                "and key identifiers, validity), chains checked by names, key "
                "identifiers and windows; the same decisions, faster. Live mode "
                "(testbed serve) is always full."
            )
        ),
    ] = Fidelity.FULL

    def with_(
        self,
        changes: Mapping[str, Any] | None = None,
        /,
        *,
        base: Path | str = ".",
        **fields: Any,
    ) -> Scenario:
        """A copy with ``changes`` applied, validated and cross-checked again as a file
        is (every problem at once, each named by its field path).

        Keys are field paths as errors name them (``"pki.lifetime"``,
        ``"fleet[0].count"``) and values are written as in YAML (``"10d"``); plain
        keyword arguments change top-level fields (``seed=8``).  ``base``: the
        directory relative profile and design paths are read from (where the file
        would be)."""
        return vary(self, {**(changes or {}), **fields}, base=Path(base))


def _d(text: str) -> Any:
    return parse_duration(text)


_SCENARIO = TypeAdapter(Scenario)


def load_scenario(
    path: Path | str, *, seed: int | None = None, profiles: Path | None = None
) -> Scenario:
    """Read, validate and cross-check a scenario file (``profiles``: read the device
    profiles from this directory instead of the one the file names)."""
    path = Path(path)
    data, where = load_located(path)
    if not isinstance(data, dict):
        raise ScenarioError(str(path), "(top level)", "a mapping of scenario fields")
    scenario = validate(_SCENARIO, _renamed_kinds(data, file=str(path)), file=str(path),
                        where=where)  # fmt: skip
    if seed is not None:
        scenario = replace(scenario, seed=seed)
    if profiles is not None:
        scenario = replace(scenario, profiles_dir=str(profiles.resolve()))
    try:
        cross_check(scenario, file=str(path), base=path.parent)
        if scenario.design is not None:
            scenario = _with_design(scenario, file=str(path), base=path.parent)
    except ScenarioError as error:
        raise located(error, str(path), where) from None
    return scenario


VARIED = "Scenario.with_"
"""The "file" a problem in :meth:`Scenario.with_`'s changes is reported in."""


def vary(scenario: Scenario, changes: Mapping[str, Any], *, base: Path) -> Scenario:
    """``scenario`` with ``changes`` (field path -> value as in YAML), validated again."""
    data = _SCENARIO.dump_python(scenario, mode="json", by_alias=True, exclude_none=True)
    for key, value in changes.items():
        _put(data, key, value)
    varied = validate(_SCENARIO, data, file=VARIED)
    cross_check(varied, file=VARIED, base=base)
    if varied.design is not None:
        varied = _with_design(varied, file=VARIED, base=base)
    return varied


def _put(data: dict[str, Any], key: str, value: Any) -> None:
    """Set the field at ``key`` (a field path) in ``data``; the path up to it must exist."""
    path = parse_field_path(key)
    if not path or not isinstance(path[0], str):
        raise ScenarioError(VARIED, key, "a field path such as 'pki.lifetime' or "
                            "'fleet[0].count'")  # fmt: skip
    node: Any = data
    for i, part in enumerate(path[:-1]):
        child = _child(node, part)
        if child is None:
            where = field_path(path[: i + 1])
            raise ScenarioError(VARIED, key, f"a path that exists in the scenario ({where} "
                                "does not)")  # fmt: skip
        node = child
    last = path[-1]
    item = isinstance(node, list) and isinstance(last, int) and 0 <= last < len(node)
    if not item and not (isinstance(node, dict) and isinstance(last, str)):
        raise ScenarioError(VARIED, key, "a field of a mapping or an existing list item")
    node[last] = value


def _child(node: Any, part: int | str) -> Any:
    if isinstance(node, dict) and isinstance(part, str):
        if part not in node:
            node[part] = {}  # a section left at its defaults: written from scratch
        return node[part]
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return node[part]
    return None


def _with_design(scenario: Scenario, *, file: str, base: Path) -> Scenario:
    """``scenario`` with its design's file resolved, after validating the design
    (its errors name the design's file and field)."""
    if scenario.network:
        raise ScenarioError(file, "network", "no network rules when a design is selected "
                            "(the design's matrix decides; move the rules into the design)")
    resolved = design_path(str(scenario.design), base=base).resolve()
    if not resolved.is_file():
        known = ", ".join(sorted(p.stem for p in DESIGNS.glob("*.yaml")))
        raise ScenarioError(file, "design", f"a design in fixtures/designs ({known}) or "
                            "the path of a design file", got=scenario.design)  # fmt: skip
    design = load_design(resolved)
    ids = {e.id for e in design.exceptions}
    for i, fault in enumerate(scenario.faults):
        if isinstance(fault, ExceptionExpired) and fault.exception not in ids:
            expected = f"'exception:' and an exception of design {design.name!r} ({sorted(ids)})"
            raise ScenarioError(file, f"faults[{i}].target", expected, got=fault.target)
    return replace(scenario, design=str(resolved))


def _renamed_kinds(data: dict[str, Any], *, file: str) -> dict[str, Any]:
    """``data`` with each fault's former kind name replaced by its name now
    (:data:`~testbed.faults.RENAMED_KINDS`), with a :class:`DeprecationWarning` each."""
    faults = data.get("faults")
    if not isinstance(faults, list):
        return data
    renamed = []
    for i, fault in enumerate(faults):
        kind = fault.get("kind") if isinstance(fault, dict) else None
        if isinstance(kind, str) and kind in RENAMED_KINDS:
            now = RENAMED_KINDS[kind]
            warnings.warn(
                f"{file}: faults[{i}].kind: {kind!r} is deprecated; write {str(now)!r}",
                DeprecationWarning,
                stacklevel=3,
            )
            fault = {**fault, "kind": now.value}
        renamed.append(fault)
    return {**data, "faults": renamed}


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the scenario format."""
    schema = _SCENARIO.json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Hospital device-identity testbed scenario"
    _plain_one_of(schema, schema.get("$defs", {}))
    return schema


def _plain_one_of(node: Any, defs: dict[str, Any]) -> None:
    """Replace OpenAPI's ``discriminator`` (which JSON Schema editors ignore) by what they
    read: each ``oneOf`` member requires the tag property, whose ``const`` then picks
    exactly one member."""
    if isinstance(node, list):
        for item in node:
            _plain_one_of(item, defs)
        return
    if not isinstance(node, dict):
        return
    discriminator = node.pop("discriminator", None)
    if isinstance(discriminator, dict):
        tag = discriminator["propertyName"]
        for member in node.get("oneOf", []):
            ref = str(member.get("$ref", "")).removeprefix("#/$defs/")
            target = defs.get(ref, member)
            required = target.setdefault("required", [])
            if tag not in required:
                required.insert(0, tag)
    for value in node.values():
        _plain_one_of(value, defs)


def schema_text() -> str:
    """The schema as the text shipped in the repository."""
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"
