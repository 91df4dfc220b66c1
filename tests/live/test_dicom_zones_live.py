"""Where a live DICOM association's zone comes from (issue 12; docs/pacs.md, "Zones").

Every zone has its own loopback address (``endpoints.json`` ``zones``).  A peer bound
to one is in that zone and meets the network hop: its ``dicom-association`` event says
``zone_from: "source"``.  dcmtk cannot choose its source address and always comes from
``127.0.0.1``, no zone's: the acceptor takes the zone of the device the certificate
was registered to, ``zone_from: "registration"``.  The device here is registered in
``imaging``; bound to the ``office`` zone's address (no route to the PACS) it is
refused ``route-blocked``: the zone came from the source, not from the registration.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from typing import Any

import pytest
from pynetdicom import AE

from tests.live.conftest import StartServer
from tests.live.dicom_peer import ECHOSCU, dcmtk_missing
from tests.live.test_dicom_live import DICOM_SCENARIO, Bed, Device

pytestmark = pytest.mark.skipif(dcmtk_missing() is not None, reason=str(dcmtk_missing()))

SCENARIO = DICOM_SCENARIO.replace("name: live-dicom", "name: live-dicom-zones").replace(
    "{name: north, zones: [imaging]}", "{name: north, zones: [imaging, office]}"
)
VERIFICATION = "1.2.840.10008.1.1"


@pytest.fixture(scope="module")
def bed(start_server: StartServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bed]:
    scenario = tmp_path_factory.mktemp("scenario") / "live-dicom-zones.yaml"
    scenario.write_text(SCENARIO)
    bed = Bed(start_server(scenario), {})
    bed.enroll("Z1")
    yield bed


def _echo_from(bed: Bed, device: Device, address: str) -> bool:
    """C-ECHO over TLS from ``address`` (pynetdicom bound to it); whether it succeeded."""
    context = ssl.create_default_context(cafile=str(bed.live.bundle))
    context.check_hostname = False  # an IP address; the chain is checked
    context.load_cert_chain(str(device.cert), str(device.key))
    ae = AE(ae_title=device.ae_title)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 10
    ae.add_requested_context(VERIFICATION)
    assoc = ae.associate("127.0.0.1", int(bed.pacs["port"]), ae_title=bed.pacs["ae_title"],
                         tls_args=(context, "127.0.0.1"), bind_address=(address, 0))  # fmt: skip
    if not assoc.is_established:
        return False
    status: Any = assoc.send_c_echo()
    assoc.release()
    return bool(status) and int(status.Status) == 0


def _last_association(bed: Bed, since: int) -> dict[str, Any]:
    events = bed.events("dicom-association", since)
    assert events, "no dicom-association event"
    return events[-1]


def test_dcmtk_from_127_0_0_1_takes_the_zone_of_the_registration(bed: Bed) -> None:
    since = len(bed.live.events())
    assert bed.scu(ECHOSCU, bed.devices["Z1"]).returncode == 0
    event = _last_association(bed, since)
    assert (event["allowed"], event["zone_from"]) == (True, "registration")


def test_a_peer_from_its_zones_address_is_placed_by_the_source(bed: Bed) -> None:
    since = len(bed.live.events())
    assert _echo_from(bed, bed.devices["Z1"], bed.live.endpoints["zones"]["north/imaging"])
    event = _last_association(bed, since)
    assert (event["allowed"], event["zone_from"]) == (True, "source")


def test_a_peer_from_another_zones_address_is_judged_there(bed: Bed) -> None:
    since = len(bed.live.events())
    assert not _echo_from(bed, bed.devices["Z1"], bed.live.endpoints["zones"]["north/office"])
    event = _last_association(bed, since)
    assert (event["allowed"], event["reason"], event["zone_from"]) == (
        False, "route-blocked", "source")  # fmt: skip


def test_a_peer_from_an_address_of_no_zone_is_in_none(bed: Bed) -> None:
    since = len(bed.live.events())
    assert not _echo_from(bed, bed.devices["Z1"], "127.0.0.2")
    event = _last_association(bed, since)
    assert (event["allowed"], event["zone_from"]) == (False, "none")
