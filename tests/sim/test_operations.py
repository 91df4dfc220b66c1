"""Planned operator actions in a small simulated hospital: suspend, resume, offboard,
revoke and re-bootstrap.

The base scenario is the one of ``tests/sim/conftest.py`` (2-day certificates renewed
daily, hourly traffic).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from testbed.errors import ScenarioError
from testbed.events import EventKind

if TYPE_CHECKING:
    from tests.sim.conftest import Sim

CT_1 = "ct-ai-onbox-north-001"


def _operation(at: str, action: str) -> dict[str, str]:
    return {"at": at, "action": action, "target": f"device:{CT_1}"}


def test_a_renewal_refused_during_suspension_goes_ahead_at_resume(sim: type[Sim]) -> None:
    result = sim.run(operations=[_operation("1d2h", "suspend"), _operation("2d2h", "resume")])
    refused = sim.of_kind(result, EventKind.ENROLLMENT_REFUSED, CT_1)
    assert [(e.data["status"], e.data["reason"]) for e in refused] == [(403, "device-suspended")]
    assert sim.at("1d2h") < refused[0].time < sim.at("2d2h")
    renewed = [e.time for e in sim.of_kind(result, EventKind.CERTIFICATE_RENEWED, CT_1)]
    assert sim.at("2d2h") in renewed  # at the resume, before the certificate expires
    measures = result.report.measures
    assert measures["renewals_missed"] == 0
    assert measures["clinical_downtime_minutes"] == 0
    # a suspended device holds its data and sends it once resumed
    forwarded = sim.of_kind(result, EventKind.DATA_FORWARDED, CT_1)
    assert forwarded and forwarded[0].time == sim.at("2d2h")
    assert measures["data_lost"] == 0


def test_a_certificate_that_expires_during_suspension_is_rebootstrapped_after(
    sim: type[Sim],
) -> None:
    result = sim.run(operations=[_operation("1d2h", "suspend"), _operation("3d12h", "resume")])
    missed = sim.of_kind(result, EventKind.RENEWAL_MISSED, CT_1)
    assert len(missed) == 1 and missed[0].time < sim.at("3d12h")
    # the operator re-bootstraps once the incident is closed, not hourly while it lasts
    refused = sim.of_kind(result, EventKind.ENROLLMENT_REFUSED, CT_1)
    assert len(refused) == 1
    rebootstrap = [e for e in sim.of_kind(result, EventKind.POLICY_CHANGED, CT_1)
                   if e.data["change"] == "re-bootstrap"]  # fmt: skip
    assert len(rebootstrap) == 1
    assert sim.at("3d12h") <= rebootstrap[0].time < sim.at("3d13h")
    traffic = sim.decisions(result, CT_1)
    assert sim.reasons_between(traffic, sim.at("3d14h"), sim.at("6d")) == {"ok"}
    assert result.report.measures["recovered"] == 1


def test_offboarding_revokes_every_live_certificate_and_stops_renewal(sim: type[Sim]) -> None:
    result = sim.run(operations=[_operation("3d", "offboard")])
    steps = sim.of_kind(result, EventKind.OFFBOARDING_STEP, CT_1)
    assert [e.data["step"] for e in steps] == ["revoke-certificates", "remove-network-allowance",
                                               "invalidate-api-access", "mark-retired"]  # fmt: skip
    revoked = set(str(steps[0].data["serials"]).split(","))
    assert all(result.testbed.hospital.ca.revoked_at(int(serial, 16)) for serial in revoked)
    live = [e for e in sim.of_kind(result, EventKind.CERTIFICATE_RENEWED, CT_1)
            if sim.at("1d") <= e.time < sim.at("3d")]  # fmt: skip
    assert len(live) == 2 and {e.data["serial"] for e in live} <= revoked  # both unexpired
    renewed_after = [e for e in sim.of_kind(result, EventKind.CERTIFICATE_RENEWED, CT_1)
                     if e.time >= sim.at("3d")]  # fmt: skip
    assert renewed_after == []
    probes = [e for e in result.testbed.log.for_subject(CT_1)
              if e.kind is EventKind.ACCESS_DECISION and e.data["purpose"] == "stale-probe"]
    assert probes and {e.data["reason"] for e in probes} == {"device-retired"}
    measures = result.report.measures
    assert measures["devices_offboarded"] == 1
    assert measures["stale_access_after_offboarding"] == measures["unauthorized_access"] == 0


def test_a_target_naming_no_device_stops_before_the_run(sim: type[Sim]) -> None:
    """A scenario built in code skips the file checks; the run still refuses a target
    that names nothing, with the field's reason, when it is scheduled."""
    with pytest.raises(ScenarioError, match=r"an existing device id .*got 'nobody-001'"):
        sim.run(operations=[{"at": "1d", "action": "suspend", "target": "device:nobody-001"}])
    with pytest.raises(ScenarioError, match=r"an existing device id .*got 'nobody-002'"):
        sim.run(faults=[{"kind": "renewal-agent-broken", "target": "device:nobody-002",
                         "start": "1d", "end": "2d"}])  # fmt: skip


