"""The design format: a segmentation and identity design, written as data (DESIGN: Designs).

A design says which **groups** the hospital's endpoints fall in (site x zone x device
class, or every device its own segment for microsegmentation), a **matrix** of rules
from group to group (a service of the catalog, or ``any``, and the identity
condition the flow needs), how **credentials** are issued, and the **exceptions**
(seed §5: each with an owner, a reason, an expiry and a review date).

``load_design(path)`` returns a frozen :class:`Design` or raises one
:class:`~testbed.errors.ScenarioError` carrying every problem of the file, in file
order, each naming the field path, its line and column, what was expected and a
"did you mean" for a misspelled name; :func:`json_schema` is the format's JSON Schema (shipped as
``fixtures/designs/design.schema.json``).  Names resolve with :func:`design_path`:
a name in ``fixtures/designs/`` or a path.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, ClassVar

import yaml
from pydantic import ConfigDict, Field, TypeAdapter

from testbed.devices import DeviceClass
from testbed.errors import ScenarioError
from testbed.inputs import load_located, located, validate
from testbed.network.catalog import DEFAULT_CATALOG, Catalog, EndpointKind, load_catalog
from testbed.sites import NAME
from testbed.suggest import closest

__all__ = [
    "ANY",
    "DESIGNS",
    "CredentialIssuance",
    "Design",
    "DesignException",
    "Group",
    "IdentityCondition",
    "Rule",
    "Segmentation",
    "design_path",
    "design_text",
    "json_schema",
    "load_design",
]

DESIGNS = Path(__file__).resolve().parents[2] / "fixtures" / "designs"
ANY = "any"
"""A rule's service that matches every service the destination listens on."""

_STRICT: ConfigDict = ConfigDict(extra="forbid", use_attribute_docstrings=True)
_ALIASED: ConfigDict = ConfigDict(
    extra="forbid", populate_by_name=True, use_attribute_docstrings=True
)
_TEXT = Annotated[str, Field(min_length=1)]


class IdentityCondition(StrEnum):
    """What a flow must carry besides reaching the port (seed §5: verify identity first)."""

    NONE = "none"
    SHARED_CREDENTIAL = "shared-credential"
    VALID_DEVICE_CERTIFICATE = "valid-device-certificate"
    TOKEN_WITH_SCOPE = "token-with-scope"
    AE_TITLE_ALLOWED = "ae-title-allowed"


class CredentialIssuance(StrEnum):
    """How devices get their credentials (seed §4 and §9)."""

    SHARED = "shared"
    MANUAL_CERTIFICATES = "manual-certificates"
    EST_AUTOMATED_RENEWAL = "est-automated-renewal"


class Segmentation(StrEnum):
    """The unit the network separates: a group's members at one site share a segment
    (a VLAN: no filter between them), or every device is its own (microsegmentation)."""

    GROUP = "group"
    DEVICE = "device"


@dataclass(frozen=True, slots=True)
class Group:
    """Endpoints selected by kind, site, zone and device class (each empty: any).

    An endpoint belongs to the first group of the design that selects it.
    """

    __pydantic_config__: ClassVar[ConfigDict] = _STRICT

    name: Annotated[str, Field(pattern=NAME)]
    """The group's name; rules and exceptions refer to it."""
    kinds: tuple[EndpointKind, ...] = ()
    """The kinds of endpoint the group selects (empty: any)."""
    sites: tuple[str, ...] = ()
    """The sites the group selects (empty: any)."""
    zones: tuple[str, ...] = ()
    """The zones the group selects (empty: any)."""
    device_classes: tuple[DeviceClass, ...] = ()
    """The device classes the group selects (empty: any)."""
    description: str = ""
    """What the group is, in words."""


@dataclass(frozen=True, slots=True)
class Rule:
    """Group ``from`` may reach group ``to`` on ``service`` if the flow meets ``identity``."""

    __pydantic_config__: ClassVar[ConfigDict] = _ALIASED

    source: Annotated[str, Field(alias="from")]
    """The group the traffic comes from."""
    to: str
    """The group the traffic goes to."""
    service: str
    """The service the rule opens: one of the catalog's (fixtures/network) or any."""
    identity: IdentityCondition = IdentityCondition.NONE
    """What the flow must present for the rule to allow it."""
    scope: str | None = None
    """token-with-scope: the SMART scope the source must hold."""
    same_site: Annotated[bool, Field(strict=True)] = False
    """true: only between endpoints at the same site."""
    note: str = ""
    """Why the rule is there, in words."""


