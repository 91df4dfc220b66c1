"""Drift scans: which disagreements between the inventory and the CA, the IdP or the
EHRs (:meth:`testbed.hospital.Hospital.drift`) are new since the last scan.

One watch per hospital. A scan alerts each disagreement once, when it is first found
(one ``drift-detected`` event); one that goes away and comes back alerts again. The
simulation scans daily (:mod:`testbed.sim.schedule`); live mode scans when an operator
asks (``testbed devices drift``, ``POST /drift/scan``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from testbed.events import EventKind, EventLog
from testbed.inventory import Drift, DriftKind

if TYPE_CHECKING:
    from testbed.hospital import Hospital

__all__ = ["DriftScan", "DriftWatch"]


@dataclass(frozen=True, slots=True)
class DriftScan:
    """What one scan found: every disagreement now, and those not alerted before."""

    found: list[Drift]
    new: list[Drift]


@dataclass(slots=True)
class DriftWatch:
    """The disagreements already alerted (device id and kind)."""

    open: set[tuple[str, DriftKind]] = field(default_factory=set)

    def scan(self, hospital: Hospital, log: EventLog, now: datetime) -> DriftScan:
        """Compare now; write one ``drift-detected`` event per new disagreement."""
        found = hospital.drift(now)
        new = [d for d in found if (d.device_id, d.kind) not in self.open]
        self.open = {(d.device_id, d.kind) for d in found}
        for drift in new:
            log.emit(now, EventKind.DRIFT_DETECTED, drift.device_id,
                     drift=drift.kind.value, detail=drift.detail)  # fmt: skip
        return DriftScan(found, new)
