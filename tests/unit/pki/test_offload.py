"""Path validation in a helper process: the same facts, never a different decision."""

from __future__ import annotations

import itertools
import os
import random
import signal
import time
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509

from testbed.pki import TrustDistribution, Verifier, build_crl
from testbed.pki.keys import KeyType, common_name, ec_key
from testbed.pki.offload import CryptoWorker
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


def _wait(worker: CryptoWorker, tokens: list[int | None], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(t is not None and worker.has_answered(t) for t in tokens):
            return
        time.sleep(0.01)
    raise AssertionError(f"no answer within {timeout} s")


def test_the_worker_derives_what_the_verifier_derives(world) -> None:
    leaves, bundle, _ = world
    worker = CryptoWorker()
    try:
        tokens = [worker.submit(leaf, bundle.fingerprint, bundle.certificates) for leaf in leaves]
        _wait(worker, tokens)
        got = [worker.take(t) for t in tokens if t is not None]
        assert worker.sent == worker.answered == len(leaves)
    finally:
        worker.close()
    index = bundle_index(bundle.certificates)
    assert got == [derive_facts(leaf, index).to_tuple() for leaf in leaves]
    assert got[-1][4] is not None  # the stranger's chain error came back
    assert got[0][4] is None


def test_the_worker_makes_csrs_the_ca_accepts() -> None:
    """A prepared CSR carries the key of its scalar and the CA's verdict on its bytes."""
    worker = CryptoWorker()
    try:
        token = worker.submit_csr("ec-p256", 12345, "dev-7")
        _wait(worker, [token])
        assert token is not None
        der, check = worker.take(token)
    finally:
        worker.close()
    csr = x509.load_der_x509_csr(der)
    assert check.valid is True and csr.is_signature_valid
    assert check.cn == common_name(csr.subject) == "dev-7"
    assert (check.key, check.bare) == ("ec-p256", True)
    expected = ec_key(KeyType.EC_P256, 12345).public_key()
    assert csr.public_key() == expected


def test_a_late_answer_is_dropped_not_kept(world) -> None:
    leaves, bundle, _ = world
    worker = CryptoWorker()
    try:
        token = worker.submit(leaves[0], bundle.fingerprint, bundle.certificates)
        assert token is not None
        assert worker.take(token) is None  # asked at once: not there yet, done inline
        other = worker.submit(leaves[1], bundle.fingerprint, bundle.certificates)
        _wait(worker, [other])
        assert not worker.has_answered(token)  # arrived and was dropped
        assert worker.in_flight == 0
    finally:
        worker.close()


def test_prefetched_and_inline_decisions_agree(world) -> None:
    """Whatever arrives in time, a verifier with a worker decides like one without."""
    leaves, bundle, crl = world
    offsets = [-2 * HOUR, HOUR, 3 * DAY, 11 * DAY]
    cases = list(itertools.product(leaves, offsets))
    random.Random(3).shuffle(cases)
    plain = Verifier()
    worker = CryptoWorker()
    helped = Verifier(worker=worker)
    try:
        for leaf in leaves[::2]:
            assert helped.prefetch(leaf, bundle)
        assert not helped.prefetch(leaves[0], bundle)  # asked already
        for leaf, offset in cases:
            now = NOW + offset
            expected = plain.verify(leaf, bundle=bundle, crl=crl, now=now)
            assert helped.verify(leaf, bundle=bundle, crl=crl, now=now) == expected
    finally:
        worker.close()


def test_a_full_pipe_is_never_written_to(world) -> None:
    """At most ``max_in_flight`` requests are outstanding; the rest wait and all are answered."""
    leaves, bundle, _ = world
    worker = CryptoWorker(max_in_flight=2)
    try:
        tokens = []
        for leaf in leaves * 3:
            tokens.append(worker.submit(leaf, bundle.fingerprint, bundle.certificates))
            assert worker.in_flight <= 2
        assert None not in tokens
        assert worker.sent < len(tokens) and worker.queued > 0  # the rest are queued
        _wait(worker, tokens)
        assert worker.sent == len(tokens) and worker.queued == 0 and worker.in_flight == 0
        expected = derive_facts(leaves[0], bundle_index(bundle.certificates)).to_tuple()
        assert worker.take(tokens[-len(leaves)]) == expected
    finally:
        worker.close()


def test_a_request_taken_before_it_was_sent_is_never_sent(world) -> None:
    leaves, bundle, _ = world
    worker = CryptoWorker(max_in_flight=1, max_queued=2)
    try:
        first = worker.submit(leaves[0], bundle.fingerprint, bundle.certificates)
        assert worker.process is not None and worker.process.pid is not None
        os.kill(worker.process.pid, signal.SIGSTOP)  # ``first`` stays in flight
        second = worker.submit(leaves[1], bundle.fingerprint, bundle.certificates)
        third = worker.submit(leaves[2], bundle.fingerprint, bundle.certificates)
        assert worker.submit(leaves[3], bundle.fingerprint, bundle.certificates) is None  # full
        assert None not in (first, second, third)
        assert worker.take(second) is None  # still queued: done inline, never sent
        os.kill(worker.process.pid, signal.SIGCONT)
        _wait(worker, [first, third])
        assert worker.sent == 2 and worker.in_flight == 0 and worker.queued == 0
    finally:
        worker.close()


def test_a_dead_worker_is_left_alone(world) -> None:
    """If the helper dies, nothing more is sent and the verifier computes inline."""
    leaves, bundle, crl = world
    worker = CryptoWorker()
    verifier = Verifier(worker=worker)
    assert verifier.prefetch(leaves[0], bundle)
    process = worker.process
    assert process is not None
    process.kill()
    process.join(timeout=10)
    assert not worker.has_answered(0)
    assert worker.dead
    assert worker.submit(leaves[2], bundle.fingerprint, bundle.certificates) is None
    assert not verifier.prefetch(leaves[2], bundle)
    assert verifier.verify(leaves[0], bundle=bundle, crl=crl, now=NOW + HOUR).allowed
    worker.close()
    worker.close()  # idempotent


def test_max_in_flight_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_in_flight"):
        CryptoWorker(max_in_flight=0)


_ORPHAN = """
import sys, time
from testbed.pki.offload import CryptoWorker
worker = CryptoWorker()
token = worker.submit_csr("ec-p256", 12345, "orphan")
while not worker.has_answered(token):
    time.sleep(0.01)
print(worker.process.pid, flush=True)
time.sleep(60)  # killed before this ends, never closing the worker
"""


def test_the_worker_exits_when_the_simulation_dies_without_closing_it(tmp_path) -> None:
    """The simulation's process is killed (no ``close()``, no finalizer): the worker
    notices its parent's exit and stops, instead of waiting for requests forever."""
    import subprocess
    import sys

    script = tmp_path / "orphan.py"
    script.write_text(_ORPHAN, encoding="utf-8")
    with subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE) as parent:
        try:
            assert parent.stdout is not None
            helper = int(parent.stdout.readline())
        finally:
            parent.kill()
            parent.wait(timeout=10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(helper, 0)
        except ProcessLookupError:
            return  # gone (reaped by init once it exited)
        time.sleep(0.05)
    os.kill(helper, signal.SIGKILL)
    pytest.fail(f"the helper {helper} outlived its killed parent by 10 s")
