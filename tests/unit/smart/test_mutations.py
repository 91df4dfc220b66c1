"""No mutated client assertion is ever accepted: changed claims or header (re-encoded
without re-signing, or re-signed in a way that breaks a rule), changed signature bytes,
or a key other than the client's registered one (Hypothesis)."""

from __future__ import annotations

import base64
import json
import random
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from joserfc.jwk import ECKey, RSAKey

from testbed.smart import IdentityProvider, TokenResponse

from .conftest import (
    CLIENT,
    DEVICE,
    FHIR,
    ISSUER,
    NOW,
    SCOPES,
    TOKEN_URL,
    public_set,
    sign_assertion,
    token_request,
)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@pytest.fixture(scope="module")
def client_key() -> ECKey:
    return ECKey.generate_key("P-384", parameters={"kid": "k1"})


@pytest.fixture(scope="module")
def foreign_keys() -> list[ECKey | RSAKey]:
    """Keys that are not the client's, some with its kid."""
    return [
        ECKey.generate_key("P-384", parameters={"kid": "k1"}),
        ECKey.generate_key("P-384", parameters={"kid": "k2"}),
        RSAKey.generate_key(2048, parameters={"kid": "k1"}),
    ]


def _idp(key: ECKey) -> IdentityProvider:
    idp = IdentityProvider(issuer=ISSUER, audience=FHIR, rng=random.Random(1), now=NOW)
    idp.register(CLIENT, device_id=DEVICE, scopes=SCOPES, jwks=public_set(key), now=NOW)
    return idp


def _answer(idp: IdentityProvider, assertion: str) -> TokenResponse:
    return idp.token(token_request(assertion), now=NOW)


JSON_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(max_size=20),
    st.lists(st.text(max_size=10), max_size=2),
)  # fmt: skip
HEADER_FIELDS = st.sampled_from(["alg", "kid", "typ", "jku", "crit", "x5u", "jwk"])
CLAIM_FIELDS = st.sampled_from(["iss", "sub", "aud", "exp", "jti", "nbf", "iat", "scope"])


def _resplice(token: str, part: int, document: dict[str, object]) -> str:
    parts = token.split(".")
    parts[part] = _b64(json.dumps(document).encode())
    return ".".join(parts)


SETTINGS = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])


@SETTINGS
@given(part=st.sampled_from([0, 1]), field=st.one_of(HEADER_FIELDS, CLAIM_FIELDS),
       value=JSON_VALUES, drop=st.booleans())  # fmt: skip
def test_header_or_claims_changed_without_re_signing(
    client_key: ECKey, part: int, field: str, value: object, drop: bool
) -> None:
    idp = _idp(client_key)
    token = sign_assertion(client_key)
    document = json.loads(_unb64(token.split(".")[part]))
    before = dict(document)
    if drop:
        document.pop(field, None)
    else:
        document[field] = value
    if document == before:
        return
    assert not _answer(idp, _resplice(token, part, document)).granted


@SETTINGS
@given(position=st.integers(min_value=0), flip=st.integers(min_value=1, max_value=255))
def test_signature_bytes_changed(client_key: ECKey, position: int, flip: int) -> None:
    idp = _idp(client_key)
    head, payload, signature = sign_assertion(client_key).split(".")
    raw = bytearray(_unb64(signature))
    raw[position % len(raw)] ^= flip
    assert not _answer(idp, f"{head}.{payload}.{_b64(bytes(raw))}").granted


@SETTINGS
@given(cut=st.integers(min_value=0), text=st.text(max_size=8))
def test_compact_form_changed(client_key: ECKey, cut: int, text: str) -> None:
    idp = _idp(client_key)
    token = sign_assertion(client_key)
    at = cut % (len(token) + 1)
    mutated = token[:at] + text + token[at + len(text) :]
    if mutated == token:
        return
    assert not _answer(idp, mutated).granted


@SETTINGS
@given(which=st.integers(min_value=0, max_value=2), kid=st.sampled_from(["k1", "k2"]))
def test_signed_by_a_key_other_than_the_clients(
    client_key: ECKey, foreign_keys: list[ECKey | RSAKey], which: int, kid: str
) -> None:
    idp = _idp(client_key)
    key = foreign_keys[which]
    assert not _answer(idp, sign_assertion(key, header={"kid": kid})).granted


BREAKING = st.one_of(
    st.tuples(st.just("iss"), st.text(max_size=10).filter(lambda s: s != CLIENT)),
    st.tuples(st.just("sub"), st.text(max_size=10).filter(lambda s: s != CLIENT)),
    st.tuples(st.just("aud"), st.one_of(
        st.text(max_size=30).filter(lambda s: s != TOKEN_URL),
        st.lists(st.text(max_size=30).filter(lambda s: s != TOKEN_URL), max_size=2))),
    st.tuples(st.just("exp"), st.one_of(
        st.integers(max_value=int((NOW - timedelta(seconds=31)).timestamp())),
        st.integers(min_value=int((NOW + timedelta(seconds=331)).timestamp()), max_value=2**40),
        st.text(max_size=5), st.none())),
    st.tuples(st.just("jti"), st.one_of(st.just(""), st.integers(), st.none())),
)  # fmt: skip


@SETTINGS
@given(change=BREAKING)
def test_claims_that_break_a_rule_re_signed_by_the_client(
    client_key: ECKey, change: tuple[str, object]
) -> None:
    name, value = change
    idp = _idp(client_key)
    claims = {name: value}
    if name == "iss":
        claims["sub"] = value  # iss = sub, but not the client: unknown or not its key
    response = _answer(idp, sign_assertion(client_key, claims=claims))
    assert not response.granted


def test_the_unmutated_assertion_is_granted(client_key: ECKey) -> None:
    """Control: the properties above are about mutations, not about a broken baseline."""
    assert _answer(_idp(client_key), sign_assertion(client_key)).granted
