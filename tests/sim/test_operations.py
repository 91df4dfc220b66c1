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
    assert all(result.testbed.ca.revoked_at(int(serial, 16)) for serial in revoked)
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
        sim.run(faults=[{"kind": "expired-certificate", "target": "device:nobody-002",
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
