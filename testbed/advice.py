"""Warnings about a valid scenario that will probably not do what its author means.

A scenario can be valid and still doom part of its fleet.  :func:`advise` reads a
validated scenario and its profiles and returns one :class:`Advice` per finding:

- ``no-route``: a fleet group's zone has no rule to a service its devices need
  (scenarios with a ``network:`` allow list; a ``design:`` is analysed by
  ``testbed compare``), so every delivery there is refused and, without store and
  forward, lost;
- ``lifetime-capped``: the scenario's certificate lifetime is longer than a profile
  allows, so its devices get the profile's maximum instead;
- ``manual-renewal-too-slow``: a device renewed by hand has a renewal window
  (lifetime x (1 - renew_at)) shorter than the operator's enrollment delay, so its
  certificate expires before the new one is installed.

``testbed validate`` prints them as warnings; ``--strict`` makes them errors.
"""

from __future__ import annotations

from dataclasses import dataclass

from testbed.devices import DeviceProfile, EnrollmentProtocol
from testbed.scenario import FleetGroup, Scenario
from testbed.sites import HealthSystem, ServiceKind
from testbed.units import format_duration

__all__ = ["Advice", "advise"]


@dataclass(frozen=True, slots=True)
class Advice:
    """One warning: its code, the field it is about and what will happen."""

    code: str
    field: str
    message: str


def advise(scenario: Scenario, profiles: dict[str, DeviceProfile]) -> list[Advice]:
    """Every warning about ``scenario`` (already validated and cross-checked)."""
    found: list[Advice] = []
    system = HealthSystem(scenario.sites, scenario.services)
    for i, group in enumerate(scenario.fleet):
        profile = profiles[group.profile]
        where = f"fleet[{i}]"
        if scenario.design is None:
            found.extend(_routes(scenario, system, group, profile, where))
        found.extend(_lifetime(scenario, group, profile, where))
    return found


def _needed(system: HealthSystem, group: FleetGroup, profile: DeviceProfile) -> list[str]:
    if group.services is not None:
        return list(group.services)
    return [system.nearest(ServiceKind(kind), group.site).name for kind in profile.services]


def _routes(
    scenario: Scenario, system: HealthSystem, group: FleetGroup, profile: DeviceProfile,
    where: str,
) -> list[Advice]:  # fmt: skip
    rules = {(r.source, r.to, r.site) for r in scenario.network}
    found = []
    for service in _needed(system, group, profile):
        if (group.zone, service, group.site) in rules or (group.zone, service, None) in rules:
            continue
        loses = "held until the buffer fills, then lost" if profile.store_and_forward else "lost"
        found.append(Advice(
            "no-route", f"{where}.zone",
            f"no network rule lets zone {group.zone!r} at {group.site!r} reach "
            f"{service!r}, which its {group.count} {group.profile} device(s) need: every "
            f"delivery there is refused ({loses}); add "
            f"{{from: {group.zone}, to: {service}, site: {group.site}}} to network",
        ))  # fmt: skip
    return found


def _lifetime(
    scenario: Scenario, group: FleetGroup, profile: DeviceProfile, where: str
) -> list[Advice]:
    pki = scenario.pki
    found = []
    lifetime = min(pki.lifetime, profile.max_validity)
    if profile.max_validity < pki.lifetime:
        found.append(Advice(
            "lifetime-capped", f"{where}.profile",
            f"profile {profile.id!r} allows certificates of at most "
            f"{format_duration(profile.max_validity)}, so its devices get that, not the "
            f"scenario's pki.lifetime of {format_duration(pki.lifetime)}",
        ))  # fmt: skip
    manual = profile.enrollment_protocols == (EnrollmentProtocol.MANUAL,)
    window = lifetime * (1 - pki.renew_at)
    if (manual or not profile.automated_renewal) and window < pki.manual_enrollment_delay:
        found.append(Advice(
            "manual-renewal-too-slow", f"{where}.profile",
            f"devices of {profile.id!r} are renewed by hand, but their renewal window "
            f"(lifetime {format_duration(lifetime)} x (1 - renew_at {pki.renew_at:g}) = "
            f"{format_duration(window)}) is shorter than pki.manual_enrollment_delay "
            f"({format_duration(pki.manual_enrollment_delay)}): certificates expire "
            "before the new one is installed",
        ))  # fmt: skip
    return found
