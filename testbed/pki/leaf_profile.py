"""The device leaf's certificate profile: its names, its extensions, how it is signed.

One device, one leaf: subject ``CN=<device id>, O=<trust domain>``, exactly one
SPIFFE-style URI SAN and one DNS SAN, not a CA, signing only, client and server
authentication, key identifiers, and (once the CA publishes them) where its
revocation status is.  :func:`build_leaf` is the one place a leaf is built: the CA
signs with it at full fidelity (:mod:`testbed.pki.full`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cache

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

from testbed.pki.der import ec_leaf, extension_der, key_identifier
from testbed.pki.keys import PrivateKey, PublicKey, signature_hash

__all__ = [
    "authority_key_id",
    "build_leaf",
    "device_name_problem",
    "dns_name",
    "key_usage",
    "leaf_sans",
    "leaf_subject",
    "revocation_locations",
    "spiffe_id",
]


def _ext(value: x509.ExtensionType, *, critical: bool) -> x509.Extension[x509.ExtensionType]:
    return x509.Extension(value.oid, critical, value)


_LEAF_CONSTRAINTS = _ext(x509.BasicConstraints(ca=False, path_length=None), critical=True)


def key_usage(*, digital_signature: bool, key_cert_sign: bool) -> x509.KeyUsage:
    """A keyUsage with signing, and certificate and CRL signing for a CA, set."""
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=key_cert_sign,
        crl_sign=key_cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


_LEAF_USAGE = _ext(key_usage(digital_signature=True, key_cert_sign=False), critical=True)
_LEAF_EKU = _ext(
    x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH]),
    critical=False,
)
_LEAF_FIXED_DER = b"".join(extension_der(e) for e in (_LEAF_CONSTRAINTS, _LEAF_USAGE, _LEAF_EKU))


@cache  # one string per device, shared by its every record and certificate
def spiffe_id(trust_domain: str, site: str, device_id: str) -> str:
    """The device's one URI SAN (SPIFFE ID)."""
    return f"spiffe://{trust_domain}/site/{site}/device/{device_id}"


_DNS_LABEL = 63  # octets (RFC 1035 §2.3.4); also under X.520's ub-common-name, 64
_DNS_NAME = 253


def device_name_problem(device_id: str, site: str, trust_domain: str) -> str | None:
    """Why ``device_id`` cannot name a leaf at ``site``, or None when it can.

    The id is the leaf's CN and the first label of its DNS SAN
    (:func:`leaf_sans`): at most 63 characters, and the whole DNS name at most 253.
    """
    if len(device_id) > _DNS_LABEL:
        return (
            f"device id {device_id!r} has {len(device_id)} characters; at most {_DNS_LABEL} "
            "(it is the certificate's CN and a DNS label in its SAN)"
        )
    dns = dns_name(trust_domain, site, device_id)
    if len(dns) > _DNS_NAME:
        return f"the DNS SAN {dns!r} has {len(dns)} characters; at most {_DNS_NAME}"
    return None


@cache  # one string per device, shared by its every certificate
def dns_name(trust_domain: str, site: str, device_id: str) -> str:
    """The device's DNS SAN: ``<device>.<site>.devices.<trust domain>``."""
    return f"{device_id}.{site}.devices.{trust_domain}"


def leaf_subject(device_id: str, trust_domain: str) -> x509.Name:
    """A device leaf's subject: CN = device id, O = trust domain."""
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, device_id),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, trust_domain),
        ]
    )


def leaf_sans(trust_domain: str, site: str, device_id: str) -> x509.Extension[x509.ExtensionType]:
    """A device leaf's SANs: its SPIFFE ID and a DNS name under the trust domain."""
    names = [
        x509.UniformResourceIdentifier(spiffe_id(trust_domain, site, device_id)),
        x509.DNSName(dns_name(trust_domain, site, device_id)),
    ]
    return _ext(x509.SubjectAlternativeName(names), critical=False)


def authority_key_id(issuing_key: PrivateKey) -> x509.Extension[x509.ExtensionType]:
    """The Authority Key Identifier of leaves signed by ``issuing_key``."""
    ski = x509.SubjectKeyIdentifier.from_public_key(issuing_key.public_key())
    return _ext(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)


def build_leaf(
    *,
    issuer: x509.Name,
    issuing_key: PrivateKey,
    authority_key: x509.Extension[x509.ExtensionType],
    subject: x509.Name,
    sans: x509.Extension[x509.ExtensionType],
    public: PublicKey,
    serial: int,
    not_before: datetime,
    not_after: datetime,
    locations: Sequence[x509.Extension[x509.ExtensionType]] = (),
) -> x509.Certificate:
    """Build and sign a device leaf.

    ``locations``: where relying parties find revocation status (CRL distribution
    point, OCSP responder), when the CA has published them.  An EC issuing key signs
    DER encoded by :func:`~testbed.pki.der.ec_leaf` (byte for byte the builder's,
    tested); anything else goes through ``cryptography``'s builder.
    """
    if isinstance(issuing_key, ec.EllipticCurvePrivateKey):
        spki = public.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
        ski = _ext(x509.SubjectKeyIdentifier(key_identifier(spki)), critical=False)
        leaf = ec_leaf(
            issuer=issuer,
            issuing_key=issuing_key,
            subject=subject,
            spki=spki,
            serial=serial,
            not_before=not_before,
            not_after=not_after,
            extensions=(
                _LEAF_FIXED_DER,
                *(extension_der(e) for e in (sans, ski, authority_key, *locations)),
            ),
        )
        if leaf is not None:
            return leaf
    builder = x509.CertificateBuilder(
        issuer_name=issuer,
        subject_name=subject,
        public_key=public,
        serial_number=serial,
        not_valid_before=not_before,
        not_valid_after=not_after,
        extensions=[
            _LEAF_CONSTRAINTS,
            _LEAF_USAGE,
            _LEAF_EKU,
            sans,
            _ext(x509.SubjectKeyIdentifier.from_public_key(public), critical=False),
            authority_key,
            *locations,
        ],
    )
    return builder.sign(issuing_key, signature_hash(issuing_key))


def revocation_locations(crl: str, ocsp: str) -> tuple[x509.Extension[x509.ExtensionType], ...]:
    """cRLDistributionPoints (``crl``) and authorityInfoAccess (OCSP at ``ocsp``) of a
    leaf (RFC 5280 §4.2.1.13, §4.2.2.1)."""
    point = x509.DistributionPoint([x509.UniformResourceIdentifier(crl)], None, None, None)
    access = x509.AccessDescription(
        AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(ocsp)
    )
    return (
        _ext(x509.CRLDistributionPoints([point]), critical=False),
        _ext(x509.AuthorityInformationAccess([access]), critical=False),
    )
