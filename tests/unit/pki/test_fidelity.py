"""Full and modeled fidelity reach the same TLS-hop decision, case by case.

Each case builds the same hospital PKI twice from the same seed, once with real
artefacts and once modeled, and asks the same verifier (cached and uncached) about
the same leaf.  Both must give the expected reason: a modeled chain check that forgets
a case (a stale bundle without the rotated issuing CA, a foreign CA of the same name,
a bundle without its root) disagrees with path validation here.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest

from testbed.decisions import Reason
from testbed.errors import PkiError
from testbed.pki import (
    CertificateAuthority,
    IssuingMode,
    KeyType,
    TrustBundle,
    Verifier,
    build_crl,
)
from testbed.pki.fidelity import Artefacts, Fidelity, LeafCertificate
from testbed.pki.full import FullArtefacts
from testbed.pki.modeled import ModeledArtefacts, ModeledCertificate
from testbed.pki.revocation import PublishedCrl

from .conftest import NOW, SITES

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
MAKERS: dict[Fidelity, Callable[[], Artefacts]] = {
    Fidelity.FULL: FullArtefacts,
    Fidelity.MODELED: ModeledArtefacts,
}


@dataclass
class World:
    """One PKI at one fidelity level: its CA, its generator, a device leaf."""

    ca: CertificateAuthority
    rng: random.Random
    leaf: LeafCertificate

    def bundle(self, *, now: datetime = NOW, version: int = 1) -> TrustBundle:
        """What a site holds: the root and every issuing CA unexpired at ``now``."""
        issuing = tuple(i.certificate for i in self.ca.issuing_cas(now=now))
        return TrustBundle("north", version, (self.ca.root, *issuing), now)

    def crl(self, now: datetime, *, validity: timedelta = 7 * DAY) -> PublishedCrl:
        """The CRL of the leaf's issuer signed at ``now``."""
        issuer = self.ca.issuing_ca(self.ca.records[self.leaf.serial_number].issuer)
        return build_crl(self.ca, issuer, now=now, next_update_after=validity)


def _ca(
    fidelity: Fidelity, seed: int, **options: object
) -> tuple[CertificateAuthority, random.Random]:
    rng = random.Random(seed)
    ca = CertificateAuthority(
        name="St Example", trust_domain="hospital.example", sites=SITES,
        issuing=IssuingMode.CENTRAL, now=NOW, rng=rng, artefacts=MAKERS[fidelity](),
        **options,  # type: ignore[arg-type]
    )  # fmt: skip
    return ca, rng


def _issue(ca: CertificateAuthority, rng: random.Random, *, now: datetime) -> LeafCertificate:
    """A leaf as a device gets it: key, request, the CA's checks, issuance."""
    artefacts = ca.artefacts
    key = artefacts.new_key(KeyType.EC_P256, rng)
    request, check = artefacts.read_request(artefacts.request(key, "pump-1"))
    assert check.valid and check.cn == "pump-1" and check.key == "ec-p256" and check.bare
    return ca.issue_key(
        artefacts.request_key(request, "pump-1"), device_id="pump-1", site="north",
        services=("pacs",), requester="biomed", on_expiry="renew", lifetime=10 * DAY, now=now,
    )  # fmt: skip


def _world(fidelity: Fidelity, *, seed: int = 5, rotate: bool = False) -> World:
    ca, rng = _ca(fidelity, seed)
    if rotate:  # a new issuing generation signs from the rotation on
        ca.rotate_issuing_key(site=None, now=NOW + DAY, overlap=timedelta(0))
    issued = NOW + 2 * DAY + timedelta(microseconds=654_321)
    return World(ca, rng, _issue(ca, rng, now=issued))


Asked = tuple[LeafCertificate, TrustBundle, PublishedCrl | None, datetime]
Case = Callable[[Fidelity], Asked]


def _in_window(f: Fidelity) -> Asked:
    w = _world(f)
    at = NOW + 3 * DAY
    return w.leaf, w.bundle(), w.crl(at), at


def _expired(f: Fidelity) -> Asked:
    w = _world(f)
    at = NOW + 13 * DAY
    return w.leaf, w.bundle(), w.crl(at), at


def _not_yet_valid(f: Fidelity) -> Asked:
    w = _world(f)
    return w.leaf, w.bundle(), w.crl(NOW), NOW + DAY


def _stale_bundle_after_rotation(f: Fidelity) -> Asked:
    w = _world(f, rotate=True)
    at = NOW + 3 * DAY
    root, first = w.ca.root, w.ca.issuing_cas()[0].certificate
    stale = TrustBundle("north", 1, (root, first), NOW)  # never got generation 2
    return w.leaf, stale, w.crl(at), at


def _bundle_missing(f: Fidelity) -> Asked:
    w = _world(f)
    at = NOW + 3 * DAY
    return w.leaf, TrustBundle("north", 0, (), NOW, missing=True), w.crl(at), at


def _bundle_without_root(f: Fidelity) -> Asked:
    w = _world(f)
    at = NOW + 3 * DAY
    issuing_only = TrustBundle("north", 1, (w.ca.issuing_cas()[0].certificate,), NOW)
    return w.leaf, issuing_only, w.crl(at), at