@dataclass(frozen=True, slots=True)
class DesignException:
    """A rule outside the design's pattern, owned and dated (seed §5: plan for
    clinical exceptions; document them, expire them, review them on a schedule)."""

    __pydantic_config__: ClassVar[ConfigDict] = _ALIASED

    id: Annotated[str, Field(pattern=NAME)]
    """The exception's id; the exception-expired fault names it exception:ID."""
    source: Annotated[str, Field(alias="from")]
    """The group the traffic comes from."""
    to: str
    """The group the traffic goes to."""
    service: str
    """The service the exception opens: one of the catalog's or any."""
    owner: _TEXT
    """Who owns the exception (and renews or removes it)."""
    reason: _TEXT
    """Why the exception is needed (the clinical reason)."""
    expires: datetime
    """When the exception stops allowing (UTC)."""
    review: datetime
    """When the exception is next reviewed (UTC)."""
    identity: IdentityCondition = IdentityCondition.NONE
    """What the flow must present for the exception to allow it."""
    scope: str | None = None
    """token-with-scope: the SMART scope the source must hold."""
    same_site: Annotated[bool, Field(strict=True)] = False
    """true: only between endpoints at the same site."""

    def as_rule(self) -> Rule:
        """The rule this exception opens while it has not expired."""
        return Rule(self.source, self.to, self.service, self.identity, self.scope,
                    self.same_site, f"exception {self.id}")  # fmt: skip


@dataclass(frozen=True, slots=True)
class Design:
    """A whole design file."""

    __pydantic_config__: ClassVar[ConfigDict] = _ALIASED

    name: Annotated[str, Field(pattern=NAME)]
    """The design's name (a scenario's design: names it)."""
    credentials: CredentialIssuance
    """How devices get their credentials under this design."""
    groups: Annotated[tuple[Group, ...], Field(min_length=1)]
    """The endpoint groups; an endpoint belongs to the first group that selects it."""
    description: str = ""
    """What the design is, in words."""
    assumptions: tuple[str, ...] = ()
    """What the design takes for granted, one sentence each."""
    segmentation: Segmentation = Segmentation.GROUP
    """How finely the network is segmented."""
    routed_sites: Annotated[bool, Field(strict=True)] = True
    """Whether traffic is routed between sites at all (false: no route between them)."""
    rules: tuple[Rule, ...] = ()
    """The flows the design allows, group to group."""
    exceptions: tuple[DesignException, ...] = ()
    """Rules outside the pattern, each owned, dated and reviewed."""
    certificate_bound_tokens: Annotated[
        bool,
        Field(
            strict=True,
            description=(
                "RFC 8705 certificate-bound access tokens: the identity provider grants a "
                "token only to a request made over mutual TLS with the device's "
                "certificate and binds it to that certificate (cnf x5t#S256); the FHIR "
                "API refuses an unbound token, or one presented with another "
                "certificate (token-cert-mismatch). A scenario's ehr.certificate_bound "
                "overrides it. Default: false."
            ),
        ),
    ] = False
    schema_ref: Annotated[str | None, Field(alias="$schema")] = None
    """The JSON Schema editors check this file against (ignored by the testbed)."""

    def group(self, name: str) -> Group:
        """The group called ``name``."""
        for group in self.groups:
            if group.name == name:
                return group
        raise KeyError(f"design {self.name!r} has no group {name!r}")


_DESIGN = TypeAdapter(Design)


def design_path(name_or_path: str | Path, *, base: Path | None = None) -> Path:
    """A design's file: ``NAME`` in ``fixtures/designs/``, else a path (relative to
    ``base``, the scenario's directory)."""
    text = str(name_or_path)
    if "/" not in text and not text.endswith((".yaml", ".yml")):
        return DESIGNS / f"{text}.yaml"
    path = Path(text)
    return path if path.is_absolute() or base is None else base / path


