"""Issue 11, live: a design's ``certificate_bound_tokens`` (RFC 8705) is honoured by
``testbed serve`` as by the simulation (tests/sim/test_ehr_faults.py).  The live EHR
scenario under zero-trust-microsegmentation, which sets it: discovery says tokens are
certificate-bound, a token asked for with the device certificate carries its
thumbprint and writes, a token request without a certificate is refused."""

from __future__ import annotations

import json
import ssl
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.live.ehr_scenario import SCOPE, write_scenario
from tests.live.smart_client import ASSERTION_TYPE, Device, SigningKey, enroll, observation
from tests.live.test_ehr_live import in_progress, location_of, thumbprint, verified_claims

if TYPE_CHECKING:
    from tests.live.conftest import Live, StartServer

pytestmark = pytest.mark.live


def zero_trust(directory: Path) -> Path:
    path = write_scenario(directory)
    text = path.read_text()
    network = "network:\n  - {from: bedside, to: ehr}\n"
    assert network in text
    path.write_text(text.replace(network, "design: zero-trust-microsegmentation\n"))
    return path


def test_the_zero_trust_design_binds_tokens_live(
    start_server: StartServer, tmp_path_factory: pytest.TempPathFactory
) -> None:
    live: Live = start_server(zero_trust(tmp_path_factory.mktemp("scenario")))
    key = SigningKey("bound-1")
    jwks = live.work / "bound.jwks.json"
    jwks.write_text(json.dumps(key.jwks()))
    done = live.cli("devices", "register", "--state-dir", str(live.state), "--serial", "B1",
                    "--site", "north", "--zone", "bedside", "--profile", "bedside-ai-writer",
                    "--jwks", str(jwks))  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()
    answer = json.loads(done.stdout)
    device_id = answer["device_id"]
    tls = enroll(live.endpoints["est"], live.bundle, live.work, device_id,
                 answer["bootstrap"]["password"])  # fmt: skip
    source = live.endpoints["zones"]["north/bedside"]
    client = Device.connect(device_id, key, bundle=live.bundle, tls=tls, source=source)
    context = ssl.create_default_context(cafile=str(live.bundle))
    anonymous = httpx.Client(transport=httpx.HTTPTransport(verify=context, local_address=source),
                             timeout=20)  # fmt: skip
    try:
        configuration = client.discover(live.endpoints["smart_configuration"])
        assert configuration["tls_client_certificate_bound_access_tokens"] is True
        token = client.token(SCOPE)["access_token"]
        assert verified_claims(client, live, token)["cnf"]["x5t#S256"] == thumbprint(client)
        fhir = live.endpoints["fhir"]
        here = [e for e in in_progress(client, fhir, token) if location_of(e) == answer["location"]]
        created = client.create(f"{fhir}/Observation", token,
                                observation(here[0]["subject"]["reference"],
                                            f"Encounter/{here[0]['id']}", device_id, 70))
        assert created.status_code == 201, created.text
        form = {"grant_type": "client_credentials", "scope": SCOPE,
                "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": key.assertion(device_id, client.token_url)}  # fmt: skip
        refused = anonymous.post(client.token_url, data=form)  # no device certificate
        assert refused.status_code == 400, refused.text
        assert refused.json()["error"] == "invalid_request"
    finally:
        client.http.close()
        anonymous.close()
    reasons = [e["reason"] for e in live.events()
               if e["kind"] == "token-refused" and e["subject"] == device_id]  # fmt: skip
    assert reasons == ["cert-binding-required"]
