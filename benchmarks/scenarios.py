"""The benchmark scenario, built in code: 10 sites, a fleet of any size, one year.

Every site has the zones imaging, bedside and datacenter and a PACS in its
datacenter; one EHR lives at the first site.  The fleet is spread evenly over the
sites and, within a site, over three EST-capable profiles whose maximum validity is
at least 30 days, so every certificate lives the issue's 30 days (the
remote-monitoring hub caps at 14 days and the legacy ultrasound uses RSA-2048 keys,
~14/s, which would measure ``cryptography`` rather than the testbed).  Certificates
are real (P-256, central issuing, 30-day lifetime, renewed at 2/3 of it) and the
run has a two-day CA outage and a blocked route so the fault machinery is on the timeline.
"""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

from testbed.scenario import Scenario

__all__ = ["MIX", "SITES", "build_scenario", "scenario_dict"]

SITES = 10

#: (profile, zone, owner, share of each site's devices)
MIX: tuple[tuple[str, str, str, float], ...] = (
    ("bedside-monitor-gateway", "bedside", "nursing", 0.60),
    ("ct-ai-onbox", "imaging", "radiology", 0.25),
    ("ai-inference-edge", "imaging", "radiology", 0.15),
)


def _split(total: int, parts: int) -> list[int]:
    """``total`` as ``parts`` near-equal whole numbers (the first ones get the rest)."""
    base, rest = divmod(total, parts)
    return [base + (1 if i < rest else 0) for i in range(parts)]


def _mix(total: int) -> list[int]:
    """``total`` devices of one site over :data:`MIX` (largest remainder)."""
    raw = [total * share for *_, share in MIX]
    counts = [int(r) for r in raw]
    order = sorted(range(len(MIX)), key=lambda i: raw[i] - counts[i], reverse=True)
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    return counts


def scenario_dict(
    devices: int,
    *,
    interval: str = "1d",
    duration: str = "365d",
    lifetime: str = "30d",
    onboard_spread: str = "7d",
    seed: int = 20260105,
    fidelity: str = "full",
) -> dict[str, Any]:
    """The scenario as the mapping a YAML file would hold."""
    sites = [f"site-{i + 1:02d}" for i in range(SITES)]
    fleet: list[dict[str, Any]] = []
    for site, count in zip(sites, _split(devices, SITES), strict=True):
        for (profile, zone, owner, _), n in zip(MIX, _mix(count), strict=True):
            if n:
                fleet.append({"profile": profile, "count": n, "site": site, "zone": zone,
                              "owner": owner, "onboard_spread": onboard_spread})
    network: list[dict[str, Any]] = [
        {"from": "imaging", "to": f"pacs-{site}", "site": site} for site in sites
    ]
    network += [{"from": "imaging", "to": "ehr"}, {"from": "bedside", "to": "ehr"}]
    return {
        "name": f"bench-{devices}",
        "description": f"Benchmark: {SITES} sites, {devices} devices, {duration}.",
        "seed": seed,
        "fidelity": fidelity,
        "start": "2026-01-05T00:00:00Z",
        "duration": duration,
        "recovery_window": "3d",
        "sites": [{"name": s, "zones": ["imaging", "bedside", "datacenter"]} for s in sites],
        "services": [
            *({"name": f"pacs-{s}", "kind": "pacs", "site": s, "zone": "datacenter"}
              for s in sites),
            {"name": "ehr", "kind": "ehr", "site": sites[0], "zone": "datacenter"},
        ],
        "network": network,
        "pki": {"issuing": "central", "lifetime": lifetime, "renew_at": 0.66,
                "jitter": 0.05, "renewal_retry": "1h", "crl_interval": "24h",
                "crl_validity": "7d", "trust_distribution_delay": "1h"},
        "workload": {"interval": interval, "retry": "1h"},
        "fleet": fleet,
        "faults": [
            {"kind": "ca-outage", "start": "120d", "end": "122d"},
            {"kind": "blocked-route", "from": "bedside", "to": "ehr", "site": sites[2],
             "start": "200d", "end": "200d6h"},
        ],
    }


def build_scenario(devices: int, **options: Any) -> Scenario:
    """The validated, frozen :class:`Scenario` for ``devices`` devices."""
    data = scenario_dict(devices, **options)
    return TypeAdapter(Scenario).validate_python(data)