def load_design(path: Path | str, *, catalog: Path = DEFAULT_CATALOG) -> Design:
    """Read and validate a design file (``path``: a file, or a name in fixtures/designs).

    Every problem is reported at once, as the scenario's checks are: one
    :class:`ScenarioError` carrying them all in file order, each with its line and
    column and a "did you mean" for a misspelled name."""
    path = design_path(path)
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in DESIGNS.glob("*.yaml")))
        raise ScenarioError(str(path), "", f"an existing design file, or one of: {known}")
    data, where = load_located(path)
    if not isinstance(data, dict):
        raise ScenarioError(str(path), "(top level)", "a mapping of design fields")
    design = validate(_DESIGN, data, file=str(path), where=where)
    found = _cross_check(design, load_catalog(catalog), file=str(path))
    if found:
        raise located(ScenarioError.of(found), str(path), where)
    return design


def _cross_check(design: Design, catalog: Catalog, *, file: str) -> list[ScenarioError]:
    """Every name that refers to nothing and every rule that cannot hold."""
    found: list[ScenarioError] = []
    names = [g.name for g in design.groups]
    for i, name in enumerate(names):
        if name in names[:i]:
            found.append(ScenarioError(file, f"groups[{i}].name", "unique group names", got=name))
    for i, group in enumerate(design.groups):
        if group.device_classes and group.kinds and EndpointKind.DEVICE not in group.kinds:
            expected = "device classes only in a group that selects devices"
            found.append(ScenarioError(file, f"groups[{i}].device_classes", expected))
    ids = [e.id for e in design.exceptions]
    for i, ident in enumerate(ids):
        if ident in ids[:i]:
            found.append(ScenarioError(file, f"exceptions[{i}].id", "unique exception ids",
                                       got=ident))  # fmt: skip
    entries: list[tuple[str, Rule | DesignException]] = [
        *((f"rules[{i}]", r) for i, r in enumerate(design.rules)),
        *((f"exceptions[{i}]", e) for i, e in enumerate(design.exceptions)),
    ]
    for where, rule in entries:
        found.extend(_rule_problems(rule, names, catalog, file=file, where=where))
    for i, exception in enumerate(design.exceptions):
        if exception.expires.tzinfo is None or exception.review.tzinfo is None:
            expected = "UTC times for expires and review (…T00:00:00Z)"
            found.append(ScenarioError(file, f"exceptions[{i}]", expected))
    return found


def _rule_problems(
    rule: Rule | DesignException, names: list[str], catalog: Catalog, *, file: str, where: str
) -> list[ScenarioError]:
    """A rule's (or exception's) groups, service and scope."""
    found = []
    for part, named in (("from", rule.source), ("to", rule.to)):
        if named not in names:
            expected = f"a group of this design (one of {names})"
            found.append(ScenarioError(file, f"{where}.{part}", expected, got=named,
                                       hint=closest(named, names)))  # fmt: skip
    if rule.service != ANY and rule.service not in catalog.services:
        services = sorted(catalog.services)
        found.append(ScenarioError(file, f"{where}.service",
                                   f"{ANY!r} or a service of the catalog ({services})",
                                   got=rule.service,
                                   hint=closest(rule.service, [ANY, *services])))  # fmt: skip
    token = rule.identity is IdentityCondition.TOKEN_WITH_SCOPE
    if token and not rule.scope:
        found.append(ScenarioError(file, f"{where}.scope",
                                   "the SMART scope a token-with-scope rule requires"))  # fmt: skip
    if rule.scope and not token:
        found.append(ScenarioError(file, f"{where}.scope",
                                   "no scope unless identity is token-with-scope"))  # fmt: skip
    return found


def design_text(design: Design) -> str:
    """``design`` as the YAML text of a design file (:func:`load_design` reads it back
    equal), for a design made in code (a migration phase, a what-if)."""
    data = _DESIGN.dump_python(design, mode="json", by_alias=True, exclude_none=True)
    return yaml.safe_dump(data, sort_keys=False, width=100)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the design format."""
    schema = _DESIGN.json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Hospital device-identity testbed network design"
    return schema


def schema_text() -> str:
    """The schema as the text shipped in ``fixtures/designs/design.schema.json``."""
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"
