"""The live acceptor's TLS contexts (testbed/live/dicom/tls.py: SiteContexts): one per
site, rebuilt when the hospital's revision moved or a bundle on its way has arrived,
and kept while the trust read again is the same."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from testbed.live.dicom.tls import SiteContexts, TrustMaterial

T0 = datetime(2026, 1, 5, tzinfo=UTC)


class Fake:
    """A hospital's revision, clock and trust, as SiteContexts reads them."""

    def __init__(self) -> None:
        self.revision = 0
        self.now = T0
        self.material = TrustMaterial((b"root",))
        self.reads = 0

    def read(self, site: str) -> TrustMaterial:
        self.reads += 1
        return self.material

    def contexts(self) -> SiteContexts:
        def call(work: Callable[[], TrustMaterial]) -> TrustMaterial:
            return work()

        return SiteContexts(revision=lambda: self.revision, now=lambda: self.now,
                            material=self.read, build=lambda site, m: ssl.create_default_context(),
                            call=call)  # fmt: skip


def test_a_context_is_kept_until_the_revision_moves() -> None:
    fake = Fake()
    contexts = fake.contexts()
    first = contexts.current("north")
    assert contexts.current("north") is first
    assert (contexts.builds, fake.reads) == (1, 1)
    fake.revision += 1  # something moved, the site's trust did not
    assert contexts.current("north") is first
    assert (contexts.builds, fake.reads) == (1, 2)
    fake.revision += 1
    fake.material = TrustMaterial((b"root", b"new issuing CA"))
    assert contexts.current("north") is not first
    assert contexts.builds == 2


def test_a_bundle_arriving_later_rebuilds_without_a_revision_move() -> None:
    """A CA rotation publishes a bundle that reaches the site after the distribution
    delay; its arrival moves no revision, so the material's ``until`` does."""
    fake = Fake()
    fake.material = TrustMaterial((b"root",), until=T0 + timedelta(seconds=2))
    contexts = fake.contexts()
    first = contexts.current("north")
    fake.now = T0 + timedelta(seconds=1)
    assert contexts.current("north") is first
    assert fake.reads == 1
    fake.now = T0 + timedelta(seconds=2)
    fake.material = TrustMaterial((b"root", b"new issuing CA"))
    second = contexts.current("north")
    assert second is not first
    fake.now = T0 + timedelta(days=1)  # nothing more on its way: kept
    assert contexts.current("north") is second
    assert (contexts.builds, fake.reads) == (2, 2)


def test_until_does_not_make_material_differ() -> None:
    assert TrustMaterial((b"a",), until=T0) == TrustMaterial((b"a",))
