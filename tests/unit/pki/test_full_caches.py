"""The full-fidelity caches refuse what the uncached path refuses.

Path validation anchored at an established issuing CA (:mod:`testbed.pki.chain`), the
leaf AKI and CSR memos of :class:`~testbed.pki.full.FullArtefacts`: a tampered
signature, another issuer key under the same name, an expired or not yet valid
certificate, a CA outside its window, a revoked certificate and another bundle are
all refused exactly as without them.
"""

from __future__ import annotations

import base64
import random
from datetime import datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from testbed.decisions import Reason
from testbed.errors import CsrError
from testbed.pki import TrustDistribution, Verifier, build_crl
from testbed.pki.ca import CertificateAuthority
from testbed.pki.chain import BundleIndex, bundle_index, chain_error, derive_facts
from testbed.pki.full import FullArtefacts
from testbed.pki.keys import KeyType, make_csr, new_private_key
from testbed.pki.leaf_profile import authority_key_id, build_leaf, leaf_sans, leaf_subject

from .conftest import NOW, IssueLeaf, MakeCa

DAY = timedelta(days=1)
AT = NOW + timedelta(hours=1)


def _tampered(leaf: x509.Certificate) -> x509.Certificate:
    """``leaf`` with one bit of its signature flipped (still parses)."""
    der = bytearray(leaf.public_bytes(Encoding.DER))
    der[-5] ^= 0x01
    return x509.load_der_x509_certificate(bytes(der))


def _established(authority: CertificateAuthority, issue_leaf: IssueLeaf) -> BundleIndex:
    """The north bundle's index, after one full validation established its issuing CA."""
    issuing = authority.issuing_ca_for("north", now=NOW)
    index = bundle_index((authority.root, issuing.certificate))
    first = issue_leaf(authority, "first", lifetime=10 * DAY)
    assert chain_error(first, index, AT) is None
    assert [c for c, _ in index.anchors[issuing.certificate.subject]] == [issuing.certificate]
    return index


def _same(leaf: x509.Certificate, index: BundleIndex, at: datetime) -> str | None:
    """The anchored answer, after checking it equals the full validation's."""
    anchored = chain_error(leaf, index, at)
    assert anchored == chain_error(leaf, index, at, anchored=False)
    return anchored


@pytest.fixture(scope="module")
def authority(make_ca: MakeCa) -> CertificateAuthority:
    return make_ca(51)


def test_a_leaf_of_an_established_ca_is_accepted(authority, issue_leaf) -> None:
    index = _established(authority, issue_leaf)
    leaf = issue_leaf(authority, "second", lifetime=10 * DAY)
    assert _same(leaf, index, AT) is None


def test_a_tampered_signature_is_refused(authority, issue_leaf) -> None:
    index = _established(authority, issue_leaf)
    leaf = _tampered(issue_leaf(authority, "tampered", lifetime=10 * DAY))
    error = _same(leaf, index, AT)
    assert error is not None


def test_another_key_under_the_same_name_is_refused(authority, make_ca, issue_leaf) -> None:
    """A CA with the same names and other keys: its leaves name the established CA as
    issuer but are not signed by its key."""
    index = _established(authority, issue_leaf)
    impostor = issue_leaf(make_ca(52), "impostor", lifetime=10 * DAY)
    assert impostor.issuer == authority.issuing_ca_for("north", now=NOW).certificate.subject
    assert _same(impostor, index, AT) is not None


def test_a_forged_authority_key_id_is_refused(authority, issue_leaf, device_key) -> None:
    """Same issuer name and the established CA's key id, signed by another key."""
    index = _established(authority, issue_leaf)
    issuing = authority.issuing_ca_for("north", now=NOW)
    other = new_private_key(KeyType.EC_P256, random.Random(5))
    forged = build_leaf(
        issuer=issuing.certificate.subject, issuing_key=other,
        authority_key=authority_key_id(issuing.key),
        subject=leaf_subject("forged", authority.trust_domain),
        sans=leaf_sans(authority.trust_domain, "north", "forged"),
        public=device_key.public_key(), serial=0xF0F0, not_before=NOW - DAY,
        not_after=NOW + DAY,
    )  # fmt: skip
    assert _same(forged, index, AT) is not None


