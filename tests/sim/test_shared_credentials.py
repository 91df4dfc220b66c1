"""A ``credentials: shared`` design (the flat network with shared credentials, seed §9
row 1) in the simulation: its devices hold their department's shared credential, not
a certificate, so nothing is enrolled or renewed and a CA outage stops nobody; the
access path decides on the shared credential; offboarding one device cannot take it
back, so its stale probes get through and the oracle counts them."""

from __future__ import annotations

from testbed.events import EventKind
from testbed.runner import RunResult

from .conftest import CT_NORTH, CT_NORTH_2, Sim

FLAT, CENTRAL = "flat-shared-credentials", "central-ca-automated-renewal"
OUTAGE = {"kind": "ca-outage", "start": "1d", "end": "4d"}  # longer than the 2d lifetime
OFFBOARD = {"at": "3d", "action": "offboard", "target": f"device:{CT_NORTH}"}


def _run(sim: type[Sim], design: str, **changes: object) -> RunResult:
    return sim.run(design=design, network=[], **changes)


def test_devices_hold_the_shared_credential_and_no_certificate(sim: type[Sim]) -> None:
    result = _run(sim, FLAT)
    m = result.report.measures
    assert result.report.data["counts"]["certificates_issued"] == 0
    assert result.report.data["counts"]["enrollments"] == 0
    assert m["renewals_done"] == m["renewals_missed"] == 0
    assert m["unauthorized_access"] == 0 and m["data_lost"] == 0
    hospital = result.testbed.hospital
    assert hospital.shared is not None
    for agent in result.testbed.agents:
        assert agent.certificate is None
        assert agent.shared_credential == hospital.shared.issue("radiology")
    traffic = sim.decisions(result, CT_NORTH)
    assert traffic and all(e.data["allowed"] and e.data["serial"] is None for e in traffic)
    # the lifecycle still runs: registered, enrolled (handed the credential), production
    moves = sim.of_kind(result, EventKind.DEVICE_TRANSITION, CT_NORTH)
    assert [e.data["target"] for e in moves] == ["registered", "enrolled", "validated",
                                                  "production"]  # fmt: skip


def test_a_ca_outage_longer_than_the_lifetime_stops_nobody(sim: type[Sim]) -> None:
    flat = _run(sim, FLAT, faults=[OUTAGE])
    central = _run(sim, CENTRAL, faults=[OUTAGE])
    assert flat.report.measures["clinical_downtime_minutes"] == 0
    assert {e.data["reason"] for e in sim.decisions(flat, CT_NORTH)} == {"ok"}
    # the same outage under certificates: they expire and traffic stops
    assert central.report.measures["clinical_downtime_minutes"] > 0
    assert central.report.measures["renewals_missed"] > 0


def test_offboarding_cannot_take_a_shared_credential_back(sim: type[Sim]) -> None:
    flat = _run(sim, FLAT, operations=[OFFBOARD])
    probes = [e for e in flat.testbed.log.for_subject(CT_NORTH)
              if e.kind is EventKind.ACCESS_DECISION and e.data["purpose"] == "stale-probe"]
    assert probes and all(e.data["allowed"] for e in probes)  # 3 probes x its services
    unauthorized = sim.of_kind(flat, EventKind.UNAUTHORIZED_ACCESS, CT_NORTH)
    assert len(unauthorized) == len(probes)
    assert {e.data["state"] for e in unauthorized} == {"retired"}
    m = flat.report.measures
    assert m["stale_access_after_offboarding"] == m["unauthorized_access"] == len(probes)
    # its department's other device keeps working with the same credential
    assert {e.data["reason"] for e in sim.decisions(flat, CT_NORTH_2)} == {"ok"}
    # with certificates, the revocation and NAC refuse the same probes
    central = _run(sim, CENTRAL, operations=[OFFBOARD])
    assert central.report.measures["stale_access_after_offboarding"] == 0
    assert central.report.measures["unauthorized_access"] == 0


ROTATE = {"at": "3d1m", "action": "rotate-shared-credential", "target": f"device:{CT_NORTH}"}


