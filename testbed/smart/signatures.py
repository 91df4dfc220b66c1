"""How JWS signatures are made and checked: the one place the fidelity levels differ
for SMART (DESIGN principle 3; :mod:`testbed.pki.fidelity` for certificates).

Client assertions and access tokens are compact JWS at both levels: the same header
and claims, base64url-encoded, so every check reads the same facts (``alg``, ``typ``,
``kid``, ``iss``, ``aud``, ``exp``, ``jti``, ``cnf``...) in the same order.  Only the
third part differs:

- ``full`` (:data:`FULL_JOSE`): a real ES384/RS384 signature made and verified with
  ``joserfc``;
- ``modeled`` (:data:`MODELED_JOSE`): the SHA-384 of the signing input and the
  signing key's RFC 7638 thumbprint.  It fails, as a signature does, when a byte of
  the header or claims changes or another key is tried; unlike one, it could be
  made by anyone knowing the public key, which no party of the simulation does
  (a leaked credential is replayed, never forged).  No elliptic-curve arithmetic runs
  per request.

``tests/scenarios/test_fidelity.py`` proves both levels decide the same on the
shipped scenario with an EHR.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any, Protocol

from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, RSAKey

from testbed.pki.fidelity import Fidelity

__all__ = ["FULL_JOSE", "MODELED_JOSE", "Jose", "SignatureError", "jose_for"]

Key = ECKey | RSAKey


class SignatureError(Exception):
    """A compact JWS whose signature does not verify under the key."""


class Jose(Protocol):
    """Signs and verifies compact JWS at one fidelity level."""

    fidelity: Fidelity

    def sign(self, header: Mapping[str, Any], claims: Mapping[str, Any], key: Key) -> str:
        """A compact JWS of ``claims`` under ``header`` (its ``alg``) with ``key``."""
        ...

    def payload(self, token: str, key: Key, alg: str) -> bytes:
        """The payload of ``token`` once its signature verifies under ``key`` with
        ``alg``; :class:`SignatureError` otherwise."""
        ...


class _Full:
    fidelity = Fidelity.FULL

    def sign(self, header: Mapping[str, Any], claims: Mapping[str, Any], key: Key) -> str:
        return jwt.encode(dict(header), dict(claims), key, algorithms=[str(header["alg"])])

    def payload(self, token: str, key: Key, alg: str) -> bytes:
        try:
            return jws.deserialize_compact(token, key, algorithms=[alg]).payload
        except (JoseError, ValueError) as error:
            raise SignatureError(str(error)) from None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class _Modeled:
    fidelity = Fidelity.MODELED

    def __init__(self) -> None:
        self._thumbprints: dict[int, tuple[Key, str]] = {}

    def _thumbprint(self, key: Key) -> str:
        found = self._thumbprints.get(id(key))
        if found is None or found[0] is not key:
            found = self._thumbprints[id(key)] = (key, key.thumbprint())
        return found[1]

    def _digest(self, signing_input: bytes, key: Key) -> bytes:
        return hashlib.sha384(signing_input + b"." + self._thumbprint(key).encode()).digest()

    def sign(self, header: Mapping[str, Any], claims: Mapping[str, Any], key: Key) -> str:
        head = _b64(json.dumps(dict(header), separators=(",", ":")).encode())
        body = _b64(json.dumps(dict(claims), separators=(",", ":")).encode())
        signing_input = f"{head}.{body}".encode("ascii")
        return f"{head}.{body}.{_b64(self._digest(signing_input, key))}"

    def payload(self, token: str, key: Key, alg: str) -> bytes:
        head, dot, rest = token.rpartition(".")[0].partition(".")
        signature = token.rpartition(".")[2]
        if not dot:
            raise SignatureError("not a compact JWS")
        try:
            given = _unb64(signature)
            body = _unb64(rest)
        except ValueError as error:
            raise SignatureError(f"not base64url: {error}") from None
        expected = self._digest(f"{head}.{rest}".encode("ascii"), key)
        if not hmac.compare_digest(given, expected):
            raise SignatureError("the modeled signature does not match this key")
        return body


FULL_JOSE: Jose = _Full()
MODELED_JOSE: Jose = _Modeled()


def jose_for(fidelity: Fidelity) -> Jose:
    """The signatures of a fidelity level."""
    return FULL_JOSE if fidelity is Fidelity.FULL else MODELED_JOSE
