"""The jti replay cache is bounded in time (entries leave when their assertion
expires) and in size (a full issuer is refused, never made replayable)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from testbed.smart.replay import Admission, ReplayCache

from .conftest import NOW


def test_bounded_in_time_and_size() -> None:
    cache = ReplayCache(per_issuer=2)
    soon, later = NOW + timedelta(minutes=1), NOW + timedelta(minutes=5)
    assert cache.admit("a", "1", until=soon, now=NOW) is Admission.NEW
    assert cache.admit("a", "1", until=later, now=NOW) is Admission.REPLAYED
    assert cache.admit("a", "2", until=later, now=NOW) is Admission.NEW
    assert cache.admit("a", "3", until=later, now=NOW) is Admission.FULL
    assert cache.admit("b", "3", until=later, now=NOW) is Admission.NEW  # per issuer
    assert cache.size(now=NOW) == 3
    assert cache.admit("a", "3", until=later, now=soon) is Admission.NEW  # "1" left
    assert cache.size(now=later) == 0
    cache.forget("a")
    assert cache.admit("a", "2", until=later + timedelta(minutes=1), now=later) is Admission.NEW


def test_a_cache_needs_room() -> None:
    with pytest.raises(ValueError, match="per_issuer"):
        ReplayCache(per_issuer=0)
