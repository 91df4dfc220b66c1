"""Small generated scenarios for property tests (Hypothesis strategies).

:func:`small_scenarios` draws a few devices at two sites for a few days, with faults
and maybe a CA key rotation; ``operators=True`` adds operator actions (suspend,
resume, revoke, re-bootstrap, offboard), service outages and the network faults
(partition, site outage, policy drift).
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

__all__ = ["small_scenarios"]

_GROUPS = (  # (profile, site, zone); the legacy ultrasound: RSA keys, renewed by hand
    ("bedside-monitor-gateway", "north", "bedside"),
    ("bedside-monitor-gateway", "south", "bedside"),
    ("ct-ai-onbox", "north", "imaging"),
    ("ct-ai-onbox", "south", "imaging"),
    ("legacy-ultrasound", "south", "imaging"),
)


def _hours(draw: st.DrawFn, low: int, high: int) -> int:
    return draw(st.integers(min_value=low, max_value=high))


@st.composite
def _window(draw: st.DrawFn, days: int) -> dict[str, str]:
    start = _hours(draw, 1, days * 24 - 2)
    end = _hours(draw, start + 1, days * 24)
    return {"start": f"{start}h", "end": f"{end}h"}


_KINDS = (
    "ca-outage", "revoked-certificate", "blocked-route", "trust-bundle-missing",
    "trust-bundle-stale", "clock-skew", "renewal-agent-broken",
)


@st.composite
def _fault(
    draw: st.DrawFn, days: int, groups: list[str], kinds: tuple[str, ...] = _KINDS
) -> dict[str, Any]:
    kind = draw(st.sampled_from(kinds))
    fault: dict[str, Any] = {"kind": kind, **draw(_window(days))}
    site = draw(st.sampled_from(["north", "south"]))
    target = f"group:{draw(st.sampled_from(groups))}"
    if kind in ("revoked-certificate", "renewal-agent-broken"):
        fault |= {"target": target, "count": 1}
    elif kind == "blocked-route":
        fault |= {"from": draw(st.sampled_from(["imaging", "bedside"])), "to": "ehr", "site": site}
    elif kind.startswith("trust-bundle"):
        fault |= {"target": f"site:{site}"}
    elif kind == "service-outage":
        fault |= {"target": f"service:{draw(st.sampled_from(_SERVICES))}"}
    elif kind == "partition":
        sides = draw(st.sampled_from([["site:north", "site:south"],
                                      ["zone:imaging", "zone:datacenter"]]))  # fmt: skip
        fault |= {"between": sides}
    elif kind == "site-outage":
        fault |= {"target": f"site:{site}"}
    elif kind == "policy-drift":
        fault |= {"from": "bedside", "to": draw(st.sampled_from(_SERVICES)), "site": site}
    elif kind == "clock-skew":
        ahead = draw(st.booleans())
        # a clock ahead by more than a renewal margin finds each new certificate due at
        # once; its agent backs off one renewal_retry between renewals (no hang)
        fault |= {"target": target, "offset": f"{_hours(draw, 1, 72)}h", "ahead": ahead}
    return fault


def _one_skew(faults: list[dict[str, Any]]) -> bool:
    """Overlapping skews of one device add up: at most one per scenario (see above)."""
    return sum(f["kind"] == "clock-skew" for f in faults) <= 1


_SERVICES = ("pacs-north", "pacs-south", "ehr")
#: faults the ``operators`` variant adds: a service down, and the network's (issue 13)
_NETWORK = ("service-outage", "partition", "site-outage", "policy-drift")
_ACTIONS = ("suspend", "resume", "revoke", "rebootstrap", "offboard")


@st.composite
def _operation(draw: st.DrawFn, days: int, groups: list[str]) -> dict[str, Any]:
    return {"at": f"{_hours(draw, 2, days * 24 - 2)}h",
            "action": draw(st.sampled_from(_ACTIONS)),
            "target": f"group:{draw(st.sampled_from(groups))}", "count": 1}  # fmt: skip


@st.composite
def small_scenarios(draw: st.DrawFn, *, operators: bool = False) -> dict[str, Any]:
    """A few devices at two sites for a few days, with faults and maybe a rotation
    (with ``operators``: operator actions and service outages too)."""
    days = draw(st.integers(min_value=4, max_value=8))
    keys = draw(st.lists(st.sampled_from(_GROUPS), min_size=1, max_size=3, unique=True))
    fleet = [{"profile": p, "count": 1 if p == "legacy-ultrasound" else draw(st.integers(1, 2)),
              "site": s, "zone": z, "owner": "biomed",
              "onboard_spread": f"{_hours(draw, 0, 12)}h"} for p, s, z in keys]  # fmt: skip
    groups = [f"{p}-{s}" for p, s, _ in keys]
    issuing = draw(st.sampled_from(["central", "per-site"]))
    kinds = (*_KINDS, *_NETWORK) if operators else _KINDS
    operations = draw(st.lists(_operation(days, groups), max_size=4)) if operators else []
    if draw(st.booleans()):
        site = draw(st.sampled_from(["north", "south"]))
        target = "ca" if issuing == "central" else f"site:{site}"
        operations.append({"at": f"{_hours(draw, 2, days * 24 - 2)}h", "action": "rotate-ca-key",
                           "target": target, "overlap": f"{_hours(draw, 0, 12)}h"})  # fmt: skip
    return {
        "name": "generated", "seed": draw(st.integers(0, 2**32)),
        "start": "2026-01-05T00:00:00Z", "duration": f"{days}d", "recovery_window": "2d",
        "sites": [{"name": n, "zones": ["imaging", "bedside", "datacenter"]}
                  for n in ("north", "south")],
        "services": [{"name": "pacs-north", "kind": "pacs", "site": "north", "zone": "datacenter"},
                     {"name": "pacs-south", "kind": "pacs", "site": "south", "zone": "datacenter"},
                     {"name": "ehr", "kind": "ehr", "site": "north", "zone": "datacenter"}],
        "network": [{"from": "imaging", "to": "pacs-north", "site": "north"},
                    {"from": "imaging", "to": "pacs-south", "site": "south"},
                    {"from": "imaging", "to": "ehr"}, {"from": "bedside", "to": "ehr"}],
        "pki": {"issuing": issuing,
                "lifetime": f"{_hours(draw, 24, 96)}h",
                "renew_at": draw(st.sampled_from([0.5, 0.66, 0.8])),
                "jitter": draw(st.sampled_from([0.0, 0.05, 0.1])),
                "renewal_retry": "1h", "crl_interval": f"{_hours(draw, 6, 24)}h",
                "crl_validity": "2d", "trust_distribution_delay": f"{_hours(draw, 0, 6)}h",
                "manual_recovery_delay": "4h", "manual_enrollment_delay": "2h"},
        "workload": {"interval": "2h", "retry": "30m"},
        "fleet": fleet,
        "faults": draw(st.lists(_fault(days, groups, kinds), max_size=4).filter(_one_skew)),
        "operations": operations,
    }  # fmt: skip
