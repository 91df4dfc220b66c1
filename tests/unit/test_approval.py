"""Manual approval of a device's enrollment: the state change and event shared by the
simulation and live mode, and what EST answers before and after it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from testbed.approval import approve_enrollment
from testbed.decisions import Reason
from testbed.errors import RegistrationError
from testbed.events import EventKind
from testbed.lifecycle import LifecycleEvent

NOW = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)  # the shared Hospital fixture's start


def test_est_answers_202_until_approved_then_issues(hospital: Any) -> None:
    hospital.register("ct-1")
    hospital.inventory.entry("ct-1").approved = False  # registered pending
    pending = hospital.simpleenroll("ct-1")
    assert (pending.status, pending.reason) == (202, Reason.PENDING_APPROVAL)
    assert dict(pending.headers)["Retry-After"].isdigit()
    later = NOW + timedelta(hours=2)
    assert approve_enrollment("ct-1", inventory=hospital.inventory, log=hospital.log, now=later)
    events = [e for e in hospital.log.of_kind(EventKind.POLICY_CHANGED) if e.subject == "ct-1"]
    assert [(e.time, e.data) for e in events] == [(later, {"change": "enrollment-approved"})]
    assert hospital.simpleenroll("ct-1", now=later).status == 200


def test_approving_twice_changes_nothing_the_second_time(hospital: Any) -> None:
    hospital.register("ct-1")
    hospital.inventory.entry("ct-1").approved = False
    args = {"inventory": hospital.inventory, "log": hospital.log, "now": NOW}
    assert approve_enrollment("ct-1", **args) is True
    assert approve_enrollment("ct-1", **args) is False
    assert len(hospital.log.of_kind(EventKind.POLICY_CHANGED)) == 1


def test_unknown_or_retired_devices_cannot_be_approved(hospital: Any) -> None:
    args = {"inventory": hospital.inventory, "log": hospital.log, "now": NOW}
    with pytest.raises(RegistrationError, match="'nobody' is not registered"):
        approve_enrollment("nobody", **args)
    hospital.register("ct-1")
    hospital.inventory.entry("ct-1").approved = False
    hospital.transition("ct-1", LifecycleEvent.OFFBOARD)
    with pytest.raises(RegistrationError, match="'ct-1' is retired"):
        approve_enrollment("ct-1", **args)
    assert not hospital.inventory.entry("ct-1").approved
    assert hospital.log.of_kind(EventKind.POLICY_CHANGED) == []