@pytest.mark.parametrize("offset", [-DAY, 11 * DAY], ids=["not-yet-valid", "expired"])
def test_a_leaf_outside_its_window_is_refused(authority, issue_leaf, offset) -> None:
    index = _established(authority, issue_leaf)
    leaf = issue_leaf(authority, "window", lifetime=10 * DAY)
    assert _same(leaf, index, NOW + offset) is not None


def test_outside_the_issuing_cas_window_the_full_validation_decides(make_ca, issue_leaf):
    """A leaf valid past its issuing CA (another CA could sign one): refused then."""
    brief = make_ca(53, name="Brief", issuing_lifetime=2 * DAY)
    index = _established(brief, issue_leaf)
    issuing = brief.issuing_ca_for("north", now=NOW)
    key = new_private_key(KeyType.EC_P256, random.Random(6))
    long = build_leaf(
        issuer=issuing.certificate.subject, issuing_key=issuing.key,
        authority_key=authority_key_id(issuing.key),
        subject=leaf_subject("long", brief.trust_domain),
        sans=leaf_sans(brief.trust_domain, "north", "long"),
        public=key.public_key(), serial=0x10B6, not_before=NOW - DAY,
        not_after=NOW + 10 * DAY,
    )  # fmt: skip
    assert _same(long, index, AT) is None
    assert _same(long, index, NOW + 5 * DAY) is not None  # the issuing CA expired


def test_another_bundle_starts_again(authority, make_ca, issue_leaf) -> None:
    """The establishment lives in one bundle's index: a bundle without the root refuses."""
    _established(authority, issue_leaf)
    issuing = authority.issuing_ca_for("north", now=NOW)
    stranger = make_ca(54, name="Elsewhere")
    index = bundle_index((stranger.root, issuing.certificate))
    leaf = issue_leaf(authority, "elsewhere", lifetime=10 * DAY)
    assert _same(leaf, index, AT) is not None
    assert not index.anchors


def test_a_ca_with_other_extensions_is_never_established(issue_leaf, device_key) -> None:
    """Name constraints (which depend on the leaf) keep the full validation for every leaf."""
    rng = random.Random(8)
    root_key = new_private_key(KeyType.EC_P256, rng)
    issuing_key = new_private_key(KeyType.EC_P256, rng)
    root_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "NC Root")])
    issuing_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "NC Issuing")])
    usage = x509.KeyUsage(True, False, False, False, False, True, True, False, False)
    root = (
        x509.CertificateBuilder().subject_name(root_name).issuer_name(root_name)
        .public_key(root_key.public_key()).serial_number(1)
        .not_valid_before(NOW - DAY).not_valid_after(NOW + 100 * DAY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), False)
        .sign(root_key, hashes.SHA256())
    )  # fmt: skip
    constraints = x509.NameConstraints(
        permitted_subtrees=[x509.DNSName("hospital.example")], excluded_subtrees=None
    )
    issuing = (
        x509.CertificateBuilder().subject_name(issuing_name).issuer_name(root_name)
        .public_key(issuing_key.public_key()).serial_number(2)
        .not_valid_before(NOW - DAY).not_valid_after(NOW + 50 * DAY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(issuing_key.public_key()),
                       False)
        .add_extension(constraints, critical=True)
        .sign(root_key, hashes.SHA256())
    )  # fmt: skip
    index = bundle_index((root, issuing))

    def leaf(device: str, domain: str) -> x509.Certificate:
        return build_leaf(
            issuer=issuing_name, issuing_key=issuing_key,
            authority_key=authority_key_id(issuing_key),
            subject=leaf_subject(device, domain), sans=leaf_sans(domain, "north", device),
            public=device_key.public_key(), serial=rng.randrange(1, 2**64),
            not_before=NOW - DAY, not_after=NOW + DAY,
        )  # fmt: skip

    assert _same(leaf("inside", "hospital.example"), index, AT) is None
    assert not index.anchors[issuing_name]
    assert _same(leaf("outside", "elsewhere.example"), index, AT) is not None