def test_revoke_then_rebootstrap_restores_the_device(sim: type[Sim]) -> None:
    """The incident playbook: revoke a suspect certificate, re-bootstrap the device
    (a fresh bootstrap secret, a new first enrollment with a new key)."""
    result = sim.run(operations=[_operation("1d1h", "revoke"), _operation("2d", "rebootstrap")])
    traffic = sim.decisions(result, CT_1)
    assert sim.reasons_between(traffic, sim.at("1d12h"), sim.at("2d")) == {"cert-revoked"}
    changes = sim.of_kind(result, EventKind.POLICY_CHANGED, CT_1)
    assert [(e.time, e.data["change"]) for e in changes] == [(sim.at("2d"), "re-bootstrap")]
    issued = sim.of_kind(result, EventKind.CERTIFICATE_ISSUED, CT_1)
    assert [e.time for e in issued][-1] == sim.at("2d")
    assert sim.reasons_between(traffic, sim.at("2d"), sim.at("6d")) == {"ok"}
    measures = result.report.measures
    assert measures["manual_steps"] == 2  # the revocation and the re-bootstrap
    assert measures["recovered"] == 1
    # without the re-bootstrap the revoked device stays refused and fails the check
    revoked_only = sim.run(operations=[_operation("1d1h", "revoke")])
    assert revoked_only.report.measures["recovered"] == 0.5


def test_rebootstrap_skips_devices_not_in_production(sim: type[Sim]) -> None:
    late = {"profile": "ct-ai-onbox", "count": 2, "site": "north", "zone": "imaging",
            "owner": "radiology", "onboard_at": "3d"}  # fmt: skip
    result = sim.run(fleet=[late], operations=[_operation("1d", "rebootstrap")])
    assert sim.of_kind(result, EventKind.POLICY_CHANGED, CT_1) == []
    assert len(sim.of_kind(result, EventKind.CERTIFICATE_ISSUED, CT_1)) == 1


def test_rebootstrap_while_awaiting_approval_gives_the_pending_enrollment_the_new_secret(
    sim: type[Sim],
) -> None:
    """As the live admin API does for a registered device: the old secret stops working,
    and the enrollment under way goes ahead with the new one once approved."""
    result = sim.run(pki={"manual_approval": True, "approval_delay": "1d"},
                     operations=[_operation("12h", "rebootstrap")])  # fmt: skip
    changes = sim.of_kind(result, EventKind.POLICY_CHANGED, CT_1)
    assert [(e.time, e.data["change"]) for e in changes] == [
        (sim.at("12h"), "re-bootstrap"), (sim.at("1d"), "enrollment-approved")]
    issued = sim.of_kind(result, EventKind.CERTIFICATE_ISSUED, CT_1)
    assert issued and sim.at("1d") <= issued[0].time < sim.at("1d1h")
    refused = sim.of_kind(result, EventKind.ENROLLMENT_REFUSED, CT_1)
    assert refused and {e.data["reason"] for e in refused} == {"pending-approval"}
    # an approval, a re-bootstrap: two manual steps for this device, one for the other
    assert result.report.measures["manual_steps"] == 3


def test_rebootstrap_while_suspended_enrolls_once_resumed(sim: type[Sim]) -> None:
    """A suspended device given a fresh secret tries it and is refused, as it would be
    live, until the incident is closed; then its new first enrollment goes through."""
    result = sim.run(operations=[_operation("1d2h", "suspend"), _operation("1d6h", "rebootstrap"),
                                 _operation("2d2h", "resume")])  # fmt: skip
    changes = sim.of_kind(result, EventKind.POLICY_CHANGED, CT_1)
    assert [(e.time, e.data["change"]) for e in changes] == [(sim.at("1d6h"), "re-bootstrap")]
    refused = [e for e in sim.of_kind(result, EventKind.ENROLLMENT_REFUSED, CT_1)
               if sim.at("1d6h") <= e.time < sim.at("2d2h")]  # fmt: skip
    assert refused and {e.data["reason"] for e in refused} == {"device-suspended"}
    first = [e for e in sim.of_kind(result, EventKind.CERTIFICATE_ISSUED, CT_1)
             if e.time >= sim.at("1d6h")]  # fmt: skip
    assert first and sim.at("2d2h") <= first[0].time <= sim.at("2d3h")
    assert result.report.measures["manual_steps"] == 3


def test_audit_coverage_is_read_from_the_log_not_assumed(sim: type[Sim]) -> None:
    """Decisions are counted where they are made and events by reading the log: a run
    whose log keeps nothing has no audit trail, and says so."""
    from pydantic import TypeAdapter

    from testbed.core import Testbed
    from testbed.report.build import build_report
    from testbed.report.record import record_from_testbed
    from testbed.scenario import Scenario

    scenario = TypeAdapter(Scenario).validate_python(sim.scenario())
    kept = sim.run()
    assert kept.report.measures["audit_coverage"] == 1
    counts = kept.report.to_dict()["counts"]
    assert counts["decisions"] > 0 and kept.testbed.hospital.est.answers > 0  # both sides counted
    tb = Testbed(scenario, keep_events=False)
    tb.run()
    assert build_report(record_from_testbed(tb)).measures["audit_coverage"] == 0


