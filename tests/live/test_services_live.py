"""A device action against a live service, with curl as the device: the access point
decides, at the hospital's time, from the zone of the connection's source address.

The pilot's north imaging zone is ``127.1.1.1`` (``zones`` in ``endpoints.json``); its
CT scanners may reach ``pacs-north``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pathlib import Path

    from tests.live.conftest import Live, StartServer

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def pilot(start_server: StartServer, repo_root: Path) -> Live:
    return start_server(repo_root / "scenarios" / "two-site-pilot.yaml")


def _ping(live: Live, service: str, *args: str) -> tuple[int, dict[str, Any]]:
    status, body = live.curl(f"{live.endpoints['services']}/{service}/ping", *args)
    return status, json.loads(body)


def test_a_device_reaches_its_service_only_from_its_zone(pilot: Live) -> None:
    device_id, key, certificate = pilot.enroll("SVC1")
    imaging = pilot.endpoints["zones"]["north/imaging"]
    assert imaging == "127.1.1.1"
    mtls = ("--cert", str(certificate), "--key", str(key))
    status, answer = _ping(pilot, "pacs-north", *mtls, "--interface", imaging)
    assert (status, answer["allowed"], answer["reason"]) == (200, True, "ok")
    status, answer = _ping(pilot, "pacs-north", *mtls)  # from 127.0.0.1: no zone
    assert (status, answer["reason"], answer["hop"]) == (403, "route-blocked", "network")
    bedside = pilot.endpoints["zones"]["north/bedside"]  # no route from bedside to the PACS
    status, answer = _ping(pilot, "pacs-north", *mtls, "--interface", bedside)
    assert (status, answer["reason"]) == (403, "route-blocked")
    done = pilot.cli("devices", "revoke", "--state-dir", str(pilot.state), device_id)
    assert done.returncode == 0, done.stderr.decode()
    status, answer = _ping(pilot, "pacs-north", *mtls, "--interface", imaging)
    assert (status, answer["reason"], answer["hop"]) == (403, "cert-revoked", "tls")
    decisions = [e for e in pilot.events()
                 if e["kind"] == "access-decision" and e["subject"] == device_id]  # fmt: skip
    assert [e["reason"] for e in decisions] == ["ok", "route-blocked", "route-blocked",
                                                "cert-revoked"]  # fmt: skip


def test_without_a_certificate_the_claimed_device_is_refused(pilot: Live) -> None:
    device_id, _ = pilot.register("SVC2")
    imaging = pilot.endpoints["zones"]["north/imaging"]
    status, answer = _ping(pilot, "pacs-north", "--interface", imaging,
                           "-H", f"X-Device-Id: {device_id}")  # fmt: skip
    assert (status, answer["reason"], answer["hop"]) == (403, "cert-missing", "tls")


def test_an_unknown_service_is_404(pilot: Live) -> None:
    status, answer = _ping(pilot, "lab")
    assert status == 404 and "pacs-north" in answer["error"]
