"""The identity provider and the EHR in the durable store: what was answered comes
back after a reopen, what a crash interrupted does not (in process, no sockets)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from testbed.fhir_access import request_token
from testbed.live.durable import open_hospital
from testbed.live.hospital import LiveHospital, Registration
from testbed.live.store import SqliteStore
from testbed.live.store_clinical import client_from_json, client_json
from testbed.smart.client import client_assertion, client_key, credentials_form, public_jwks
from testbed.smart.clients import ClientRegistry, ClientState
from tests.live.test_ehr_live import SCOPE, write_scenario


def test_a_client_round_trips_with_its_keys_url_secret_and_state() -> None:
    registry = ClientRegistry()
    key = client_key(7)
    inline = registry.register("a", device_id="dev-a", scopes="system/Observation.c",
                               jwks=public_jwks(key))  # fmt: skip
    by_url = registry.register("b", device_id="dev-b", scopes="system/Patient.read",
                               jwks_url="https://127.0.0.1:9/jwks")  # fmt: skip
    shared = registry.register("c", device_id="dev-c", scopes="system/*.rs", secret="s3cret")
    suspended = registry.set_state("a", ClientState.SUSPENDED)
    for client in (suspended, by_url, shared):
        assert client_from_json(client_json(client)) == client
    assert client_from_json(client_json(shared)).secret_matches("s3cret")
    assert inline.keys[0].kid == client_from_json(client_json(inline)).keys[0].kid


def _open(scenario: Path, root: Path) -> tuple[LiveHospital, SqliteStore]:
    opened = open_hospital(scenario, root, new=False)
    return opened.hospital, opened.store


def _token(live: LiveHospital, jti: str) -> str:
    clinical = live.hospital.clinical
    assert clinical is not None
    assertion = client_assertion(client_key(3), client_id="bedside-ai-writer-north-k1",
                                 token_url=clinical.urls.token_url, now=live.now(), jti=jti)
    answer = request_token(live.hospital, credentials_form(assertion, SCOPE), now=live.now())
    assert answer.response is not None
    body = answer.response.body
    return str(body["access_token"] if "access_token" in body else body["error"])


def test_a_reopened_store_gives_back_clients_tokens_jtis_and_resources(tmp_path: Path) -> None:
    scenario = write_scenario(tmp_path / "scenario")
    root = tmp_path / "state"
    root.mkdir()
    live, store = _open(scenario, root)
    clinical = live.hospital.clinical
    assert clinical is not None
    live.register(Registration("K1", "north", "bedside", "bedside-ai-writer"),
                  jwks=public_jwks(client_key(3)))  # fmt: skip
    with store.transaction():
        token = _token(live, "first")
    ehr = clinical.ehrs["ehr"]
    counts = {kind: ehr.store.count(kind) for kind in ("Encounter", "Device", "Patient")}
    kid = clinical.idp.signing_keys.current.kid
    store.close()

    again, store = _open(scenario, root)
    restored = again.hospital.clinical
    assert restored is not None
    assert restored.idp.signing_keys.current.kid == kid
    assert restored.idp.introspect(token, now=again.now())["active"] is True
    with store.transaction():
        assert _token(again, "first") == "invalid_client"  # the jti was kept
    ehr = restored.ehrs["ehr"]
    assert {kind: ehr.store.count(kind) for kind in counts} == counts
    assert ehr.registry.find("bedside-ai-writer-north-k1") is not None
    assert "bedside-ai-writer-north-k1" in restored.enrollments
    store.close()


def test_a_crash_inside_an_answer_keeps_none_of_it(tmp_path: Path) -> None:
    scenario = write_scenario(tmp_path / "scenario")
    root = tmp_path / "state"
    root.mkdir()
    live, store = _open(scenario, root)
    live.register(Registration("K1", "north", "bedside", "bedside-ai-writer"),
                  jwks=public_jwks(client_key(3)))  # fmt: skip
    with pytest.raises(RuntimeError), store.transaction():
        token = _token(live, "lost")
        store.crash()
        raise RuntimeError("kill -9")
    again, store = _open(scenario, root)
    clinical = again.hospital.clinical
    assert clinical is not None
    assert clinical.idp.introspect(token, now=again.now()) == {"active": False}
    with store.transaction():
        assert _token(again, "lost").count(".") == 2  # the jti was never kept: a new token
    store.close()
    shutil.rmtree(root)

