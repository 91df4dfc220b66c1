"""Small simulated hospitals for the simulation tests: one scenario, one fault.

The ``sim`` fixture is :class:`Sim`: :meth:`Sim.scenario` is a two-site hospital
with a few devices over a few days (hourly traffic, short certificates), so each run
takes about a second; a test changes what it needs (faults, operations, PKI
settings, fleet) and reads the run's events.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from pydantic import TypeAdapter

from testbed.events import Event, EventKind
from testbed.runner import RunResult, run_scenario
from testbed.scenario import Scenario
from testbed.units import parse_duration

START = datetime.fromisoformat("2026-01-05T00:00:00+00:00")
CT_NORTH = "ct-ai-onbox-north-001"  # the first device; its group is ct-ai-onbox-north
CT_NORTH_2 = "ct-ai-onbox-north-002"


class Sim:
    """Build, run and read small scenarios (see the module docstring)."""

    @staticmethod
    def scenario(**changes: Any) -> dict[str, Any]:
        """The base scenario as a mapping, with top-level keys replaced by ``changes``
        (``pki`` is merged into the base PKI settings)."""
        base: dict[str, Any] = {
            "name": "sim-test",
            "seed": 11,
            "start": "2026-01-05T00:00:00Z",
            "duration": "6d",
            "recovery_window": "2d",
            "sites": [
                {"name": "north", "zones": ["imaging", "datacenter"]},
                {"name": "south", "zones": ["imaging", "datacenter"]},
            ],
            "services": [
                {"name": "pacs-north", "kind": "pacs", "site": "north", "zone": "datacenter"},
                {"name": "pacs-south", "kind": "pacs", "site": "south", "zone": "datacenter"},
                {"name": "ehr", "kind": "ehr", "site": "north", "zone": "datacenter"},
            ],
            "network": [
                {"from": "imaging", "to": "pacs-north", "site": "north"},
                {"from": "imaging", "to": "pacs-south", "site": "south"},
                {"from": "imaging", "to": "ehr"},
            ],
            "pki": {"lifetime": "2d", "renew_at": 0.5, "jitter": 0.0, "renewal_retry": "1h",
                    "crl_interval": "12h", "crl_validity": "2d",
                    "trust_distribution_delay": "1h"},
            "workload": {"interval": "1h", "retry": "10m"},
            "fleet": [
                {"profile": "ct-ai-onbox", "count": 2, "site": "north", "zone": "imaging",
                 "owner": "radiology"},
            ],
        }
        pki = {**base["pki"], **changes.pop("pki", {})}
        return {**base, **changes, "pki": pki}


    @staticmethod
    def run(**changes: Any) -> RunResult:
        """Run :meth:`scenario` with ``changes``."""
        data = Sim.scenario(**changes)
        return run_scenario(TypeAdapter(Scenario).validate_python(data))


    @staticmethod
    def at(offset: str) -> datetime:
        """The scenario time ``offset`` (a scenario duration: ``"2d"``, ``"2d8h"``) after
        the start."""
        return START + parse_duration(offset)


    @staticmethod
    def decisions(result: RunResult, device_id: str, *, service: str | None = None) -> list[Event]:
        """The device's traffic decisions (pre-production tests left out), in order."""
        return [
            e for e in result.testbed.log.for_subject(device_id)
            if e.kind is EventKind.ACCESS_DECISION and e.data["purpose"] == "traffic"
            and (service is None or e.data["service"] == service)
        ]  # fmt: skip


    @staticmethod
    def of_kind(result: RunResult, kind: EventKind, subject: str | None = None) -> list[Event]:
        """Every event of ``kind`` (about ``subject``, if given), in order."""
        return [e for e in result.testbed.log.of_kind(kind) if subject in (None, e.subject)]


    @staticmethod
    def reasons_between(events: list[Event], start: datetime, end: datetime) -> set[str]:
        """The decision reasons of ``events`` with ``start <= time < end``."""
        return {str(e.data["reason"]) for e in events if start <= e.time < end}


@pytest.fixture
def sim() -> type[Sim]:
    """The helpers of this directory's tests."""
    return Sim
