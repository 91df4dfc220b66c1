"""A change of a PACS's trust reaches the live DICOM TLS acceptor without a restart
(issue 12, point 2: the TLS context is rebuilt when the hospital's revision moves or a
distributed bundle arrives).  dcmtk is the only device.

- A CA key rotation: a device enrolled under the new issuing CA, presenting its leaf
  alone, is refused at the handshake until the new bundle reaches the PACS's site
  (the scenario's distribution delay: no revision moves then), then accepted by the
  same running server.
- ``pacs-trust-missing`` begun over the admin API: a device accepted before is
  refused at the next handshake (``cert-untrusted-at-site``), and accepted again once
  the fault ends.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.live.conftest import StartServer
from tests.live.dicom_peer import ECHOSCU, dcmtk, dcmtk_missing
from tests.live.test_dicom_live import DICOM_SCENARIO, HANDSHAKE_TIMEOUT, Bed, Device

pytestmark = pytest.mark.skipif(dcmtk_missing() is not None, reason=str(dcmtk_missing()))

DELAY = 8.0  # seconds from a CA rotation until the new bundle reaches the site (room to spare)
SCENARIO = DICOM_SCENARIO.replace("name: live-dicom", "name: live-dicom-trust").replace(
    "pki:\n", f"pki:\n  trust_distribution_delay: {int(DELAY)}s\n"
)


@pytest.fixture(scope="module")
def bed(start_server: StartServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bed]:
    scenario = tmp_path_factory.mktemp("scenario") / "live-dicom-trust.yaml"
    scenario.write_text(SCENARIO)
    live = start_server(scenario, "--handshake-timeout", str(HANDSHAKE_TIMEOUT))
    yield Bed(live, {})


def test_a_device_of_a_new_issuing_ca_connects_once_the_bundle_arrives(bed: Bed) -> None:
    before = bed.enroll("T1")
    assert bed.scu(ECHOSCU, before).returncode == 0
    # the device's own trust store as it was: OpenSSL would otherwise send the new
    # issuing CA it finds there with the leaf, and the handshake would not need the
    # acceptor's store to hold it
    old_bundle = bed.live.work / "bundle-before-rotation.pem"
    old_bundle.write_bytes(bed.live.bundle.read_bytes())
    status, body = bed.live.admin("/ca/rotate", "-d", '{"overlap_seconds": 0}')
    assert status == 200, body
    rotated = time.monotonic()
    after = bed.enroll("T2")  # issued by the new generation
    leaf = _leaf_only(after.cert)  # the acceptor's own trust store must hold its issuer
    since = len(bed.live.events())
    early = _echo(bed, after, leaf, old_bundle)
    assert time.monotonic() - rotated < DELAY, "too slow to see the bundle still on its way"
    assert early.returncode != 0, "trusted before the bundle reached the PACS's site"
    assert "cert-untrusted-at-site" in {e["cause"] for e in bed.handshake_refusals(since)}
    assert bed.scu(ECHOSCU, before).returncode == 0  # the old generation still trusted
    time.sleep(max(0.0, DELAY - (time.monotonic() - rotated)) + 0.5)
    late = _echo(bed, after, leaf, old_bundle)
    assert late.returncode == 0, late.stderr  # same server process: no restart
    assert bed.live.process.poll() is None


def _echo(bed: Bed, device: Device, cert: Path, bundle: Path) -> Any:
    return dcmtk(ECHOSCU, port=int(bed.pacs["port"]), called=bed.pacs["ae_title"],
                 calling=device.ae_title, bundle=bundle, key=device.key, cert=cert)


def _leaf_only(chain: Path) -> Path:
    """The first certificate of a PEM chain file (the device's leaf), in its own file."""
    marker = "-----END CERTIFICATE-----\n"
    path = chain.with_name(f"{chain.stem}.leaf.pem")
    path.write_text(chain.read_text().split(marker)[0] + marker)
    return path


def test_a_pacs_that_loses_trust_refuses_at_the_next_handshake(bed: Bed) -> None:
    device = bed.enroll("T3")
    assert bed.scu(ECHOSCU, device).returncode == 0
    since = len(bed.live.events())
    status, body = bed.live.admin("/faults/pacs-trust-missing", "-d",
                                  '{"action": "begin", "site": "north"}')  # fmt: skip
    assert status == 200, body
    refused = bed.scu(ECHOSCU, device)
    assert refused.returncode != 0  # at the handshake: the context holds no CA now
    assert "cert-untrusted-at-site" in {e["cause"] for e in bed.handshake_refusals(since)}
    status, body = bed.live.admin("/faults/pacs-trust-missing", "-d",
                                  '{"action": "end", "site": "north"}')  # fmt: skip
    assert status == 200, body
    again = bed.scu(ECHOSCU, device)
    assert again.returncode == 0, again.stderr
    faults = [(e["kind"], e["fault"]) for e in bed.live.events()[since:]
              if e["kind"] in ("fault-started", "fault-healed")]  # fmt: skip
    assert faults == [("fault-started", "pacs-trust-missing"),
                      ("fault-healed", "pacs-trust-missing")]  # fmt: skip


def test_ending_a_trust_fault_not_in_progress_is_409(bed: Bed) -> None:
    status, body = bed.live.admin("/faults/pacs-trust-missing", "-d",
                                  '{"action": "end", "site": "north"}')  # fmt: skip
    assert status == 409, body
    status, body = bed.live.admin("/faults/pacs-trust-missing", "-d", '{"action": "begin"}')
    assert status == 400 and b"site" in body, body