def test_the_verifier_still_refuses_a_revoked_leaf(make_ca, issue_leaf) -> None:
    """Revocation is the verifier's: an established chain changes nothing there."""
    authority = make_ca(55)
    distribution = TrustDistribution(
        ca=authority, sites=("north", "south"), delay=timedelta(hours=6), now=NOW
    )
    valid = issue_leaf(authority, "valid", lifetime=10 * DAY)
    revoked = issue_leaf(authority, "revoked", lifetime=10 * DAY)
    authority.revoke(revoked.serial_number, now=NOW)
    at = NOW + timedelta(hours=7)
    bundle = distribution.bundle("north", now=at)
    crl = build_crl(
        authority, authority.issuing_ca_for("north", now=at), now=at, next_update_after=DAY
    )
    for cache in (True, False):
        verifier = Verifier(cache=cache)
        assert verifier.verify(valid, bundle=bundle, crl=crl, now=at).allowed
        decision = verifier.verify(revoked, bundle=bundle, crl=crl, now=at)
        assert decision.reason is Reason.CERT_REVOKED
        expired = verifier.verify(valid, bundle=bundle, crl=crl, now=NOW + 11 * DAY)
        assert expired.reason is Reason.CERT_EXPIRED
        tampered = verifier.verify(_tampered(valid), bundle=bundle, crl=crl, now=at)
        assert tampered.reason is Reason.CERT_UNTRUSTED_AT_SITE


def test_equivalence_over_leaves_and_times(make_ca, issue_leaf) -> None:
    """Anchored and full validation agree for a mix of leaves over a span of times."""
    authority = make_ca(56)
    index = _established(authority, issue_leaf)
    leaves = [issue_leaf(authority, f"d{i}", now=NOW + i * DAY, lifetime=3 * DAY)
              for i in range(4)]
    leaves += [_tampered(leaves[0]), issue_leaf(make_ca(57), "impostor", lifetime=DAY)]
    leaves.append(issue_leaf(authority, "south-leaf", site="south", lifetime=DAY))
    for hours in range(-30, 24 * 8, 7):
        for leaf in leaves:
            _same(leaf, index, NOW + timedelta(hours=hours))


# -- the memos of FullArtefacts ----------------------------------------------


def test_the_aki_memo_is_the_leafs_own(authority, issue_leaf) -> None:
    """Path facts of a leaf the artefacts built equal those read from a fresh copy."""
    artefacts = authority.artefacts
    assert isinstance(artefacts, FullArtefacts)
    leaf = issue_leaf(authority, "memo", lifetime=DAY)
    copy = x509.load_der_x509_certificate(leaf.public_bytes(Encoding.DER))
    issuing = authority.issuing_ca_for("north", now=NOW)
    index = bundle_index((authority.root, issuing.certificate))
    other = bundle_index((authority.root, issuing.certificate))
    built = artefacts._built[id(leaf)]
    assert built[0] is leaf
    assert derive_facts(leaf, index, authority_key=(built[1],)) == derive_facts(copy, other)
    assert id(copy) not in artefacts._built


def _body(key: ec.EllipticCurvePrivateKey, cn: str) -> bytes:
    return base64.b64encode(make_csr(key, cn).public_bytes(Encoding.DER))


def test_the_csr_memo_refuses_what_csr_key_refuses() -> None:
    artefacts = FullArtefacts()
    key = new_private_key(KeyType.EC_P256, random.Random(9))
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    csr, check = artefacts.read_request(_body(key, "dev-1"))
    assert check.valid and check.cn == "dev-1"
    with pytest.raises(CsrError, match="does not match the device 'dev-2'"):
        artefacts.request_key(csr, "dev-2")
    csr, _ = artefacts.read_request(_body(key, "dev-1"))
    assert artefacts.request_key(csr, "dev-1") == key.public_key()
    # a CSR object it did not read: decoded as before
    other = x509.load_der_x509_csr(make_csr(key, "dev-3").public_bytes(Encoding.DER))
    assert artefacts.request_key(other, "dev-3") == key.public_key()
    # a tampered signature is refused when read, and never memoised
    der = bytearray(make_csr(key, "dev-4").public_bytes(Encoding.DER))
    der[-3] ^= 0x01
    with pytest.raises(CsrError, match="signature does not verify"):
        artefacts.read_request(base64.b64encode(bytes(der)))
    assert artefacts._read is None
