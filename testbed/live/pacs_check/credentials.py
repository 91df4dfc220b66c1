"""The identities ``testbed pacs-check`` presents, from a running ``testbed serve``.

Three devices are registered over the admin socket and enrolled over EST (a CSR,
HTTP Basic bootstrap credentials): ``good`` (the device the checks run as),
``other`` (whose AE title ``good`` borrows) and ``revoked`` (revoked right after
enrollment, so the CRLs list it).  They are kept in ``DIR/pacs-check/`` and reused
while the hospital still knows them, so an acceptor configured with their AE titles
(``--prepare`` prints them) sees the same devices at every run.

Two certificates no enrollment gives are made here:

- **expired**: ``good``'s subject and key, valid until yesterday, signed by the same
  issuing CA with its key from ``DIR/ca-keys`` (only the time is wrong);
- **unknown CA**: ``good``'s subject, issued by a CA made for this run and trusted by
  nobody.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import ssl
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from http.client import HTTPSConnection
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID
from joserfc.jwk import ECKey

from testbed.errors import LiveError
from testbed.live.admin_client import admin_request
from testbed.live.state import StateDir
from testbed.smart.client import public_jwks

__all__ = ["Credentials", "Identity", "prepare"]

ROLES = ("good", "other", "revoked")
_PEM = serialization.Encoding.PEM


@dataclass(frozen=True, slots=True)
class Identity:
    """A key and certificate (PEM files) and the AE title that goes with them."""

    device_id: str
    ae_title: str
    key: Path
    cert: Path


@dataclass(frozen=True, slots=True)
class Credentials:
    """Everything the checks present."""

    good: Identity
    other: Identity
    revoked: Identity
    expired: Identity
    unknown_ca: Identity
    bundle: Path  # the testbed's trust bundle: the acceptor's certificate is checked with it
    source: str | None  # the loopback address of the devices' zone (None: let the system pick)

    def titles(self) -> dict[str, str]:
        """The AE title of each enrolled device, by role."""
        return {r: getattr(self, r).ae_title for r in ROLES}


def _write_private(path: Path, data: bytes) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(_PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())  # fmt: skip


def _enroll(est_url: str, bundle: Path, device_id: str, password: str, key_path: Path) -> bytes:
    """EST simpleenroll (RFC 7030): the issued certificate, PEM."""
    key = ec.generate_private_key(ec.SECP256R1())
    _write_private(key_path, _key_pem(key))
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, device_id)])
    csr = x509.CertificateSigningRequestBuilder().subject_name(name).sign(key, hashes.SHA256())
    body = base64.encodebytes(csr.public_bytes(serialization.Encoding.DER))
    auth = base64.b64encode(f"{device_id}:{password}".encode()).decode()
    status, raw = _exchange(f"{est_url}/simpleenroll", bundle, "EST", body=body,
                            headers={"Content-Type": "application/pkcs10",
                                     "Authorization": f"Basic {auth}"})  # fmt: skip
    if status != 200:
        raise LiveError(f"EST enrollment of {device_id} answered {status}: {raw[:200]!r}")
    certificates = pkcs7.load_der_pkcs7_certificates(base64.b64decode(raw))
    return certificates[0].public_bytes(_PEM)


def _exchange(url: str, bundle: Path, what: str, *, body: bytes | None = None,
              headers: dict[str, str]) -> tuple[int, bytes]:  # fmt: skip
    """One HTTPS request to the hospital (a POST with ``body``, else a GET) trusting its
    bundle: the status and the body; :class:`LiveError` naming ``what`` if it fails."""
    parts = urlsplit(url)
    context = ssl.create_default_context(cafile=str(bundle))
    connection = HTTPSConnection(parts.hostname or "127.0.0.1", parts.port, context=context,
                                 timeout=30)  # fmt: skip
    try:
        connection.request("GET" if body is None else "POST", parts.path, body=body,
                           headers=headers)  # fmt: skip
        answer = connection.getresponse()
        return answer.status, answer.read()
    except OSError as error:
        raise LiveError(f"{what} at {url}: {error}") from None
    finally:
        connection.close()


def _registered(state_dir: Path) -> set[str]:
    answer = admin_request(state_dir, "/devices", method="GET")
    return {d["device_id"] for d in answer["devices"] if d["certificate"] is not None}


def _load(folder: Path, state_dir: Path) -> dict[str, Identity] | None:
    saved = folder / "devices.json"
    if not saved.exists():
        return None
    try:
        rows = json.loads(saved.read_text())
        kept = {r: Identity(rows[r]["device_id"], rows[r]["ae_title"], Path(rows[r]["key"]),
                            Path(rows[r]["cert"])) for r in ROLES}  # fmt: skip
    except (ValueError, KeyError, TypeError):
        return None
    known = _registered(state_dir)
    if all(i.device_id in known and i.key.exists() and i.cert.exists() for i in kept.values()):
        return kept
    return None


def _client_jwks(endpoints: dict[str, object], bundle: Path) -> dict[str, Any] | None:
    """A public JWK Set for the check's devices when the hospital's identity provider
    authenticates clients with private_key_jwt (its SMART configuration says so, and
    then a device whose profile uses the EHR must register one); None otherwise.  Its
    private key is thrown away: the checks never ask for a token."""
    url = endpoints.get("smart_configuration")
    if not isinstance(url, str):
        return None  # no EHR in this hospital
    status, raw = _exchange(url, bundle, "SMART configuration",
                            headers={"Accept": "application/json"})  # fmt: skip
    try:
        methods = json.loads(raw)["token_endpoint_auth_methods_supported"] if status == 200 \
            else None  # fmt: skip
    except (ValueError, KeyError, TypeError):
        methods = None
    if not isinstance(methods, list):
        raise LiveError(f"SMART configuration at {url} answered {status}, without "
                        "token_endpoint_auth_methods_supported")  # fmt: skip
    if "private_key_jwt" not in methods:
        return None
    return public_jwks(ECKey.generate_key("P-384", auto_kid=True))  # ES384, as SMART asks


def _enrolled(
    folder: Path, state_dir: Path, *, site: str, zone: str, profile: str
) -> dict[str, Identity]:
    endpoints = StateDir(state_dir).read_endpoints()
    bundle = StateDir(state_dir).bundle
    tag = secrets.token_hex(3)
    made: dict[str, Identity] = {}
    jwks = _client_jwks(endpoints, bundle)
    for role in ROLES:
        payload: dict[str, Any] = {"serial": f"pchk-{tag}-{role[0]}", "site": site,
                                   "zone": zone, "profile": profile, "owner": "pacs-check"}
        if jwks is not None:
            payload["jwks"] = jwks
        answer: dict[str, Any] = admin_request(state_dir, "/devices", payload)
        device_id, title = answer["device_id"], answer.get("ae_title")
        if not title:
            raise LiveError(f"profile {profile!r} has no DICOM AE title; give --profile of "
                            "a DICOM device (e.g. ct-ai-onbox)")  # fmt: skip
        key, cert = folder / f"{role}.key", folder / f"{role}.pem"
        cert.write_bytes(_enroll(str(endpoints["est"]), bundle, device_id,
                                 answer["bootstrap"]["password"], key))  # fmt: skip
        made[role] = Identity(device_id, title, key, cert)
    admin_request(state_dir, f"/devices/{quote(made['revoked'].device_id, safe='')}/revoke",
                  {"reason": "keyCompromise"})  # fmt: skip
    rows = {r: {**asdict(i), "key": str(i.key), "cert": str(i.cert)} for r, i in made.items()}
    (folder / "devices.json").write_text(json.dumps(rows, indent=2) + "\n")
    return made


def _issuing_key(state_dir: Path, issuer: x509.Certificate) -> ec.EllipticCurvePrivateKey:
    wanted = issuer.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    for path in sorted((state_dir / "ca-keys").glob("*.pem")):
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        public = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        if public == wanted and isinstance(key, ec.EllipticCurvePrivateKey):
            return key
    raise LiveError(f"{state_dir / 'ca-keys'}: no key of the issuing CA {issuer.subject}")


def _expired(state_dir: Path, good: Identity, folder: Path) -> Identity:
    leaf = x509.load_pem_x509_certificate(good.cert.read_bytes())
    bundle = x509.load_pem_x509_certificates(StateDir(state_dir).bundle.read_bytes())
    issuer = next((c for c in bundle if c.subject == leaf.issuer), None)
    if issuer is None:
        raise LiveError(f"the trust bundle has no issuer {leaf.issuer} of {good.cert}")
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(leaf.subject)
        .issuer_name(leaf.issuer)
        .public_key(leaf.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=10))
        .not_valid_after(now - timedelta(days=1))
    )
    for extension in leaf.extensions:
        if extension.oid != x509.oid.ExtensionOID.PRECERT_SIGNED_CERTIFICATE_TIMESTAMPS:
            builder = builder.add_extension(extension.value, extension.critical)
    certificate = builder.sign(_issuing_key(state_dir, issuer), hashes.SHA256())
    path = folder / "expired.pem"
    path.write_bytes(certificate.public_bytes(_PEM))
    return Identity(good.device_id, good.ae_title, good.key, path)


def _unknown_ca(good: Identity, folder: Path) -> Identity:
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pacs-check rogue CA")])
    leaf = x509.load_pem_x509_certificate(good.cert.read_bytes())
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = (
        x509.CertificateBuilder()
        .subject_name(leaf.subject)
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key_path, cert_path = folder / "unknown-ca.key", folder / "unknown-ca.pem"
    _write_private(key_path, _key_pem(key))
    cert_path.write_bytes(certificate.public_bytes(_PEM))
    return Identity(good.device_id, good.ae_title, key_path, cert_path)


def _zone_address(state_dir: Path, site: str, zone: str) -> str | None:
    zones = StateDir(state_dir).read_endpoints().get("zones")
    if isinstance(zones, dict):
        address = zones.get(f"{site}/{zone}")
        return None if address is None else str(address)
    return None


def prepare(state_dir: Path, *, site: str, zone: str, profile: str) -> Credentials:
    """The check's credentials (made or reused in ``DIR/pacs-check/``)."""
    folder = state_dir / "pacs-check"
    folder.mkdir(mode=0o700, exist_ok=True)
    devices = _load(folder, state_dir) or _enrolled(folder, state_dir, site=site, zone=zone,
                                                    profile=profile)  # fmt: skip
    good = devices["good"]
    return Credentials(good=good, other=devices["other"], revoked=devices["revoked"],
                       expired=_expired(state_dir, good, folder),
                       unknown_ca=_unknown_ca(good, folder), bundle=StateDir(state_dir).bundle,
                       source=_zone_address(state_dir, site, zone))  # fmt: skip