def _foreign_ca_of_the_same_name(f: Fidelity) -> Asked:
    w = _world(f)
    other = _world(f, seed=6)  # same CA names, other keys
    at = NOW + 3 * DAY
    return w.leaf, other.bundle(), w.crl(at), at


def _revoked(f: Fidelity) -> Asked:
    w = _world(f)
    at = NOW + 3 * DAY
    w.ca.revoke(w.leaf.serial_number, now=at - HOUR)
    return w.leaf, w.bundle(), w.crl(at), at


def _crl_stale(f: Fidelity) -> Asked:
    w = _world(f)
    return w.leaf, w.bundle(), w.crl(NOW + 2 * DAY + HOUR, validity=HOUR), NOW + 3 * DAY


def _crl_missing(f: Fidelity) -> Asked:
    w = _world(f)
    return w.leaf, w.bundle(), None, NOW + 3 * DAY


CASES: list[tuple[Case, Reason]] = [
    (_in_window, Reason.OK),
    (_expired, Reason.CERT_EXPIRED),
    (_not_yet_valid, Reason.CERT_NOT_YET_VALID),
    (_stale_bundle_after_rotation, Reason.CERT_UNTRUSTED_AT_SITE),
    (_bundle_missing, Reason.CERT_UNTRUSTED_AT_SITE),
    (_bundle_without_root, Reason.CERT_UNTRUSTED_AT_SITE),
    (_foreign_ca_of_the_same_name, Reason.CERT_UNTRUSTED_AT_SITE),
    (_revoked, Reason.CERT_REVOKED),
    (_crl_stale, Reason.REVOCATION_UNKNOWN),
    (_crl_missing, Reason.REVOCATION_UNKNOWN),
]


@pytest.mark.parametrize(("case", "reason"), CASES, ids=lambda c: getattr(c, "__name__", c))
@pytest.mark.parametrize("cache", [True, False], ids=["cached", "uncached"])
def test_both_levels_decide_alike(case: Case, reason: Reason, cache: bool) -> None:
    decisions = {}
    for fidelity in Fidelity:
        leaf, bundle, crl, at = case(fidelity)
        verifier = Verifier(cache=cache, artefacts=MAKERS[fidelity]())
        decision = verifier.verify(leaf, bundle=bundle, crl=crl, now=at)
        decisions[fidelity] = (decision.allowed, decision.reason, decision.hop)
    assert decisions[Fidelity.FULL][1] is reason  # the case is what it says
    assert decisions[Fidelity.MODELED] == decisions[Fidelity.FULL]


def test_both_levels_draw_the_generator_alike_and_encode_validity_alike() -> None:
    full, modeled = _world(Fidelity.FULL, rotate=True), _world(Fidelity.MODELED, rotate=True)
    assert isinstance(modeled.leaf, ModeledCertificate)
    assert full.rng.getstate() == modeled.rng.getstate()
    assert full.leaf.serial_number == modeled.leaf.serial_number
    # X.509 times are whole seconds: the modeled leaf drops the fraction the same way
    assert full.leaf.not_valid_before_utc == modeled.leaf.not_valid_before_utc
    assert full.leaf.not_valid_after_utc == modeled.leaf.not_valid_after_utc
    assert modeled.leaf.not_valid_after_utc.microsecond == 0
    assert modeled.leaf.issuer == "St Example Issuing CA central-g2"
    assert modeled.leaf.issuer_generation == 2
    assert modeled.leaf.spiffe_id == "spiffe://hospital.example/site/north/device/pump-1"
    assert modeled.leaf.dns_name == "pump-1.north.devices.hospital.example"
    assert modeled.ca.artefacts.subject_key(modeled.leaf) == modeled.leaf.public_key


def test_a_modeled_crl_has_its_entries_and_no_der() -> None:
    w = _world(Fidelity.MODELED)
    w.ca.revoke(w.leaf.serial_number, now=NOW + 3 * DAY)
    crl = w.crl(NOW + 3 * DAY + HOUR)
    assert crl.der is None and crl.serials == {w.leaf.serial_number}
    with pytest.raises(PkiError, match="no DER form"):
        crl.pem()


def test_a_modeled_request_for_another_device_or_garbage_is_refused() -> None:
    artefacts = ModeledArtefacts()
    key = artefacts.new_key(KeyType.EC_P256, random.Random(1))
    request, _ = artefacts.read_request(artefacts.request(key, "pump-2"))
    with pytest.raises(PkiError, match="does not match"):
        artefacts.request_key(request, "pump-1")
    with pytest.raises(PkiError, match="not a modeled CSR"):
        artefacts.read_request(b"MIIB garbage")


def test_levels_do_not_mix() -> None:
    """A real leaf given to the modeled seam (or the reverse) is a bug, said so."""
    full, modeled = _world(Fidelity.FULL), _world(Fidelity.MODELED)
    with pytest.raises(PkiError, match="modeled fidelity reads modeled certificates"):
        ModeledArtefacts().subject_key(full.leaf)
    with pytest.raises(PkiError, match="full fidelity reads real certificates"):
        FullArtefacts().subject_key(modeled.leaf)
