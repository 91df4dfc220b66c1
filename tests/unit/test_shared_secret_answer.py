"""Under a design whose credentials are shared (``credentials: shared``,
fixtures/designs/flat-shared-credentials.yaml), ``testbed devices register``'s answer
gives the device the shared secret the IdP accepts: its ``smart`` block has
``client_secret`` (in process, no sockets; the same ``LiveHospital.register`` the admin
API answers with)."""

from __future__ import annotations

from pathlib import Path

from testbed.fhir_access import request_token
from testbed.live.durable import open_hospital
from testbed.live.hospital import Registration
from testbed.smart.client import basic_authorization, client_key, credentials_form, public_jwks
from tests.live.ehr_scenario import SCOPE, write_scenario


def _flat(directory: Path) -> Path:
    path = write_scenario(directory)
    text = path.read_text()
    network = "network:\n  - {from: bedside, to: ehr}\n"
    assert network in text
    path.write_text(text.replace(network, "design: flat-shared-credentials\n"))
    return path


def test_the_register_answer_gives_the_shared_secret_the_idp_accepts(tmp_path: Path) -> None:
    root = tmp_path / "state"
    root.mkdir()
    opened = open_hospital(_flat(tmp_path / "scenario"), root, new=False)
    live, store = opened.hospital, opened.store
    try:
        with store.transaction():
            first = live.register(Registration("F1", "north", "bedside", "bedside-ai-writer",
                                               owner="nursing"))  # fmt: skip
            second = live.register(Registration("F2", "north", "bedside", "bedside-ai-writer",
                                                owner="nursing"))  # fmt: skip
        assert first.smart is not None and second.smart is not None
        smart: dict[str, str] = first.smart["smart"]  # type: ignore[assignment]
        assert smart["token_endpoint_auth_method"] == "client_secret_basic"
        secret = smart["client_secret"]
        assert secret and second.smart["smart"]["client_secret"] == secret  # type: ignore[index]
        with store.transaction():
            granted = request_token(
                live.hospital, credentials_form(None, SCOPE), now=live.now(),
                authorization=basic_authorization(smart["client_id"], secret))  # fmt: skip
            refused = request_token(
                live.hospital, credentials_form(None, SCOPE), now=live.now(),
                authorization=basic_authorization(smart["client_id"], secret + "x"))  # fmt: skip
        assert granted.granted, granted
        assert not refused.granted
    finally:
        store.close()


def test_a_private_key_jwt_answer_has_no_secret(tmp_path: Path) -> None:
    root = tmp_path / "state"
    root.mkdir()
    opened = open_hospital(write_scenario(tmp_path / "scenario"), root, new=False)
    try:
        with opened.store.transaction():
            answer = opened.hospital.register(
                Registration("K1", "north", "bedside", "bedside-ai-writer"),
                jwks=public_jwks(client_key(3)))  # fmt: skip
        assert answer.smart is not None
        smart = answer.smart["smart"]
        assert isinstance(smart, dict) and "client_id" in smart
        assert "client_secret" not in smart and "token_endpoint_auth_method" not in smart
    finally:
        opened.store.close()
