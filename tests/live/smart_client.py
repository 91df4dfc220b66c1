"""A SMART backend-services device client made of PyJWT and httpx only.

No project code is imported here (issue 11: "a device written in any language can do
all of this with an ordinary JOSE library"): keys and the CSR come from
``cryptography`` (PyJWT's own backend), assertions from PyJWT, HTTP from httpx.  The
tests drive the live hospital through this client exactly as a vendor's device would.
"""

from __future__ import annotations

import base64
import json
import ssl
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID
from jwt.algorithms import ECAlgorithm

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
FHIR_JSON = "application/fhir+json"


@dataclass
class SigningKey:
    """The device's ES384 key for client assertions, and its public JWK Set."""

    kid: str
    private: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP384R1())
    )

    def jwks(self) -> dict[str, Any]:
        """The public JWK Set to register (``kid``, ``alg`` ES384, ``use`` sig)."""
        jwk = ECAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        jwk.update(kid=self.kid, alg="ES384", use="sig")
        return {"keys": [jwk]}

    def assertion(self, client_id: str, token_url: str, *, lifetime: int = 60) -> str:
        """A ``private_key_jwt`` client assertion (RFC 7523 §3, SMART 2.2)."""
        now = int(time.time())
        claims = {"iss": client_id, "sub": client_id, "aud": token_url, "exp": now + lifetime,
                  "jti": uuid.uuid4().hex}  # fmt: skip
        return jwt.encode(claims, self.private, algorithm="ES384",
                          headers={"kid": self.kid, "typ": "JWT"})  # fmt: skip


def tls_identity(work: Path, device_id: str) -> tuple[Path, bytes]:
    """A P-256 TLS key (written to ``work``) and a DER CSR with CN = ``device_id``."""
    key = ec.generate_private_key(ec.SECP256R1())
    path = work / f"{device_id}.tls.key"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))  # fmt: skip
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, device_id)])
    csr = x509.CertificateSigningRequestBuilder().subject_name(name).sign(key, hashes.SHA256())
    return path, csr.public_bytes(serialization.Encoding.DER)


def enroll(est: str, bundle: Path, work: Path, device_id: str, password: str) -> tuple[Path, Path]:
    """EST simpleenroll (RFC 7030) with the bootstrap secret; (key, certificate) paths."""
    key, csr = tls_identity(work, device_id)
    with httpx.Client(verify=ssl.create_default_context(cafile=str(bundle))) as http:
        answer = http.post(f"{est}/simpleenroll", content=base64.encodebytes(csr),
                           auth=(device_id, password),
                           headers={"Content-Type": "application/pkcs10"})  # fmt: skip
    if answer.status_code != 200:
        raise AssertionError(f"EST answered {answer.status_code}: {answer.text}")
    certificates = pkcs7.load_der_pkcs7_certificates(base64.b64decode(answer.content))
    path = work / f"{device_id}.tls.pem"
    path.write_bytes(certificates[0].public_bytes(serialization.Encoding.PEM))
    return key, path


@dataclass
class Device:
    """One device talking to the IdP and the FHIR API over mutual TLS from its zone."""

    client_id: str
    key: SigningKey
    http: httpx.Client
    token_url: str = ""
    certificate: Path | None = None  # the TLS certificate it presents

    @classmethod
    def connect(cls, client_id: str, key: SigningKey, *, bundle: Path, tls: tuple[Path, Path],
                source: str) -> Device:  # fmt: skip
        """A client trusting ``bundle``, presenting the device certificate, from ``source``."""
        context = ssl.create_default_context(cafile=str(bundle))
        context.load_cert_chain(str(tls[1]), str(tls[0]))
        transport = httpx.HTTPTransport(verify=context, local_address=source)
        return cls(client_id, key, httpx.Client(transport=transport, timeout=20),
                   certificate=tls[1])

    def discover(self, configuration_url: str) -> dict[str, Any]:
        """``/.well-known/smart-configuration``; remembers the token endpoint."""
        document: dict[str, Any] = self.http.get(configuration_url).json()
        self.token_url = document["token_endpoint"]
        return document

    def token_answer(self, scope: str, *, assertion: str | None = None) -> httpx.Response:
        """POST a client-credentials token request (a fresh assertion unless given)."""
        form = {"grant_type": "client_credentials", "scope": scope,
                "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": assertion or self.key.assertion(self.client_id,
                                                                    self.token_url)}  # fmt: skip
        return self.http.post(self.token_url, data=form)

    def token(self, scope: str) -> dict[str, Any]:
        """A granted token answer (raises unless 200)."""
        answer = self.token_answer(scope)
        if answer.status_code != 200:
            raise AssertionError(f"token refused {answer.status_code}: {answer.text}")
        granted: dict[str, Any] = answer.json()
        return granted

    def get(self, url: str, token: str | None, **params: str) -> httpx.Response:
        """A FHIR read or search with the bearer token."""
        headers = {"Accept": FHIR_JSON}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return self.http.get(url, params=params, headers=headers)

    def create(self, url: str, token: str, resource: dict[str, Any]) -> httpx.Response:
        """A FHIR create."""
        headers = {"Authorization": f"Bearer {token}", "Content-Type": FHIR_JSON}
        return self.http.post(url, content=json.dumps(resource), headers=headers)


def observation(patient: str, encounter: str, device_id: str, value: float) -> dict[str, Any]:
    """A heart-rate Observation (FHIR R4) for ``patient`` in ``encounter``."""
    return {
        "resourceType": "Observation", "status": "final",
        "identifier": [{"system": "urn:example:device-reading", "value": f"{device_id}-{value}"}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4",
                             "display": "Heart rate"}]},
        "subject": {"reference": patient}, "encounter": {"reference": encounter},
        "effectiveDateTime": "2026-01-05T08:00:00Z",
        "valueQuantity": {"value": value, "unit": "/min", "system": "http://unitsofmeasure.org",
                          "code": "/min"},
    }  # fmt: skip
