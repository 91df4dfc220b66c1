"""The TLS-hop verifier: every reason, and cached equals uncached."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta

import pytest

from testbed.decisions import Hop, Reason
from testbed.pki import TrustDistribution, Verifier, build_crl
from testbed.pki.leaf_profile import authority_key_id, build_leaf, leaf_sans, leaf_subject

NOW = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
DELAY = timedelta(hours=6)


@pytest.fixture(scope="module")
def world(make_ca, issue_leaf, device_key):
    """A CA, a trust distribution, a revoked leaf, a foreign CA and a short-lived issuer."""
    authority = make_ca(41)
    valid = issue_leaf(authority, "valid", lifetime=10 * DAY)
    revoked = issue_leaf(authority, "revoked", lifetime=10 * DAY)
    authority.revoke(revoked.serial_number, now=NOW)
    late = issue_leaf(authority, "late", now=NOW + 2 * DAY, lifetime=DAY)
    south = issue_leaf(authority, "southern", site="south", lifetime=10 * DAY)
    distribution = TrustDistribution(ca=authority, sites=("north", "south"), delay=DELAY, now=NOW)
    stranger = make_ca(42, name="Elsewhere")
    same_name = make_ca(43)  # same names as `authority`, different keys
    short = make_ca(44, name="Brief", issuing_lifetime=2 * DAY)
    return {
        "ca": authority,
        "trust": distribution,
        "valid": valid,
        "revoked": revoked,
        "late": late,
        "south": south,
        "stranger": issue_leaf(stranger, "valid", lifetime=10 * DAY),
        "impostor": issue_leaf(same_name, "valid", lifetime=10 * DAY),
        "short_ca": short,
        "outlives_issuer": _uncapped_leaf(short, "long", device_key, lifetime=10 * DAY),
    }


def _uncapped_leaf(authority, device_id: str, key, *, lifetime: timedelta):
    """A leaf that outlives its issuing CA: this CA caps its leaves, other CAs may not."""
    issuing = authority.issuing_ca_for("north", now=NOW)
    return build_leaf(
        issuer=issuing.certificate.subject,
        issuing_key=issuing.key,
        authority_key=authority_key_id(issuing.key),
        subject=leaf_subject(device_id, authority.trust_domain),
        sans=leaf_sans(authority.trust_domain, "north", device_id),
        public=key.public_key(),
        serial=0x5EED,
        not_before=NOW - timedelta(minutes=1),
        not_after=NOW + lifetime,
    )


def _crl(authority, site: str, at: datetime, *, fresh_for: timedelta = DAY):
    return build_crl(
        authority, authority.issuing_ca_for(site, now=at), now=at, next_update_after=fresh_for
    )


@pytest.fixture(scope="module")
def north(world):
    """The north bundle and a fresh north CRL at NOW + 1 h."""
    at = NOW + HOUR
    return world["trust"].bundle("north", now=at), _crl(world["ca"], "north", at), at


@pytest.mark.parametrize("cache", [True, False])
@pytest.mark.parametrize(
    ("leaf", "offset", "reason"),
    [
        ("valid", HOUR, Reason.OK),
        ("valid", 11 * DAY, Reason.CERT_EXPIRED),
        ("late", HOUR, Reason.CERT_NOT_YET_VALID),
        ("revoked", HOUR, Reason.CERT_REVOKED),
        ("stranger", HOUR, Reason.CERT_UNTRUSTED_AT_SITE),
        ("impostor", HOUR, Reason.CERT_UNTRUSTED_AT_SITE),
        ("south", HOUR, Reason.REVOCATION_UNKNOWN),  # the CRL given is north's
    ],
)
def test_reasons(world, north, cache, leaf, offset, reason) -> None:
    bundle, crl, _at = north
    decision = Verifier(cache=cache).verify(world[leaf], bundle=bundle, crl=crl, now=NOW + offset)
    assert decision.hop is Hop.TLS
    assert decision.reason is reason, decision.detail
    assert decision.allowed is (reason is Reason.OK)


def test_missing_leaf(north) -> None:
    bundle, crl, at = north
    assert Verifier().verify(None, bundle=bundle, crl=crl, now=at).reason is Reason.CERT_MISSING


def test_untrusted_detail_carries_the_verifier_message(world, north) -> None:
    bundle, crl, at = north
    decision = Verifier().verify(world["stranger"], bundle=bundle, crl=crl, now=at)
    assert decision.detail.startswith("not trusted at site 'north': ")
    assert len(decision.detail) > len("not trusted at site 'north': ")


def test_missing_or_stale_crl_fails_closed(world, north) -> None:
    bundle, crl, at = north
    verifier = Verifier()
    assert verifier.verify(world["valid"], bundle=bundle, crl=None, now=at).reason is (
        Reason.REVOCATION_UNKNOWN
    )
    stale_at = crl.next_update + timedelta(seconds=1)
    decision = verifier.verify(world["valid"], bundle=bundle, crl=crl, now=stale_at)
    assert decision.reason is Reason.REVOCATION_UNKNOWN and "nextUpdate" in decision.detail
    # a CRL from the future (the relying party's clock behind the CA's): not yet valid
    early = crl.this_update - timedelta(seconds=1)
    decision = verifier.verify(world["valid"], bundle=bundle, crl=crl, now=early)
    assert decision.reason is Reason.REVOCATION_UNKNOWN and "not valid before" in decision.detail


def test_missing_bundle_is_untrusted(world, north) -> None:
    _bundle, crl, at = north
    trust = TrustDistribution(ca=world["ca"], sites=("north",), delay=DELAY, now=NOW)
    trust.withhold("north")
    missing = trust.bundle("north", now=at)
    decision = Verifier().verify(world["valid"], bundle=missing, crl=crl, now=at)
    assert decision.reason is Reason.CERT_UNTRUSTED_AT_SITE
    assert "no trust anchors" in decision.detail


@pytest.mark.parametrize("cache", [True, False])
def test_expired_issuing_ca_is_named(world, cache) -> None:
    short = world["short_ca"]
    at = NOW + 3 * DAY
    trust = TrustDistribution(ca=short, sites=("north",), delay=DELAY, now=NOW)
    bundle = trust.bundle("north", now=at)
    crl = _crl(short, "north", NOW + DAY, fresh_for=5 * DAY)
    decision = Verifier(cache=cache).verify(
        world["outlives_issuer"], bundle=bundle, crl=crl, now=at
    )
    assert decision.reason is Reason.CERT_EXPIRED
    assert "issuing CA 'Brief Issuing CA north-g1' expired" in decision.detail


def test_rotated_key_untrusted_until_bundle_arrives(make_ca, issue_leaf) -> None:
    authority = make_ca(45)
    trust = TrustDistribution(ca=authority, sites=("north",), delay=DELAY, now=NOW)
    new = authority.rotate_issuing_key(site="north", now=NOW + HOUR, overlap=timedelta(0))
    leaf = issue_leaf(authority, "fresh", now=NOW + HOUR)
    at = NOW + 2 * HOUR
    crl = build_crl(authority, new, now=at, next_update_after=DAY)
    verifier = Verifier()
    old = verifier.verify(leaf, bundle=trust.bundle("north", now=at), crl=crl, now=at)
    assert old.reason is Reason.CERT_UNTRUSTED_AT_SITE
    trust.publish(now=at)
    arrived = at + DELAY
    bundle = trust.bundle("north", now=arrived)
    crl = build_crl(authority, new, now=arrived, next_update_after=DAY)
    assert verifier.verify(leaf, bundle=bundle, crl=crl, now=arrived).allowed


def test_cached_and_uncached_agree(world) -> None:
    """Same decisions for every (leaf, bundle, time), whatever order fills the cache."""
    authority, trust = world["ca"], world["trust"]
    leaves = [world[k] for k in ("valid", "revoked", "late", "south", "stranger", "impostor")]
    leaves.append(world["outlives_issuer"])
    short_trust = TrustDistribution(ca=world["short_ca"], sites=("north",), delay=DELAY, now=NOW)
    bundles = [
        trust.bundle("north", now=NOW),
        trust.bundle("south", now=NOW),
        short_trust.bundle("north", now=NOW),
    ]
    offsets = [-2 * HOUR, -30 * timedelta(seconds=1), HOUR, 2 * DAY + HOUR, 3 * DAY, 11 * DAY]
    cases = list(itertools.product(leaves, bundles, offsets))
    random.Random(5).shuffle(cases)
    cached, uncached = Verifier(cache=True), Verifier(cache=False)
    crls = {site: _crl(authority, site, NOW, fresh_for=20 * DAY) for site in ("north", "south")}
    for leaf, bundle, offset in cases:
        crl = crls.get(bundle.site)
        now = NOW + offset
        expected = uncached.verify(leaf, bundle=bundle, crl=crl, now=now)
        assert cached.verify(leaf, bundle=bundle, crl=crl, now=now) == expected
    reasons = {
        uncached.verify(lf, bundle=b, crl=crls[b.site], now=NOW + o).reason for lf, b, o in cases
    }
    assert {Reason.OK, Reason.CERT_EXPIRED, Reason.CERT_NOT_YET_VALID} <= reasons
    assert {Reason.CERT_REVOKED, Reason.CERT_UNTRUSTED_AT_SITE} <= reasons


def test_cache_is_bounded(world, north) -> None:
    bundle, crl, at = north
    verifier = Verifier(max_entries=1)
    for leaf in (world["valid"], world["revoked"], world["valid"]):
        verifier.verify(leaf, bundle=bundle, crl=crl, now=at)
    assert verifier.verify(world["valid"], bundle=bundle, crl=crl, now=at).allowed


def test_path_validation_waits_until_a_call_gets_past_the_windows(world, north, monkeypatch):
    """A leaf refused for its window is never path-validated; once in it, it is, once."""
    import testbed.pki.full as full

    calls = []
    real = full.chain_error

    def counting(*args):
        calls.append(args[0])
        return real(*args)

    monkeypatch.setattr(full, "chain_error", counting)
    bundle, crl, at = north
    verifier, plain = Verifier(), Verifier(cache=False)
    late = world["late"]  # valid from NOW + 2 days
    early = verifier.verify(late, bundle=bundle, crl=crl, now=at)
    assert early.reason is Reason.CERT_NOT_YET_VALID and calls == []
    later = NOW + 2 * DAY + HOUR
    crl_later = _crl(world["ca"], "north", later)
    expected = plain.verify(late, bundle=bundle, crl=crl_later, now=later)
    calls.clear()
    for _ in range(2):
        assert verifier.verify(late, bundle=bundle, crl=crl_later, now=later) == expected
    assert expected.allowed and calls == [late]  # validated once, then cached
