"""Cross-field checks of a scenario: names that must refer to something that exists.

:func:`cross_check` reports every problem it finds at once (one
:class:`~testbed.errors.ScenarioError` carrying them all, in file order), each with a
"did you mean" when a known name is close (:func:`testbed.suggest.closest`).  A check
that needs what an earlier one found wrong (the zones of a site that does not exist,
the profile a group names wrongly) is skipped, so one mistake gives one message.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import timedelta
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING

from testbed.devices import DeviceProfile, EnrollmentProtocol, ae_title_for, load_profiles
from testbed.errors import ScenarioError
from testbed.expectations import (
    DICOM_METRICS,
    EHR_METRICS,
    SCOPED_METRICS,
    STORE_METRICS,
    Expectation,
    Metric,
    Scope,
    entries,
)
from testbed.faults import (
    EHR_FAULTS,
    AeTitleNotAllowed,
    BlockedRoute,
    DicomEndpointChanged,
    EhrOutage,
    ExceptionExpired,
    FaultSpec,
    PacsOutage,
    PacsTrustMissing,
    Partition,
    PolicyDrift,
)
from testbed.faults import FirmwareBreaksDicomTls as _Firmware
from testbed.operation_action import OperationAction
from testbed.pacs.ae_title import pacs_ae_title
from testbed.pki.ca import ISSUING_LIFETIME, IssuingMode
from testbed.pki.leaf_profile import device_name_problem
from testbed.sites import ServiceKind
from testbed.suggest import closest
from testbed.targets import TargetForm
from testbed.units import format_duration

if TYPE_CHECKING:
    from testbed.scenario import FleetGroup, Operation, Scenario

__all__ = ["DEFAULT_PROFILES", "cross_check", "profiles_for", "scenario_profiles"]

DEFAULT_PROFILES = Path(__file__).resolve().parent.parent / "fixtures" / "profiles"


def profiles_for(scenario: Scenario, base: Path) -> Path:
    """The profile directory a scenario uses."""
    if scenario.profiles_dir is None:
        return DEFAULT_PROFILES
    return (base / scenario.profiles_dir).resolve()


def scenario_profiles(scenario: Scenario, base: Path) -> dict[str, DeviceProfile]:
    """The device profiles as the scenario's hospital uses them: its profile directory,
    and, under a design whose credentials are issued by hand
    (``credentials: manual-certificates``, seed §9's per-site VLANs), every device
    enrolled and renewed by an operator whatever EST its profile supports."""
    profiles = load_profiles(profiles_for(scenario, base))
    if scenario.design is None:
        return profiles
    from testbed.network.design import CredentialIssuance, load_design

    design = load_design(Path(scenario.design))
    if design.credentials is not CredentialIssuance.MANUAL_CERTIFICATES:
        return profiles
    by_hand = (EnrollmentProtocol.MANUAL,)
    return {k: replace(p, enrollment_protocols=by_hand) for k, p in profiles.items()}


@dataclass(slots=True)
class _Problems:
    """The problems found so far; :meth:`check` runs one check and keeps its problem."""

    found: list[ScenarioError] = field(default_factory=list)

    @contextmanager
    def check(self) -> Iterator[None]:
        """Run the block; a :class:`ScenarioError` it raises is kept, not raised."""
        try:
            yield
        except ScenarioError as error:
            self.found.extend(error.problems)


def cross_check(scenario: Scenario, *, file: str, base: Path) -> None:
    """Raise one :class:`ScenarioError` carrying every name that refers to nothing and
    every rule between fields that does not hold (in file order)."""
    problems = _Problems()
    zones = {s.name: set(s.zones) for s in scenario.sites}
    services = {s.name for s in scenario.services}
    with problems.check():
        _unique([s.name for s in scenario.sites], file, "sites", "unique site names")
    with problems.check():
        _unique([s.name for s in scenario.services], file, "services", "unique service names")
    for i, svc in enumerate(scenario.services):
        with problems.check():
            _zone(zones, svc.site, svc.zone, file, f"services[{i}]")
    with problems.check():
        _pacs_ae_titles(scenario, file)
    for i, rule in enumerate(scenario.network):
        with problems.check():
            _one_of(rule.to, services, file, f"network[{i}].to", "a service")
        with problems.check():
            _one_of(rule.source, set().union(*zones.values()), file, f"network[{i}].from",
                    "a zone")  # fmt: skip
    profiles = load_profiles(profiles_for(scenario, base))
    with problems.check():
        _unique([g.group for g in scenario.fleet], file, "fleet",
                "unique group names (set 'name' to tell groups apart)")  # fmt: skip
    _fleet(scenario, profiles, services, zones, file, problems)
    with problems.check():
        _within_the_issuing_cas_life(scenario, file)
    for i, fault in enumerate(scenario.faults):
        with problems.check():
            _fault_names(fault, scenario, file, f"faults[{i}]")
        with problems.check():
            if fault.end > scenario.duration:
                raise ScenarioError(file, f"faults[{i}].end",
                                    "a time within the scenario's duration")  # fmt: skip
        with problems.check():
            _ehr_fault(fault, scenario, file, f"faults[{i}]")
        with problems.check():
            _dicom_fault(fault, scenario, file, f"faults[{i}]")
    if all(g.profile in profiles for g in scenario.fleet):
        with problems.check():
            _dicom(scenario, profiles, file)
    for i, op in enumerate(scenario.operations):
        _operation(op, i, scenario, file, problems)
    for name in scenario.expectations:
        with problems.check():
            _expectation(name, scenario, file)
    ids: set[str] = set()
    for one in entries(scenario.expectations):
        with problems.check():
            _expectation_scope(one, scenario, file, ids)
    if problems.found:
        raise ScenarioError.of(problems.found)


def _fleet(
    scenario: Scenario,
    profiles: dict[str, DeviceProfile],
    services: set[str],
    zones: dict[str, set[str]],
    file: str,
    problems: _Problems,
) -> None:
    """Each fleet group: its profile, times, site and zone, names and services."""
    kinds = {s.name: s.kind for s in scenario.services}
    devices = 0
    for i, group in enumerate(scenario.fleet):
        devices += group.count
        with problems.check():
            _one_of(group.profile, set(profiles), file, f"fleet[{i}].profile", "a profile")
        profile = profiles.get(group.profile)
        if profile is not None:
            with problems.check():
                _enrollable(profile, file, f"fleet[{i}].profile")
            with problems.check():
                _ae_titles(profile, devices, file, f"fleet[{i}].profile")
        with problems.check():
            _fleet_times(group, scenario, file, f"fleet[{i}]")
        with problems.check():
            _zone(zones, group.site, group.zone, file, f"fleet[{i}]")
        with problems.check():
            _device_names(group, scenario.trust_domain, file, f"fleet[{i}]")
        if profile is None:
            continue
        if group.services is None:
            with problems.check():
                _service_kinds(profile, scenario, file, f"fleet[{i}].profile")
        with problems.check():
            _windows_fit(profile, scenario, file)
        for j, name in enumerate(group.services or ()):
            with problems.check():
                _one_of(name, services, file, f"fleet[{i}].services[{j}]", "a service")
                if kinds[name] not in profile.services:
                    raise ScenarioError(
                        file, f"fleet[{i}].services[{j}]",
                        f"a service of a kind profile {profile.id!r} uses "
                        f"({', '.join(profile.services)}): {name!r} is {kinds[name]}",
                    )  # fmt: skip


def _fault_names(fault: FaultSpec, scenario: Scenario, file: str, where: str) -> None:
    """What a fault names exists: a route's zone and service, a partition's sides, an
    exception's design, another fault's target."""
    if isinstance(fault, BlockedRoute | PolicyDrift):
        _route(fault, scenario, file, where)
    elif isinstance(fault, Partition):
        _partition(fault, scenario, file, where)
    elif isinstance(fault, ExceptionExpired):
        if scenario.design is None:
            expected = ("a scenario with a 'design' (an exception-expired fault acts "
                        "on a design's exception)")  # fmt: skip
            raise ScenarioError(file, f"{where}.target", expected)
    else:
        _target(fault.target, fault.targets, scenario, file, f"{where}.target")


def _operation(op: Operation, i: int, scenario: Scenario, file: str, problems: _Problems) -> None:
    """An operation's target exists, a resume follows a suspend, a reason only for a
    revoke, and its time is within the run."""
    with problems.check():
        _target(op.target, op.targets, scenario, file, f"operations[{i}].target")
    if op.action is OperationAction.RESUME and not any(
        o.action is OperationAction.SUSPEND and o.at < op.at for o in scenario.operations
    ):
        expected = "a resume after a suspend (no suspension comes before it)"
        problems.found.append(ScenarioError(file, f"operations[{i}].at", expected))
    if op.reason is not None and op.action is not OperationAction.REVOKE:
        problems.found.append(ScenarioError(file, f"operations[{i}].reason",
                                            "no reason: only a 'revoke' operation has one"))
    if op.at > scenario.duration:
        within = "a time within the scenario's duration"
        problems.found.append(ScenarioError(file, f"operations[{i}].at", within))


def _expectation(name: str, scenario: Scenario, file: str) -> None:
    """An expectation names a known measure the scenario can have."""
    _one_of(name, {m.value for m in Metric}, file, f"expectations.{name}", "a known metric")
    if Metric(name) in DICOM_METRICS and scenario.dicom is None:
        raise ScenarioError(file, f"expectations.{name}",
                            "a dicom: block (a DICOM measure needs DICOM traffic)")  # fmt: skip
    if Metric(name) in EHR_METRICS and scenario.ehr is None:
        expected = "an ehr: block (an EHR measure needs tokens and FHIR writes)"
        raise ScenarioError(file, f"expectations.{name}", expected)
    if Metric(name) in STORE_METRICS and scenario.ehr is None and scenario.dicom is None:
        raise ScenarioError(file, f"expectations.{name}",
                            "an ehr: or dicom: block (duplicates are counted where the "
                            "EHR or the PACS stores)")  # fmt: skip


def _expectation_scope(one: Expectation, scenario: Scenario, file: str, ids: set[str]) -> None:
    """A scoped expectation is on a measure counted per device, its selectors name a
    site, zone, profile, group and device of the fleet, and its id is the only one."""
    if one.id in ids:
        raise ScenarioError(file, f"{one.field}.id", "an id no other expectation has (set "
                            "'id' to tell them apart)", got=one.id)  # fmt: skip
    ids.add(one.id)
    where = one.where
    if where is None:
        return
    if Metric(one.metric) not in SCOPED_METRICS:
        scoped = ", ".join(SCOPED_METRICS)
        raise ScenarioError(file, f"{one.field}.where", f"no 'where' on {one.metric}: only a "
                            f"measure counted per device can be scoped ({scoped})")  # fmt: skip
    for key, value in where.selectors().items():
        field = f"{one.field}.where.{key}"
        if key != "device":
            _one_of(value, _selectable(scenario, key), file, field, f"a {key} of the fleet")
        elif not any(group.has_device(value) for group in scenario.fleet):
            raise ScenarioError(file, field, "the id of a fleet device", got=value,
                                hint=_closest_device(value, scenario))  # fmt: skip


def _selectable(scenario: Scenario, key: str) -> set[str]:
    """The values a scope's ``key`` can take in this scenario."""
    fleet = scenario.fleet
    if key == "site":
        return {s.name for s in scenario.sites}
    if key == "zone":
        return {zone for site in scenario.sites for zone in site.zones}
    if key == "profile":
        return {g.profile for g in fleet}
    if key == "group":
        return {g.group for g in fleet}
    raise ValueError(f"{key!r} is not a field of {Scope.__name__}")


def _pacs_ae_titles(scenario: Scenario, file: str) -> None:
    """Only a PACS has an AE title; each is valid (PS3.5) and no two PACS share one."""
    held: dict[str, str] = {}
    for i, svc in enumerate(scenario.services):
        if svc.kind is not ServiceKind.PACS:
            if svc.ae_title is not None:
                raise ScenarioError(file, f"services[{i}].ae_title",
                                    "no AE title: only a pacs service has one")  # fmt: skip
            continue
        try:
            title = pacs_ae_title(svc.name, svc.ae_title)
        except ValueError as error:
            raise ScenarioError(file, f"services[{i}].ae_title", str(error)) from None
        other = held.setdefault(title, svc.name)
        if other != svc.name:
            raise ScenarioError(
                file, f"services[{i}].ae_title",
                f"an AE title no other PACS has: {title!r} is also {other!r}'s "
                "(set ae_title on one of them)",
            )  # fmt: skip


_DICOM_FAULTS = (PacsOutage, AeTitleNotAllowed, PacsTrustMissing, DicomEndpointChanged, _Firmware)


def _dicom_fault(fault: object, scenario: Scenario, file: str, field: str) -> None:
    """A fault on DICOM traffic needs a ``dicom:`` block, and the PACS it names."""
    if not isinstance(fault, _DICOM_FAULTS):
        return
    if scenario.dicom is None:
        raise ScenarioError(file, f"{field}.kind", "a dicom: block in the scenario "
                            f"(a {fault.kind} fault acts on DICOM traffic)")  # fmt: skip
    pacs = {s.name for s in scenario.services if s.kind is ServiceKind.PACS}
    if isinstance(fault, PacsOutage | DicomEndpointChanged):
        _one_of(fault.service, pacs, file, f"{field}.target", "service: and a pacs service")
    if isinstance(fault, AeTitleNotAllowed):
        _one_of(fault.service, pacs, file, f"{field}.service", "a pacs service")
    if isinstance(fault, DicomEndpointChanged) and fault.ae_title is not None:
        try:
            pacs_ae_title(fault.service, fault.ae_title)
        except ValueError as error:
            raise ScenarioError(file, f"{field}.ae_title", str(error)) from None


def _dicom(scenario: Scenario, profiles: dict[str, DeviceProfile], file: str) -> None:
    """With a ``dicom:`` block, every device that sends to a PACS has an AE title."""
    if scenario.dicom is None:
        return
    kinds = {s.name: s.kind for s in scenario.services}
    for i, group in enumerate(scenario.fleet):
        profile = profiles[group.profile]
        services = group.services
        sends = (ServiceKind.PACS in profile.services if services is None
                 else any(kinds[s] is ServiceKind.PACS for s in services))  # fmt: skip
        if sends and profile.ae_title_prefix is None:
            raise ScenarioError(file, f"fleet[{i}].profile", "a profile with an "
                                "ae_title_prefix (its devices send DICOM to a PACS)",
                                got=profile.id)  # fmt: skip


def _enrollable(profile: DeviceProfile, file: str, field: str) -> None:
    """The simulation enrolls over EST or by hand; a SCEP-only device it cannot."""
    protocols = set(profile.enrollment_protocols)
    if not protocols & {EnrollmentProtocol.EST, EnrollmentProtocol.MANUAL}:
        raise ScenarioError(
            file, field,
            "a profile that enrolls over 'est' or by hand ('manual'): SCEP is not simulated",
            got=profile.id,
        )  # fmt: skip


def _ae_titles(profile: DeviceProfile, last: int, file: str, field: str) -> None:
    """The group's DICOM AE titles fit PS3.5: the longest is its last device's, the
    ``last``-th of the whole fleet (devices are numbered across groups)."""
    try:
        ae_title_for(profile, last)
    except ValueError as error:
        raise ScenarioError(
            file, field,
            f"a profile whose AE titles fit (device {last} of the fleet would get "
            f"{profile.ae_title_prefix}{last:03d}): {error}; shorten its ae_title_prefix",
            got=profile.id,
        ) from None


def _fleet_times(group: FleetGroup, scenario: Scenario, file: str, field: str) -> None:
    """Onboarding ends within the run, and offboarding (if any) after it starts."""
    if group.onboard_at + group.onboard_spread > scenario.duration:
        raise ScenarioError(
            file, f"{field}.onboard_at",
            "onboarding (onboard_at + onboard_spread) to end within the scenario's duration",
        )  # fmt: skip
    offboard = group.offboard_at
    if offboard is not None and not group.onboard_at < offboard <= scenario.duration:
        raise ScenarioError(
            file, f"{field}.offboard_at",
            "a time after onboard_at and within the scenario's duration",
        )  # fmt: skip


def _unique(names: list[str], file: str, field: str, expected: str) -> None:
    seen: set[str] = set()
    for i, name in enumerate(names):
        if name in seen:
            raise ScenarioError(file, f"{field}[{i}]", expected, got=name)
        seen.add(name)


def _within_the_issuing_cas_life(scenario: Scenario, file: str) -> None:
    """Every leaf the run issues expires before the issuing CA does (a leaf is capped at
    its CA's notAfter, so near the CA's end renewals would come ever sooner)."""
    longest = scenario.duration + scenario.recovery_window + scenario.pki.lifetime
    if longest > ISSUING_LIFETIME:
        raise ScenarioError(
            file, "duration",
            f"a run whose duration, recovery window and one certificate lifetime fit in the "
            f"issuing CA's life ({format_duration(ISSUING_LIFETIME)}); they make "
            f"{format_duration(longest)}",
        )  # fmt: skip


def _service_kinds(profile: DeviceProfile, scenario: Scenario, file: str, field: str) -> None:
    """Each service kind the profile uses has a service (its nearest is the default)."""
    kinds = {s.kind for s in scenario.services}
    missing = [kind for kind in profile.services if kind not in kinds]
    if missing:
        raise ScenarioError(
            file, field,
            f"a scenario with a service of each kind profile {profile.id!r} uses "
            f"({', '.join(missing)} missing), or the group's 'services' set",
        )  # fmt: skip


_WEEK_MINUTES = 7 * 24 * 60
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RENEWAL_MARGIN = timedelta(hours=1)  # renewals land at least this long before expiry


def _windows_fit(profile: DeviceProfile, scenario: Scenario, file: str) -> None:
    """Every stretch of a certificate's life holds a change window's start.

    A renewal moves to a window start within the certificate's life (until an hour
    before expiry); when the longest gap between two starts is longer than that, some
    renewal has none, and the run would stop there.
    """
    windows = scenario.pki.change_windows
    if not windows:
        return
    starts = sorted(
        _DAYS.index(day) * 24 * 60 + w.start.hour * 60 + w.start.minute
        for w in windows for day in w.days
    )  # fmt: skip
    gaps = [b - a for a, b in pairwise(starts)]
    gaps.append(starts[0] + _WEEK_MINUTES - starts[-1])
    gap = timedelta(minutes=max(gaps))
    usable = min(scenario.pki.lifetime, profile.max_validity) - _RENEWAL_MARGIN
    if gap > usable:
        raise ScenarioError(
            file, "pki.change_windows",
            f"window starts at most {format_duration(usable)} apart: certificates of "
            f"profile {profile.id!r} live {format_duration(usable + _RENEWAL_MARGIN)} and "
            f"renew an hour before expiry at the latest, but two starts are "
            f"{format_duration(gap)} apart",
        )  # fmt: skip


def _device_names(group: FleetGroup, trust_domain: str, file: str, where: str) -> None:
    """The group's longest device id must fit a certificate's CN and DNS SAN."""
    problem = device_name_problem(group.device_id(group.count), group.site, trust_domain)
    if problem is not None:
        field = f"{where}.name" if group.name else f"{where}.profile"
        raise ScenarioError(file, field, f"a shorter group name: {problem}")


def _one_of(value: str, known: set[str], file: str, field: str, what: str) -> None:
    """``value`` is among ``known`` (or a :class:`ScenarioError` with the closest)."""
    if value not in known:
        raise ScenarioError(file, field, f"{what}, one of {sorted(known)}", got=value,
                            hint=closest(value, known))  # fmt: skip


def _zone(zones: dict[str, set[str]], site: str, zone: str, file: str, field: str) -> None:
    """``site`` exists and ``zone`` is one of its zones (unchecked if the site is not)."""
    _one_of(site, set(zones), file, f"{field}.site", "a site")
    _one_of(zone, zones[site], file, f"{field}.zone", f"a zone of site {site!r}")


def _ehr_fault(fault: FaultSpec, scenario: Scenario, file: str, where: str) -> None:
    """A fault on the IdP or the EHR needs them (an ``ehr`` block); an EHR outage names
    an EHR service."""
    if fault.kind not in EHR_FAULTS:
        return
    if scenario.ehr is None:
        raise ScenarioError(file, f"{where}.kind", f"a scenario with an 'ehr' block for a "
                            f"{fault.kind} fault (it acts on the IdP or the EHR)")  # fmt: skip
    if isinstance(fault, EhrOutage):
        ehrs = {s.name for s in scenario.services if s.kind is ServiceKind.EHR}
        _one_of(fault.service, ehrs, file, f"{where}.target", "an EHR service")


def _route(fault: BlockedRoute | PolicyDrift, scenario: Scenario, file: str, where: str) -> None:
    """A blocked route (or a rule added outside change control) names a zone, a service
    and (if given) a site that exist."""
    zones = {zone for site in scenario.sites for zone in site.zones}
    _one_of(fault.source, zones, file, f"{where}.from", "a zone")
    _one_of(fault.to, {s.name for s in scenario.services}, file, f"{where}.to", "a service")
    if fault.site is not None:
        _one_of(fault.site, {s.name for s in scenario.sites}, file, f"{where}.site", "a site")


def _partition(fault: Partition, scenario: Scenario, file: str, where: str) -> None:
    """A partition's sides are sites, or zones (of ``site``, if given), that exist."""
    sites = {s.name: set(s.zones) for s in scenario.sites}
    if fault.site is not None:
        _one_of(fault.site, set(sites), file, f"{where}.site", "a site")
    for j, side in enumerate(fault.between):
        form, _, name = side.partition(":")
        if form == "site":
            _one_of(name, set(sites), file, f"{where}.between[{j}]", "'site:' and a site")
        else:
            zones = sites[fault.site] if fault.site is not None else set().union(*sites.values())
            _one_of(name, zones, file, f"{where}.between[{j}]", "'zone:' and a zone")


def _target(
    target: str, forms: frozenset[TargetForm], scenario: Scenario, file: str, field: str
) -> None:
    """``target`` has one of the ``forms`` usable under the scenario's issuing mode, and
    the site, group or device it names exists (what the run resolves it to)."""
    usable = _usable(forms, scenario.pki.issuing)
    kind, _, name = target.partition(":")
    if target == "ca" and usable & {TargetForm.CA, TargetForm.CENTRAL_CA}:
        return
    if target == "idp" and TargetForm.IDP in usable:
        return
    if kind == "site" and usable & {TargetForm.SITE, TargetForm.SITE_CA}:
        _one_of(name, {s.name for s in scenario.sites}, file, field, "a site")
    elif kind == "group" and TargetForm.GROUP in usable:
        _one_of(name, {g.group for g in scenario.fleet}, file, field, "a group")
    elif kind == "service" and TargetForm.SERVICE in usable:
        _one_of(name, {s.name for s in scenario.services}, file, field, "a service")
    elif kind == "device" and name and TargetForm.DEVICE in usable:
        if not any(group.has_device(name) for group in scenario.fleet):
            example = scenario.fleet[0].device_id(1) if scenario.fleet else "(no fleet)"
            raise ScenarioError(
                file, field, f"'device:' and the id of a fleet device, e.g. {example!r}",
                got=target, hint=_closest_device(name, scenario),
            )  # fmt: skip
    else:
        forms_named = {"site", "group", "device", "service", "ca", "idp"}
        form = closest(kind, forms_named) if name else closest(target, {"ca", "idp"})
        hint = None if form is None else (f"{form}:{name}" if name else form)
        raise ScenarioError(file, field, _expected_target(forms, usable), got=target, hint=hint)


_SUGGESTED_DEVICES = 10_000  # above this many devices, no device id is suggested


def _closest_device(name: str, scenario: Scenario) -> str | None:
    """The fleet's device id closest to ``name`` (for a fleet small enough to list)."""
    if sum(g.count for g in scenario.fleet) > _SUGGESTED_DEVICES:
        return None
    ids = {g.device_id(i) for g in scenario.fleet for i in range(1, g.count + 1)}
    return closest(name, ids)


def _usable(forms: frozenset[TargetForm], issuing: IssuingMode) -> frozenset[TargetForm]:
    """The forms that name something under ``issuing``: one central issuing CA, or one
    per site."""
    unusable = TargetForm.SITE_CA if issuing is IssuingMode.CENTRAL else TargetForm.CENTRAL_CA
    return forms - {unusable}


def _expected_target(forms: frozenset[TargetForm], usable: frozenset[TargetForm]) -> str:
    spellings = sorted({form.spelling for form in usable}, key=_ORDER.index) or ["no target"]
    expected = ", ".join(spellings[:-1]) + " or " * (len(spellings) > 1) + spellings[-1]
    if TargetForm.SITE_CA in forms - usable:
        expected += " (a site's own issuing CA needs per-site issuing: pki.issuing: per-site)"
    if TargetForm.CENTRAL_CA in forms - usable:
        expected += " (per-site issuing has an issuing CA per site: name the site)"
    return expected


_ORDER = ("'ca'", "'site:NAME'", "'group:NAME'", "'device:ID'", "'service:NAME'", "'idp'")
