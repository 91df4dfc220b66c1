"""The identity provider and the EHR survive ``kill -9``: clients, their keys and
states, issued tokens (introspection), spent assertion ids, the IdP's signing key and
every FHIR resource (the census, moves, writes), with the device still a PyJWT + httpx
client (tests/live/smart_client.py)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.live.ports import free_port
from tests.live.smart_client import Device, SigningKey, enroll, observation
from tests.live.test_ehr_live import SCOPE, in_progress, introspect, location_of, write_scenario

if TYPE_CHECKING:
    from tests.live.conftest import Live, StartServer

pytestmark = pytest.mark.live


def _connect(live: Live, answer: dict[str, object], key: SigningKey,
             tls: tuple[Path, Path]) -> Device:  # fmt: skip
    client = Device.connect(str(answer["device_id"]), key, bundle=live.bundle, tls=tls,
                            source=live.endpoints["zones"]["north/bedside"])  # fmt: skip
    client.discover(live.endpoints["smart_configuration"])
    return client


def _register(
    live: Live, serial: str, key: SigningKey
) -> tuple[dict[str, object], tuple[Path, Path]]:
    jwks = live.work / f"{serial}.jwks.json"
    jwks.write_text(json.dumps(key.jwks()))
    done = live.cli("devices", "register", "--state-dir", str(live.state), "--serial", serial,
                    "--site", "north", "--zone", "bedside", "--profile", "bedside-ai-writer",
                    "--jwks", str(jwks))  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()
    answer = json.loads(done.stdout)
    tls = enroll(live.endpoints["est"], live.bundle, live.work, answer["device_id"],
                 answer["bootstrap"]["password"])  # fmt: skip
    return answer, tls


def test_the_idp_and_the_ehr_continue_after_kill_9(
    start_server: StartServer, tmp_path_factory: pytest.TempPathFactory
) -> None:
    scenario = write_scenario(tmp_path_factory.mktemp("scenario"), lifetime="300s")
    port = str(free_port())
    before = start_server(scenario, "--ehr-port", port)
    kept_key, gone_key = SigningKey("kept-1"), SigningKey("gone-1")
    kept, kept_tls = _register(before, "K1", kept_key)
    gone, gone_tls = _register(before, "G1", gone_key)
    client = _connect(before, kept, kept_key, kept_tls)
    leaving = _connect(before, gone, gone_key, gone_tls)
    fhir = before.endpoints["fhir"]
    token = client.token(SCOPE)["access_token"]
    gone_token = leaving.token(SCOPE)["access_token"]
    spent = kept_key.assertion(str(kept["device_id"]), client.token_url)
    assert client.token_answer(SCOPE, assertion=spent).status_code == 200
    encounters = in_progress(client, fhir, token)
    here = str(kept["location"])
    mine = next(e for e in encounters if location_of(e) == here)
    moving = next(e for e in encounters if location_of(e) != here)
    moved = before.cli("ehr", "move-patient", "--state-dir", str(before.state),
                       moving["subject"]["reference"].split("/")[1], "--to", here.split("/")[1])
    assert moved.returncode == 0, moved.stderr.decode()
    offboarded = before.cli("devices", "offboard", "--state-dir", str(before.state),
                            str(gone["device_id"]))  # fmt: skip
    assert offboarded.returncode == 0, offboarded.stderr.decode()
    configuration = client.http.get(before.endpoints["smart_configuration"]).json()
    jwks = client.http.get(before.endpoints["jwks"]).json()
    created = client.create(f"{fhir}/Observation", token,
                            observation(mine["subject"]["reference"], f"Encounter/{mine['id']}",
                                        str(kept["device_id"]), 61))  # fmt: skip
    assert created.status_code == 201, created.text
    os.kill(before.process.pid, signal.SIGKILL)  # right after the 201 was read
    before.process.wait(timeout=10)
    client.http.close()
    leaving.http.close()

    after = start_server(scenario, "--ehr-port", port, state=before.state)
    assert after.endpoints["fhir"] == fhir
    client = _connect(after, kept, kept_key, kept_tls)
    leaving = _connect(after, gone, gone_key, gone_tls)
    try:
        assert client.http.get(after.endpoints["jwks"]).json() == jwks  # the same signing key
        assert client.http.get(after.endpoints["smart_configuration"]).json() == configuration
        assert introspect(after, token)["active"] is True  # the pre-crash token
        read = client.get(f"{fhir}/Observation/{created.json()['id']}", token)
        assert read.status_code == 200 and read.json()["valueQuantity"]["value"] == 61
        replayed = client.token_answer(SCOPE, assertion=spent)
        assert (replayed.status_code, replayed.json()["error"]) == (401, "invalid_client")
        fresh = client.token(SCOPE)["access_token"]  # the registered key still works
        now_here = in_progress(client, fhir, fresh, location=here.split("/")[1])
        assert moving["id"] in {e["id"] for e in now_here}  # the move was kept
        assert len(in_progress(client, fhir, fresh)) == len(encounters)  # no second census
        second = client.create(f"{fhir}/Observation", fresh,
                               observation(mine["subject"]["reference"],
                                           f"Encounter/{mine['id']}", str(kept["device_id"]), 62))
        assert second.status_code == 201 and second.json()["id"] != created.json()["id"]
        assert introspect(after, gone_token) == {"active": False}
        refused = leaving.token_answer(SCOPE)
        assert refused.json()["error"] == "unauthorized_client"
    finally:
        client.http.close()
        leaving.http.close()
    reasons = {e["reason"] for e in after.events() if e["kind"] == "token-refused"}
    assert {"token-replayed", "client-offboarded"} <= reasons


def test_a_device_key_rotation_and_an_idp_key_rollover_survive_a_restart(
    start_server: StartServer, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """``testbed devices jwks`` replaces a device's JWK Set: the old key is refused and
    the new one granted, before and after a restart of ``testbed serve``.  ``testbed
    ehr rotate-idp-key`` publishes a new kid and keeps the old key for the overlap: a
    token signed before it stays usable, one signed after it is usable at once, and
    both keys are still published after the restart."""
    scenario = write_scenario(tmp_path_factory.mktemp("scenario"), lifetime="300s")
    port = str(free_port())
    before = start_server(scenario, "--ehr-port", port)
    old_key, new_key = SigningKey("rot-old"), SigningKey("rot-new")
    answer, tls = _register(before, "R1", old_key)
    device_id = str(answer["device_id"])
    client = _connect(before, answer, old_key, tls)
    fhir = before.endpoints["fhir"]
    try:
        first = client.token(SCOPE)["access_token"]
        replacement = before.work / "rot-new.jwks.json"
        replacement.write_text(json.dumps(new_key.jwks()))
        done = before.cli("devices", "jwks", "--state-dir", str(before.state), device_id,
                          "--jwks", str(replacement))  # fmt: skip
        assert done.returncode == 0, done.stderr.decode()
        refused = client.token_answer(SCOPE)  # still signing with the replaced key
        assert (refused.status_code, refused.json()["error"]) == (401, "invalid_client")
        client.key = new_key
        assert client.token_answer(SCOPE).status_code == 200

        kids = {k["kid"] for k in client.http.get(before.endpoints["jwks"]).json()["keys"]}
        bad = before.cli("ehr", "rotate-idp-key", "--state-dir", str(before.state),
                         "--overlap", "60")  # fmt: skip
        assert bad.returncode == 2, bad.stdout
        assert b"overlap: expected at least the token lifetime (300 s)" in bad.stderr
        done = before.cli("ehr", "rotate-idp-key", "--state-dir", str(before.state))
        assert done.returncode == 0, done.stderr.decode()
        rolled = json.loads(done.stdout)
        assert rolled["kid"] not in kids and set(rolled["retiring"]) == kids
        assert rolled["overlap_seconds"] == 600  # the scenario's ehr.key_overlap (10m)
        published = {k["kid"] for k in client.http.get(before.endpoints["jwks"]).json()["keys"]}
        assert published == kids | {rolled["kid"]}
        assert in_progress(client, fhir, first)  # signed with the old key, not yet expired
        second = client.token(SCOPE)["access_token"]
        assert in_progress(client, fhir, second)  # the EHR took the new key at once
    finally:
        client.http.close()
    rotated = [(e["kid"], e["overlap_s"]) for e in before.events()
               if e["kind"] == "idp-key-rotated"]  # fmt: skip
    assert rotated == [(rolled["kid"], 600)]
    assert before.stop() == 0

    after = start_server(scenario, "--ehr-port", port, state=before.state)
    client = _connect(after, answer, new_key, tls)
    try:
        assert client.token_answer(SCOPE).status_code == 200  # the replaced set was kept
        client.key = old_key
        refused = client.token_answer(SCOPE)
        assert (refused.status_code, refused.json()["error"]) == (401, "invalid_client")
        published = {k["kid"] for k in client.http.get(after.endpoints["jwks"]).json()["keys"]}
        assert published == kids | {rolled["kid"]}
        assert in_progress(client, fhir, first) and in_progress(client, fhir, second)
    finally:
        client.http.close()
    reasons = [e["reason"] for e in after.events()
               if e["kind"] == "token-refused" and e["subject"] == device_id]  # fmt: skip
    assert reasons == ["client-key-unresolved", "client-key-unresolved"]


def _held(live: Live) -> int:
    """The FHIR resources ``hospital.db`` keeps (every EHR service's)."""
    with closing(sqlite3.connect(live.state / "hospital.db")) as db:
        (count,) = db.execute("SELECT count(*) FROM fhir_resources").fetchone()
    return int(count)


def test_a_full_ehr_answers_507_and_is_still_full_after_a_restart(
    start_server: StartServer, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """``--max-stored-resources``: a write needs room for itself, its Provenance and
    its AuditEvent; beyond the bound it is refused 507 ``storage-full`` (OperationOutcome
    ``no-store``), a full store keeps no more refusal AuditEvents (``audit_kept``
    false), and a restart counts what was kept (the bound still holds)."""
    scenario = write_scenario(tmp_path_factory.mktemp("scenario"), lifetime="300s")
    port = str(free_port())
    first = start_server(scenario, "--ehr-port", port)
    key = SigningKey("full-1")
    answer, tls = _register(first, "F1", key)
    held = _held(first)  # the census, the device's Device and its owner
    assert first.stop() == 0

    def write(live: Live) -> int:
        client = _connect(live, answer, key, tls)
        try:
            fhir = live.endpoints["fhir"]
            token = client.token(SCOPE)["access_token"]
            mine = next(e for e in in_progress(client, fhir, token)
                        if location_of(e) == str(answer["location"]))  # fmt: skip
            created = client.create(f"{fhir}/Observation", token,
                                    observation(mine["subject"]["reference"],
                                                f"Encounter/{mine['id']}",
                                                str(answer["device_id"]), 70))  # fmt: skip
            if created.status_code == 507:
                issue = created.json()["issue"][0]
                assert issue["code"] == "no-store", created.text
                assert f"holds {held + 3} resources" in issue["diagnostics"]
            return created.status_code
        finally:
            client.http.close()

    bounded = ("--ehr-port", port, "--max-stored-resources", str(held + 3))
    live = start_server(scenario, *bounded, state=first.state)
    assert (write(live), write(live)) == (201, 507)
    assert _held(live) == held + 3  # the Observation, its Provenance and AuditEvent
    refused = [e for e in live.events()
               if e["kind"] == "ehr-write" and e["reason"] == "storage-full"]  # fmt: skip
    assert [(e["status"], e["allowed"], e["audit_kept"]) for e in refused] == [
        (507, False, False)]  # fmt: skip
    assert live.stop() == 0

    again = start_server(scenario, *bounded, state=first.state)
    assert write(again) == 507  # what was kept counts against the bound
    assert again.stop() == 0
    wider = start_server(scenario, "--ehr-port", port, "--max-stored-resources", str(held + 6),
                         state=first.state)  # fmt: skip
    assert write(wider) == 201
    assert _held(wider) == held + 6
