"""A design in live mode: the flagship pilot served under the flat design, whose
devices would hold a shared credential in the simulation.  Live clients enroll and
present certificates whatever the design, so the TLS hop decides them as in any other
design; the design's network lets every zone through (no filtering)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from testbed.errors import LiveError
from testbed.live.admin_client import admin_request

if TYPE_CHECKING:
    from pathlib import Path

    from tests.live.conftest import Live, StartServer

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def flat(start_server: StartServer, repo_root: Path,
         tmp_path_factory: pytest.TempPathFactory) -> Live:  # fmt: skip
    data = yaml.safe_load((repo_root / "scenarios" / "two-site-pilot.yaml").read_text())
    data["design"] = "flat-shared-credentials"
    data.pop("network", None)
    scenario = tmp_path_factory.mktemp("scenario") / "pilot-flat.yaml"
    scenario.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return start_server(scenario)


def _ping(live: Live, service: str, *args: str) -> tuple[int, dict[str, Any]]:
    status, body = live.curl(f"{live.endpoints['services']}/{service}/ping", *args)
    return status, json.loads(body)


def test_a_certificate_is_decided_by_the_tls_hop_under_the_flat_design(flat: Live) -> None:
    device_id, key, certificate = flat.enroll("FLAT1")
    mtls = ("--cert", str(certificate), "--key", str(key))
    for zone in ("north/imaging", "north/bedside"):  # flat: every zone reaches the PACS
        status, answer = _ping(flat, "pacs-north", *mtls, "--interface",
                               flat.endpoints["zones"][zone])  # fmt: skip
        assert (status, answer["reason"]) == (200, "ok"), zone
    status, answer = _ping(flat, "pacs-north", *mtls)  # from 127.0.0.1: no zone
    assert (status, answer["reason"], answer["hop"]) == (403, "route-blocked", "network")
    done = flat.cli("devices", "revoke", "--state-dir", str(flat.state), device_id)
    assert done.returncode == 0, done.stderr.decode()
    imaging = flat.endpoints["zones"]["north/imaging"]
    status, answer = _ping(flat, "pacs-north", *mtls, "--interface", imaging)
    assert (status, answer["reason"], answer["hop"]) == (403, "cert-revoked", "tls")


def test_without_a_certificate_or_credential_the_device_is_refused(flat: Live) -> None:
    device_id, _ = flat.register("FLAT2")
    imaging = flat.endpoints["zones"]["north/imaging"]
    status, answer = _ping(flat, "pacs-north", "--interface", imaging,
                           "-H", f"X-Device-Id: {device_id}")  # fmt: skip
    assert (status, answer["reason"], answer["hop"]) == (403, "cert-missing", "tls")


def test_the_admin_api_says_where_a_profile_may_reach_a_service(flat: Live) -> None:
    """What pacs-check asks to place its devices: under the flat design every zone."""
    answer = admin_request(flat.state, "/network/zones?service=pacs-north&profile=ct-ai-onbox",
                           method="GET")  # fmt: skip
    allowed = {(z["site"], z["zone"]) for z in answer["zones"] if z["allowed"]}
    assert len(allowed) == 6
    with pytest.raises(LiveError, match="profile: no 'nope'"):
        admin_request(flat.state, "/network/zones?service=pacs-north&profile=nope",
                      method="GET")  # fmt: skip
    with pytest.raises(LiveError, match=r"give \?service=NAME&profile=ID"):
        admin_request(flat.state, "/network/zones", method="GET")
