"""Shared SMART fixtures: keys made once per session, an IdP with one registered client,
and a builder of client assertions whose every header field and claim can be changed."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from testbed.events import EventLog
from testbed.smart import (
    ASSERTION_TYPE,
    Fetched,
    IdentityProvider,
    IdpSettings,
    TokenRequest,
    TokenResponse,
)
from testbed.smart.jwks import Fetcher, JwksError

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ISSUER = "https://idp.hospital.example"
TOKEN_URL = "https://idp.hospital.example/token"
FHIR = "https://ehr.hospital.example/fhir"
JWKS_URL = "https://device.example/dev-1/jwks.json"
CLIENT = "client-dev-1"
DEVICE = "dev-1"
SCOPES = "system/Observation.cruds system/Encounter.rs system/Patient.read"

DROP = object()
"""A value that removes a header field or claim."""


def _key(kind: str, kid: str) -> ECKey | RSAKey:
    if kind == "EC":
        return ECKey.generate_key("P-384", parameters={"kid": kid})
    return RSAKey.generate_key(2048, parameters={"kid": kid})


@pytest.fixture(scope="session")
def ec_key() -> ECKey | RSAKey:
    """The client's ES384 key (P-384)."""
    return _key("EC", "k1")


@pytest.fixture(scope="session")
def rsa_key() -> ECKey | RSAKey:
    """An RS384 key of the same client (a second registered key)."""
    return _key("RSA", "k-rsa")


@pytest.fixture(scope="session")
def stranger_key() -> ECKey | RSAKey:
    """Another client's key, with the same kid as the client's."""
    return _key("EC", "k1")


def public_set(*keys: ECKey | RSAKey) -> dict[str, Any]:
    """The public JWK Set of ``keys``."""
    return {"keys": [dict(k.as_dict(private=False)) for k in keys]}


Sign = Callable[..., str]


def sign_assertion(
    key: ECKey | RSAKey,
    *,
    now: datetime = NOW,
    header: dict[str, object] | None = None,
    claims: dict[str, object] | None = None,
    jti: str = "jti-1",
) -> str:
    """A client assertion for CLIENT at TOKEN_URL, with changes (DROP removes a field)."""
    alg = "ES384" if isinstance(key, ECKey) else "RS384"
    h: dict[str, object] = {"alg": alg, "kid": key.kid, "typ": "JWT"}
    c: dict[str, object] = {
        "iss": CLIENT, "sub": CLIENT, "aud": TOKEN_URL, "jti": jti,
        "exp": int((now + timedelta(minutes=4)).timestamp()),
    }  # fmt: skip
    for target, changes in ((h, header or {}), (c, claims or {})):
        for name, value in changes.items():
            if value is DROP:
                target.pop(name, None)
            else:
                target[name] = value
    return jwt.encode(h, c, key, algorithms=[str(h["alg"])], default_type=None)


def token_request(
    assertion: str | None,
    *,
    form: dict[str, str] | None = None,
    thumbprint: str | None = None,
    authorization: str | None = None,
) -> TokenRequest:
    """A client-credentials token request carrying ``assertion``."""
    fields = {"grant_type": "client_credentials", "scope": "system/Observation.rs"}
    if assertion is not None:
        fields |= {"client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion}
    fields |= form or {}
    return TokenRequest.of(
        {k: v for k, v in fields.items() if v is not DROP},
        token_url=TOKEN_URL, certificate_thumbprint=thumbprint, authorization=authorization,
    )  # fmt: skip


class FakeFetcher:
    """A JWKS URL served from memory, with a max-age; counts fetches; can fail."""

    def __init__(self, document: dict[str, Any], max_age: int | None = 60) -> None:
        self.document = document
        self.max_age = max_age
        self.calls: list[str] = []
        self.down = False

    def __call__(self, url: str) -> Fetched:
        import json

        self.calls.append(url)
        if self.down:
            raise JwksError(f"{url}: connection refused")
        return Fetched(json.dumps(self.document).encode(), self.max_age)


MakeIdp = Callable[..., IdentityProvider]


@pytest.fixture
def make_idp(ec_key: ECKey, rsa_key: RSAKey) -> MakeIdp:
    """An IdP (fresh per call) with CLIENT registered inline with the EC and RSA keys,
    or by URL when ``fetcher`` is given."""

    def make(
        settings: IdpSettings | None = None,
        fetcher: Fetcher | None = None,
        log: EventLog | None = None,
        *,
        secret: str | None = None,
    ) -> IdentityProvider:
        idp = IdentityProvider(
            issuer=ISSUER, audience=FHIR, rng=random.Random(5), now=NOW - timedelta(days=1),
            settings=settings, fetcher=fetcher, log=log,
        )  # fmt: skip
        if secret is not None:
            idp.register(CLIENT, device_id=DEVICE, scopes=SCOPES, secret=secret, now=NOW)
        elif fetcher is not None:
            idp.register(CLIENT, device_id=DEVICE, scopes=SCOPES, jwks_url=JWKS_URL, now=NOW)
        else:
            jwks = public_set(ec_key, rsa_key)
            idp.register(CLIENT, device_id=DEVICE, scopes=SCOPES, jwks=jwks, now=NOW)
        return idp

    return make


def granted(response: TokenResponse) -> str:
    """The access token of a granted response (fails the test otherwise)."""
    assert response.granted, response.body
    return str(response.body["access_token"])
