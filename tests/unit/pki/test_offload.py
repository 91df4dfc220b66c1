"""Path validation in a helper process: the same facts, never a different decision."""

from __future__ import annotations

import itertools
import random
import time
from datetime import UTC, datetime, timedelta

import pytest

from testbed.pki import TrustDistribution, Verifier, build_crl
from testbed.pki.offload import ValidationWorker
from testbed.pki.verify import bundle_index, derive_facts

NOW = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


@pytest.fixture(scope="module")
def world(make_ca, issue_leaf):
    authority = make_ca(61)
    leaves = [issue_leaf(authority, f"dev-{i}", lifetime=10 * DAY) for i in range(6)]
    authority.revoke(leaves[1].serial_number, now=NOW)
    leaves.append(issue_leaf(make_ca(62, name="Elsewhere"), "stranger", lifetime=10 * DAY))
    trust = TrustDistribution(ca=authority, sites=("north",), delay=HOUR, now=NOW)
    crl = build_crl(
        authority, authority.issuing_ca_for("north", now=NOW), now=NOW,
        next_update_after=20 * DAY,
    )
    return leaves, trust.bundle("north", now=NOW), crl


def _answers(worker: ValidationWorker, wanted: int, timeout: float = 30.0) -> dict:
    got: dict = {}
    deadline = time.monotonic() + timeout
    while len(got) < wanted and time.monotonic() < deadline:
        got.update(worker.answers())
        time.sleep(0.01)
    return got


def test_the_worker_derives_what_the_verifier_derives(world) -> None:
    leaves, bundle, _ = world
    worker = ValidationWorker()
    try:
        tokens = [worker.submit(leaf, bundle.fingerprint, bundle.certificates) for leaf in leaves]
        assert None not in tokens
        got = _answers(worker, len(leaves))
    finally:
        worker.close()
    index = bundle_index(bundle.certificates)
    for token, leaf in zip(tokens, leaves, strict=True):
        assert got[token] == derive_facts(leaf, index).to_tuple()
    assert got[tokens[-1]][4] is not None  # the stranger's chain error came back
    assert worker.sent == worker.answered == len(leaves)


def test_prefetched_and_inline_decisions_agree(world) -> None:
    """Whatever arrives in time, a verifier with a worker decides like one without."""
    leaves, bundle, crl = world
    offsets = [-2 * HOUR, HOUR, 3 * DAY, 11 * DAY]
    cases = list(itertools.product(leaves, offsets))
    random.Random(3).shuffle(cases)
    plain = Verifier()
    worker = ValidationWorker()
    helped = Verifier(worker=worker)
    try:
        for leaf in leaves[::2]:
            assert helped.prefetch(leaf, bundle)
        assert not helped.prefetch(leaves[0], bundle)  # asked already
        _answers(worker, 0, timeout=0)
        for leaf, offset in cases:
            now = NOW + offset
            expected = plain.verify(leaf, bundle=bundle, crl=crl, now=now)
            assert helped.verify(leaf, bundle=bundle, crl=crl, now=now) == expected
    finally:
        worker.close()


def test_a_full_pipe_is_never_written_to(world) -> None:
    leaves, bundle, _ = world
    worker = ValidationWorker(max_in_flight=2)
    try:
        sent = [worker.submit(leaf, bundle.fingerprint, bundle.certificates) for leaf in leaves]
        assert sent[:2] == [0, 1] and sent[2:] == [None] * (len(leaves) - 2)
        assert len(_answers(worker, 2)) == 2
        assert worker.in_flight == 0
        assert worker.submit(leaves[0], bundle.fingerprint, bundle.certificates) == 2
    finally:
        worker.close()


def test_a_dead_worker_is_left_alone(world) -> None:
    """If the helper dies, nothing more is sent and the verifier computes inline."""
    leaves, bundle, crl = world
    worker = ValidationWorker()
    verifier = Verifier(worker=worker)
    assert verifier.prefetch(leaves[0], bundle)
    process = worker.process
    assert process is not None
    process.kill()
    process.join(timeout=10)
    list(worker.answers())
    assert worker.dead
    assert worker.submit(leaves[2], bundle.fingerprint, bundle.certificates) is None
    assert not verifier.prefetch(leaves[2], bundle)
    assert verifier.verify(leaves[0], bundle=bundle, crl=crl, now=NOW + HOUR).allowed
    worker.close()
    worker.close()  # idempotent


def test_max_in_flight_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_in_flight"):
        ValidationWorker(max_in_flight=0)