LEGACY = "legacy-ultrasound-north-001"
_WITH_LEGACY = [
    {"profile": "ct-ai-onbox", "count": 2, "site": "north", "zone": "imaging",
     "owner": "radiology"},
    {"profile": "legacy-ultrasound", "count": 1, "site": "north", "zone": "imaging",
     "owner": "radiology"},
]  # fmt: skip


def test_a_suspended_device_without_store_and_forward_loses_what_it_makes(
    sim: type[Sim],
) -> None:
    """Suspended for a day: the legacy ultrasound (no store and forward) loses each
    hour's item; the CT (store and forward) keeps its own and sends them at resume."""
    operations = [
        {"at": "2d", "action": "suspend", "target": "group:legacy-ultrasound-north"},
        {"at": "3d", "action": "resume", "target": "group:legacy-ultrasound-north"},
        _operation("2d", "suspend"),
        _operation("3d", "resume"),
    ]
    result = sim.run(fleet=_WITH_LEGACY, operations=operations)
    lost = sim.of_kind(result, EventKind.DATA_LOST, LEGACY)
    assert lost and {e.data["reason"] for e in lost} == {"suspended"}
    assert all(sim.at("2d") <= e.time <= sim.at("3d") for e in lost)
    assert sum(int(e.data["items"]) for e in lost) == 24  # one an hour, for a day
    assert not sim.of_kind(result, EventKind.DATA_LOST, CT_1)
    assert result.report.measures["data_lost"] == 24


def test_an_offboarded_device_leaves_with_the_data_it_held(sim: type[Sim]) -> None:
    """Blocked from the EHR for half a day, then offboarded: what it held is lost (and
    counted), not silently dropped."""
    block = {"kind": "blocked-route", "from": "imaging", "to": "ehr",
             "start": "2d", "end": "3d"}  # fmt: skip
    result = sim.run(faults=[block], operations=[_operation("2d12h", "offboard")])
    lost = sim.of_kind(result, EventKind.DATA_LOST, CT_1)
    assert [(e.data["service"], e.data["reason"], e.time) for e in lost] == [
        ("ehr", "device-retired", sim.at("2d12h"))
    ]
    assert int(lost[0].data["items"]) == 12  # twelve hours of EHR items
    assert result.report.measures["data_lost"] == 12


def test_a_device_that_never_reaches_production_has_not_recovered(sim: type[Sim]) -> None:
    """Manual approval that never comes within the run: the device is stuck enrolling;
    the run must not pass it as recovered, and its wait counts as onboarding time."""
    result = sim.run(pki={"manual_approval": True, "approval_delay": "30d"})
    measures = result.report.measures
    assert measures["devices_in_production"] == 0
    assert measures["recovered"] == 0
    assert measures["onboarding_minutes_max"] >= 6 * 24 * 60  # the whole run, waiting
    checks = sim.of_kind(result, EventKind.RECOVERY_CHECK, CT_1)
    assert [c.data["recovered"] for c in checks] == [False]
    assert "registered" in str(checks[0].data["detail"])


def test_items_still_held_at_the_end_are_reported(sim: type[Sim]) -> None:
    """A route blocked until the very end: the items are neither delivered nor lost."""
    block = {"kind": "blocked-route", "from": "imaging", "to": "ehr",
             "start": "5d", "end": "6d"}  # fmt: skip
    result = sim.run(faults=[block], recovery_window="1s")
    measures = result.report.measures
    assert measures["data_held_at_end"] > 0 and measures["data_lost"] == 0


def test_an_operation_that_does_nothing_is_no_manual_step(sim: type[Sim]) -> None:
    operations = [_operation("1d", "suspend"), _operation("1d1h", "suspend"),  # again: no-op
                  _operation("2d", "resume"), _operation("2d1h", "resume"),  # no-op
                  _operation("3d", "revoke"), _operation("3d1h", "revoke")]  # fmt: skip
    result = sim.run(operations=operations)
    assert sim.run().report.measures["manual_steps"] == 0
    assert result.report.measures["manual_steps"] == 3


def test_a_planned_offboarding_of_a_device_already_offboarded_is_no_step(
    sim: type[Sim],
) -> None:
    fleet = [{"profile": "ct-ai-onbox", "count": 2, "site": "north", "zone": "imaging",
              "owner": "radiology", "offboard_at": "3d"}]  # fmt: skip
    result = sim.run(fleet=fleet, operations=[_operation("2d", "offboard")])
    assert result.report.measures["devices_offboarded"] == 2
    assert result.report.measures["manual_steps"] == 2  # CT_1 once, the other at 3d


def test_items_a_suspended_device_still_holds_at_the_end_are_reported(sim: type[Sim]) -> None:
    """Suspended (with store and forward) until the end: what it made since is held."""
    result = sim.run(operations=[_operation("5d", "suspend")])
    measures = result.report.measures
    assert measures["data_held_at_end"] > 0 and measures["data_lost"] == 0
