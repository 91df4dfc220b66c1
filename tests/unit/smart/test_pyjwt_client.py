"""Interoperability: assertions made by PyJWT (not joserfc, no project code) are
accepted, and PyJWT reads and verifies the IdP's access token with the IdP's JWKS."""

from __future__ import annotations

import json
import random
import uuid
from datetime import timedelta

import jwt as pyjwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from testbed.smart import ASSERTION_TYPE, IdentityProvider, TokenRequest

from .conftest import FHIR, ISSUER, NOW, TOKEN_URL


def _public_jwk(
    private: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey, kid: str, alg: str
) -> dict[str, str]:
    algorithm = pyjwt.algorithms.ECAlgorithm if alg == "ES384" else pyjwt.algorithms.RSAAlgorithm
    jwk: dict[str, str] = json.loads(algorithm.to_jwk(private.public_key()))
    return jwk | {"kid": kid, "alg": alg, "use": "sig"}


def _assertion(private: object, kid: str, alg: str, client_id: str) -> str:
    claims = {
        "iss": client_id, "sub": client_id, "aud": TOKEN_URL, "jti": str(uuid.uuid4()),
        "exp": int((NOW + timedelta(minutes=5)).timestamp()),
    }  # fmt: skip
    return pyjwt.encode(claims, private, algorithm=alg, headers={"kid": kid, "typ": "JWT"})  # type: ignore[arg-type]


def test_pyjwt_assertions_get_tokens_that_pyjwt_verifies() -> None:
    idp = IdentityProvider(issuer=ISSUER, audience=FHIR, rng=random.Random(3), now=NOW)
    keys = {
        "ES384": ec.generate_private_key(ec.SECP384R1()),
        "RS384": rsa.generate_private_key(public_exponent=65537, key_size=2048),
    }
    jwks = {"keys": [_public_jwk(k, f"kid-{alg}", alg) for alg, k in keys.items()]}
    idp.register(
        "pyjwt-device", device_id="dev-p", scopes="system/Observation.write", jwks=jwks, now=NOW
    )
    for alg, private in keys.items():
        form = {
            "grant_type": "client_credentials", "scope": "system/Observation.c",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": _assertion(private, f"kid-{alg}", alg, "pyjwt-device"),
        }  # fmt: skip
        response = idp.token(TokenRequest.of(form, token_url=TOKEN_URL), now=NOW)
        assert response.granted, response.body
        token = str(response.body["access_token"])
        header = pyjwt.get_unverified_header(token)
        assert header["typ"] == "at+jwt"
        [jwk] = [k for k in idp.jwks(NOW)["keys"] if k["kid"] == header["kid"]]
        public = pyjwt.PyJWK(jwk)
        claims = pyjwt.decode(
            token, public, algorithms=["ES384"], audience=FHIR, issuer=ISSUER,
            options={"verify_exp": False},
        )  # fmt: skip
        assert claims["client_id"] == "pyjwt-device" and claims["scope"] == "system/Observation.c"


def test_a_pyjwt_assertion_signed_with_hs256_and_the_public_key_is_refused() -> None:
    """PyJWT itself refuses to HMAC with a PEM or JWK public key; with the raw point it signs."""
    idp = IdentityProvider(issuer=ISSUER, audience=FHIR, rng=random.Random(3), now=NOW)
    private = ec.generate_private_key(ec.SECP384R1())
    jwk = _public_jwk(private, "k", "ES384")
    idp.register("c", device_id="d", scopes="system/Observation.rs", jwks={"keys": [jwk]}, now=NOW)
    secret = private.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    claims = {"iss": "c", "sub": "c", "aud": TOKEN_URL, "jti": "1",
              "exp": int((NOW + timedelta(minutes=4)).timestamp())}  # fmt: skip
    assertion = pyjwt.encode(claims, secret, algorithm="HS256", headers={"kid": "k", "typ": "JWT"})
    form = {"grant_type": "client_credentials", "scope": "system/Observation.rs",
            "client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion}  # fmt: skip
    response = idp.token(TokenRequest.of(form, token_url=TOKEN_URL), now=NOW)
    assert (response.body["error"], response.reason.value) == (
        "invalid_client", "assertion-alg-refused",
    )  # fmt: skip
