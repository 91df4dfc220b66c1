"""A registered JWK Set that cannot be used is refused with a message that names the
key (its index in ``keys`` and its ``kid``) and what was expected; an RSA or EC key
without a ``kid`` is refused (an assertion names its key by kid).  The command line
adds the file's name (``--jwks FILE``) before anything is sent to the server."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc.jwk import ECKey, RSAKey

from testbed.cli import main
from testbed.smart.jwks import JwksError, parse_key_set


def public(key: ECKey | RSAKey) -> dict[str, Any]:
    return dict(key.as_dict(private=False))


def _b64(number: int) -> str:
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def short_rsa(kid: str) -> dict[str, Any]:
    """The public JWK of a 1024-bit RSA key (built by hand: joserfc warns on making one)."""
    numbers = rsa.generate_private_key(65537, 1024).public_key().public_numbers()
    return {"kty": "RSA", "kid": kid, "n": _b64(numbers.n), "e": _b64(numbers.e)}


@pytest.fixture(scope="module")
def ec() -> ECKey:
    return ECKey.generate_key("P-384", parameters={"kid": "good"})


def test_a_public_set_with_kids_is_read(ec: ECKey) -> None:
    keys = parse_key_set({"keys": [public(ec), {"kty": "OKP", "crv": "Ed25519", "x": "AA"}]})
    assert [k.kid for k in keys] == ["good"]  # a key of another type is skipped


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda ec: {k: v for k, v in public(ec).items() if k != "kid"},
         r"keys\[1\]: expected a 'kid' \(a non-empty string\) on every EC key"),
        (lambda ec: public(ec) | {"kid": ""},
         r"keys\[1\] \(kid ''\): expected a 'kid'"),
        (lambda ec: dict(ec.as_dict(private=True)) | {"kid": "leaked"},
         r"keys\[1\] \(kid 'leaked'\) holds private or secret key material \(d\): "
         r"expected the public key only"),
        (lambda ec: public(ec) | {"kid": "bent", "x": "AAAA"},
         r"keys\[1\] \(kid 'bent'\) is not a valid EC public key"),
        (lambda ec: short_rsa("short"),
         r"keys\[1\] \(kid 'short'\): expected an RSA key of at least 2048 bits, got 1024"),
        (lambda ec: "not-a-key", r"keys\[1\]: expected a JWK \(a JSON object\)"),
    ],
    ids=["kid missing", "kid empty", "private key", "bad point", "short RSA", "not an object"],
)
def test_each_unusable_key_is_named_by_index_and_kid(ec: ECKey, make: Any, expected: str) -> None:
    with pytest.raises(JwksError, match=expected):
        parse_key_set({"keys": [public(ec), make(ec)]})


@pytest.mark.parametrize(
    ("document", "expected"),
    [("[]", "a JWK Set must be a JSON object with a 'keys' list"),
     ("{}", "a JWK Set needs a 'keys' list of JWKs, got nothing"),
     ('{"keys": {}}', "a JWK Set needs a 'keys' list of JWKs, got dict"),
     ("{", "a JWK Set must be JSON"),
     ('{"keys": ' + "[" * 3000 + "]" * 3000 + "}", "nests at most 8 levels; this one 3001")],
)  # fmt: skip
def test_a_document_that_is_no_set_says_what_was_expected(document: str, expected: str) -> None:
    with pytest.raises(JwksError, match=expected):
        parse_key_set(document)


def test_the_command_line_names_the_file_and_the_key(
    tmp_path: Path, ec: ECKey, capsys: pytest.CaptureFixture[str]
) -> None:
    """Refused before the admin API is asked (the state directory does not exist)."""
    path = tmp_path / "device-jwks.json"
    keyless = {k: v for k, v in public(ec).items() if k != "kid"}
    path.write_text(json.dumps({"keys": [keyless]}))
    for command in (
        ["devices", "register", "--state-dir", str(tmp_path / "none"), "--serial", "S1",
         "--site", "north", "--zone", "bedside", "--profile", "p", "--jwks", str(path)],
        ["devices", "jwks", "--state-dir", str(tmp_path / "none"), "dev-1", "--jwks", str(path)],
    ):  # fmt: skip
        assert main(command) == 2
        err = capsys.readouterr().err
        assert f"--jwks {path}: keys[0]: expected a 'kid'" in err, err
