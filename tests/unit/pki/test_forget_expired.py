"""The decision caches forget expired certificates without changing a decision."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from testbed.decisions import Reason
from testbed.pki import TrustDistribution, Verifier, build_crl
from testbed.pki.leaf import LeafCache

NOW = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def test_verifier_forgets_only_expired_paths_and_decides_the_same(make_ca, issue_leaf) -> None:
    authority = make_ca(51)
    short = issue_leaf(authority, "short", lifetime=DAY)
    long = issue_leaf(authority, "long", lifetime=10 * DAY)
    trust = TrustDistribution(ca=authority, sites=("north",), delay=timedelta(0), now=NOW)
    bundle = trust.bundle("north", now=NOW)
    later = NOW + 2 * DAY
    crl = build_crl(
        authority, authority.issuing_ca_for("north", now=later), now=later,
        next_update_after=DAY,
    )  # fmt: skip
    verifier = Verifier()
    for leaf in (short, long):
        verifier.verify(leaf, bundle=bundle, crl=crl, now=NOW + timedelta(hours=1))
    before = {
        leaf.serial_number: verifier.verify(leaf, bundle=bundle, crl=crl, now=later)
        for leaf in (short, long)
    }
    assert before[short.serial_number].reason is Reason.CERT_EXPIRED
    assert before[long.serial_number].allowed
    assert verifier.forget_expired(later) == 2  # the short leaf's two cache entries
    assert verifier.forget_expired(later) == 0
    after = {
        leaf.serial_number: verifier.verify(leaf, bundle=bundle, crl=crl, now=later)
        for leaf in (short, long)
    }
    assert after == before


def test_leaf_cache_forgets_only_expired(make_ca, issue_leaf) -> None:
    authority = make_ca(52)
    short = issue_leaf(authority, "short", lifetime=DAY)
    long = issue_leaf(authority, "long", lifetime=10 * DAY)
    cache = LeafCache()
    facts = {leaf.serial_number: cache.facts(leaf) for leaf in (short, long)}
    assert cache.forget_expired(NOW + 2 * DAY) == 1
    assert len(cache) == 1
    assert cache.facts(long) is facts[long.serial_number]  # kept
    again = cache.facts(short)  # decoded again, same facts
    assert again is not facts[short.serial_number]
    assert again == facts[short.serial_number]
