"""The device's side of SMART backend services: its key set and its token request.

What a device (simulated, or a test's client) sends to the token endpoint: a
``private_key_jwt`` client assertion (RFC 7523 §3: ``iss`` = ``sub`` = its client id,
``aud`` the token URL, ``exp`` a few minutes ahead, a fresh ``jti``) signed ES384 with
its P-384 key, or, in ``client_secret_basic`` designs, HTTP Basic with the shared
secret (RFC 6749 §2.3.1: each part form-encoded before base64).
"""

from __future__ import annotations

import base64
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote_plus

from cryptography.hazmat.primitives.asymmetric import ec
from joserfc.jwk import ECKey

from testbed.smart.assertion import ASSERTION_TYPE
from testbed.smart.signatures import FULL_JOSE, Jose

__all__ = [
    "ASSERTION_LIFETIME",
    "basic_authorization",
    "client_assertion",
    "client_key",
    "credentials_form",
    "public_jwks",
]

ASSERTION_LIFETIME = timedelta(minutes=4)
"""How far ahead a device's assertion expires (SMART: at most five minutes)."""


def client_key(scalar: int) -> ECKey:
    """A device's ES384 key (P-384) from a private value (the run's generator draws it),
    its ``kid`` the RFC 7638 thumbprint."""
    private = ec.derive_private_key(scalar % (2**383) + 1, ec.SECP384R1())
    return ECKey.import_key(private, {"kid": ECKey.import_key(private).thumbprint()})


def public_jwks(key: ECKey) -> dict[str, Any]:
    """The device's public JWK Set (what it registers)."""
    return {"keys": [dict(key.as_dict(private=False), alg="ES384", use="sig")]}


def client_assertion(
    key: ECKey, *, client_id: str, token_url: str, now: datetime, jti: str,
    jose: Jose = FULL_JOSE,
) -> str:
    """A signed client assertion (see the module), at ``jose``'s fidelity level."""
    header = {"alg": "ES384", "kid": key.kid, "typ": "JWT"}
    claims = {
        "iss": client_id, "sub": client_id, "aud": token_url, "jti": jti,
        "exp": int((now + ASSERTION_LIFETIME).timestamp()),
    }  # fmt: skip
    return jose.sign(header, claims, key)


def credentials_form(assertion: str | None, scope: str) -> dict[str, str]:
    """The token request's form: client credentials, the scope, and the assertion
    when there is one (none: Basic authentication carries the credentials)."""
    form = {"grant_type": "client_credentials", "scope": scope}
    if assertion is not None:
        form |= {"client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion}
    return form


def basic_authorization(client_id: str, secret: str) -> str:
    """The ``Authorization`` header of ``client_secret_basic``."""
    pair = f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()
    return "Basic " + base64.b64encode(pair).decode()
