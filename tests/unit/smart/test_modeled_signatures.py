"""Modeled signatures (testbed/smart/signatures.py) fail where real ones fail: a changed
header or claim, another key, another level; and the IdP decides alike at both levels."""

from __future__ import annotations

import base64
import json

import pytest
from joserfc.jwk import ECKey

from testbed.smart.signatures import FULL_JOSE, MODELED_JOSE, Jose, SignatureError

KEY = ECKey.generate_key("P-384", parameters={"kid": "k1"})
OTHER = ECKey.generate_key("P-384", parameters={"kid": "k1"})
HEADER = {"alg": "ES384", "kid": "k1", "typ": "JWT"}
CLAIMS = {"iss": "dev-1", "sub": "dev-1", "aud": "https://idp/token", "exp": 2_000_000_000,
          "jti": "j1"}  # fmt: skip


def _with_claims(token: str, **changes: object) -> str:
    head, body, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims.update(changes)
    encoded = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{head}.{encoded}.{signature}"


def test_a_modeled_signature_verifies_under_its_key_only() -> None:
    token = MODELED_JOSE.sign(HEADER, CLAIMS, KEY)
    assert json.loads(MODELED_JOSE.payload(token, KEY, "ES384")) == CLAIMS
    with pytest.raises(SignatureError):
        MODELED_JOSE.payload(token, OTHER, "ES384")
    with pytest.raises(SignatureError):
        MODELED_JOSE.payload(_with_claims(token, iss="dev-2"), KEY, "ES384")


def test_the_levels_do_not_mix() -> None:
    with pytest.raises(SignatureError):
        FULL_JOSE.payload(MODELED_JOSE.sign(HEADER, CLAIMS, KEY), KEY, "ES384")
    with pytest.raises(SignatureError):
        MODELED_JOSE.payload(FULL_JOSE.sign(HEADER, CLAIMS, KEY), KEY, "ES384")


@pytest.mark.parametrize("jose", [FULL_JOSE, MODELED_JOSE], ids=lambda j: j.fidelity.value)
def test_a_changed_header_byte_fails_at_both_levels(jose: Jose) -> None:
    token = jose.sign(HEADER, CLAIMS, KEY)
    _, body, signature = token.split(".")
    changed = {**HEADER, "kid": "k2"}
    head2 = base64.urlsafe_b64encode(json.dumps(changed).encode()).rstrip(b"=").decode()
    with pytest.raises(SignatureError):
        jose.payload(f"{head2}.{body}.{signature}", KEY, "ES384")