def test_rotating_the_department_credential_takes_it_from_the_offboarded_device(
    sim: type[Sim],
) -> None:
    """The remedy the flat design has: a new credential for the department.  The
    offboarded device's probes are refused from then on; the department's other device
    is handed the new one by hand (a manual step each) and keeps delivering."""
    kept = _run(sim, FLAT, operations=[OFFBOARD])
    rotated = _run(sim, FLAT, operations=[OFFBOARD, ROTATE])
    (rotation,) = rotated.testbed.log.of_kind(EventKind.SHARED_CREDENTIAL_ROTATED)
    assert (rotation.subject, rotation.data["generation"]) == ("radiology", 1)
    handed = rotated.testbed.log.of_kind(EventKind.SHARED_CREDENTIAL_HANDED)
    in_service = [a.device_id for a in rotated.testbed.agents
                  if a.record.owner == "radiology" and not a.retired]  # fmt: skip
    assert sorted(e.subject for e in handed) == sorted(in_service) and CT_NORTH_2 in in_service
    m, before = rotated.report.measures, kept.report.measures
    assert m["manual_steps"] == before["manual_steps"] + 1 + len(in_service)
    # after the rotation the retired device's old credential is no department's
    probes = [e for e in rotated.testbed.log.for_subject(CT_NORTH)
              if e.kind is EventKind.ACCESS_DECISION and e.data["purpose"] == "stale-probe"]
    late = [e for e in probes if e.time > rotation.time]
    assert late and not any(e.data["allowed"] for e in late)
    # no longer vouched for by a valid credential, it is what the inventory says it is
    assert {e.data["reason"] for e in late} == {"device-retired"}
    assert m["stale_access_after_offboarding"] < before["stale_access_after_offboarding"]
    assert m["stale_access_after_offboarding"] == len([e for e in probes if e.data["allowed"]])
    # the other device was handed the new credential at once: it was never refused
    assert {e.data["reason"] for e in sim.decisions(rotated, CT_NORTH_2)} == {"ok"}
    assert m["clinical_downtime_minutes"] == before["clinical_downtime_minutes"]
    hospital = rotated.testbed.hospital
    assert hospital.shared is not None
    assert rotated.testbed.by_id[CT_NORTH_2].shared_credential == hospital.shared.issue("radiology")
    assert not hospital.shared.valid(rotated.testbed.by_id[CT_NORTH].shared_credential)


def test_a_rotation_under_a_certificate_design_does_nothing(sim: type[Sim]) -> None:
    """One scenario can be compared under every design: where no shared credential
    exists the operation is nothing done (no event, no manual step)."""
    plain = _run(sim, CENTRAL, operations=[OFFBOARD])
    rotated = _run(sim, CENTRAL, operations=[OFFBOARD, ROTATE])
    assert not rotated.testbed.log.of_kind(EventKind.SHARED_CREDENTIAL_ROTATED)
    assert rotated.report.measures == plain.report.measures


def test_a_revoked_device_is_not_handed_the_rotated_credential(sim: type[Sim]) -> None:
    """Rotating right after revoking a stolen device takes the credential from it: the
    operator hands the new one to the department's other devices only."""
    revoke = {"at": "2d", "action": "revoke", "target": f"device:{CT_NORTH}"}
    rotate = {"at": "2d1m", "action": "rotate-shared-credential", "target": f"device:{CT_NORTH}"}
    kept = _run(sim, FLAT, operations=[revoke])
    rotated = _run(sim, FLAT, operations=[revoke, rotate])
    handed = {e.subject for e in rotated.testbed.log.of_kind(EventKind.SHARED_CREDENTIAL_HANDED)}
    assert CT_NORTH not in handed and CT_NORTH_2 in handed
    (rotation,) = rotated.testbed.log.of_kind(EventKind.SHARED_CREDENTIAL_ROTATED)
    late = [e for e in sim.decisions(rotated, CT_NORTH) if e.time > rotation.time]
    assert late and not any(e.data["allowed"] for e in late)
    unauthorized = sim.of_kind(rotated, EventKind.UNAUTHORIZED_ACCESS, CT_NORTH)
    assert all(e.time <= rotation.time for e in unauthorized)
    assert (rotated.report.measures["unauthorized_access"]
            < kept.report.measures["unauthorized_access"])  # fmt: skip
