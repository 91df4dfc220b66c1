"""Per-site trust bundles: initial content, delayed arrival, withheld and stale sites."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509

from testbed.errors import PkiError
from testbed.pki import MISSING_VERSION, TrustDistribution

NOW = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
DELAY = timedelta(hours=6)
SITES = ("north", "south")


@pytest.fixture
def rotated(make_ca):
    """A fresh CA and its distribution; north's key is rotated one day in."""
    authority = make_ca(31)
    distribution = TrustDistribution(ca=authority, sites=SITES, delay=DELAY, now=NOW)
    rotation = NOW + timedelta(days=1)
    new = authority.rotate_issuing_key(site="north", now=rotation, overlap=timedelta(days=1))
    return authority, distribution, rotation, new


def _names(certificates: list[x509.Certificate] | tuple[x509.Certificate, ...]) -> list[str]:
    return [c.subject.rfc4514_string() for c in certificates]


def test_initial_bundles_hold_root_and_issuing_cas(ca) -> None:
    distribution = TrustDistribution(ca=ca, sites=SITES, delay=DELAY, now=NOW)
    bundle = distribution.bundle("south", now=NOW)
    assert (bundle.site, bundle.version, bundle.updated_at, bundle.missing) == (
        "south",
        1,
        NOW,
        False,
    )
    assert bundle.roots == [ca.root]
    assert _names(bundle.intermediates) == [
        "CN=St Example Issuing CA north-g1",
        "CN=St Example Issuing CA south-g1",
    ]
    assert x509.load_pem_x509_certificates(bundle.pem()) == list(bundle.certificates)


def test_published_set_arrives_after_the_delay(rotated) -> None:
    _authority, distribution, rotation, new = rotated
    arrival = distribution.publish(now=rotation)
    assert arrival == rotation + DELAY
    before = distribution.bundle("north", now=arrival - timedelta(seconds=1))
    assert before.version == 1 and new.certificate not in before.certificates
    after = distribution.bundle("north", now=arrival)
    assert after.version == 2 and after.updated_at == arrival
    assert new.certificate in after.certificates
    assert distribution.bundle("south", now=arrival).version == 2
    assert distribution.bundle("north", now=arrival + DELAY) is after


def test_withheld_site_holds_nothing_until_restored(rotated) -> None:
    _authority, distribution, rotation, new = rotated
    distribution.withhold("north")
    missing = distribution.bundle("north", now=rotation)
    assert missing.missing and missing.certificates == () and missing.version == MISSING_VERSION
    distribution.publish(now=rotation)
    assert distribution.bundle("north", now=rotation + DELAY).missing
    assert distribution.bundle("south", now=rotation + DELAY).version == 2
    restored = distribution.release("north", now=rotation + 2 * DELAY)
    assert not restored.missing and restored.version == 2
    assert new.certificate in restored.certificates


def test_stale_site_keeps_its_version_until_restored(rotated) -> None:
    _authority, distribution, rotation, new = rotated
    distribution.stale("south", now=rotation)
    distribution.publish(now=rotation)
    frozen = distribution.bundle("south", now=rotation + 2 * DELAY)
    assert frozen.version == 1 and new.certificate not in frozen.certificates
    assert distribution.bundle("north", now=rotation + 2 * DELAY).version == 2
    early = distribution.thaw("south", now=rotation)
    assert early.version == 1  # the arrival is not due yet
    assert distribution.bundle("south", now=rotation + DELAY).version == 2


def test_unknown_site_and_negative_delay(ca) -> None:
    distribution = TrustDistribution(ca=ca, sites=SITES, delay=DELAY, now=NOW)
    with pytest.raises(PkiError, match="unknown site 'east'"):
        distribution.bundle("east", now=NOW)
    with pytest.raises(PkiError, match="negative"):
        TrustDistribution(ca=ca, sites=SITES, delay=-DELAY, now=NOW)


def test_a_stale_fault_holds_what_had_arrived_by_its_start_read_or_not(rotated) -> None:
    """What a site holds depends on the time and the faults, never on when someone last
    read its bundle (a read used to be what applied an arrival, so a stale fault froze
    whatever had been read: a run depended on who looked when)."""
    _authority, distribution, rotation, new = rotated
    arrival = distribution.publish(now=rotation)
    distribution.stale("south", now=arrival + DELAY)  # nobody read south's bundle before
    held = distribution.bundle("south", now=arrival + 2 * DELAY)
    assert held.version == 2 and new.certificate in held.certificates


def test_overlapping_faults_end_with_the_last(rotated) -> None:
    _authority, distribution, rotation, _new = rotated
    distribution.withhold("north")
    distribution.withhold("north")
    assert distribution.release("north", now=rotation).missing  # one still holds it
    assert not distribution.release("north", now=rotation).missing
    with pytest.raises(PkiError, match="not withheld"):
        distribution.release("north", now=rotation)
    distribution.stale("south", now=rotation)
    distribution.stale("south", now=rotation)
    distribution.publish(now=rotation)
    assert distribution.thaw("south", now=rotation + DELAY).version == 1  # still stale
    assert distribution.thaw("south", now=rotation + DELAY).version == 2
    with pytest.raises(PkiError, match="not stale"):
        distribution.thaw("south", now=rotation)


def test_an_operator_delivers_a_published_bundle_now_except_to_a_stale_site(rotated) -> None:
    _authority, distribution, rotation, new = rotated
    distribution.stale("south", now=rotation)
    distribution.publish(now=rotation)
    delivered = distribution.deliver_now(now=rotation + timedelta(minutes=1))
    assert {site: b.version for site, b in delivered.items()} == {"north": 2}
    north = distribution.bundle("north", now=rotation + timedelta(minutes=1))
    assert north.updated_at == rotation + timedelta(minutes=1)
    assert new.certificate in north.certificates
    assert distribution.bundle("south", now=rotation + timedelta(minutes=1)).version == 1
    assert distribution.thaw("south", now=rotation + timedelta(minutes=2)).version == 2
    assert distribution.deliver_now(now=rotation + timedelta(minutes=3)) == {}  # none on its way
