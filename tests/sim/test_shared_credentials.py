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
