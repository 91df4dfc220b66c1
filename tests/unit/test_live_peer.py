"""A client certificate read from a live connection is one object per distinct DER
(testbed.live.peer), so the core's caches, keyed by certificate object, do not grow by
a request: a review measured 3.7-4.9 KB per request (pings, FHIR searches, tokens) on
one kept-alive connection when each request parsed it anew."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from testbed.live import peer
from testbed.live.hospital import LIVE_CACHE_ENTRIES, LiveHospital
from testbed.live.peer import certificate_of, peer_address, peer_certificate
from tests.conftest import Hospital


class _SslObject:
    def __init__(self, der: bytes | None) -> None:
        self.der = der

    def getpeercert(self, *, binary_form: bool) -> bytes | None:
        assert binary_form
        return self.der


class _Transport:
    def __init__(self, der: bytes | None, *, tls: bool = True) -> None:
        self.extra: dict[str, Any] = {"peername": ("127.1.1.1", 40000)}
        if tls:
            self.extra["ssl_object"] = _SslObject(der)

    def get_extra_info(self, name: str) -> Any:
        return self.extra.get(name)


def test_one_certificate_object_per_der_and_the_oldest_goes(
    hospital: Hospital, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(peer, "_interned", type(peer._interned)())
    monkeypatch.setattr(peer, "MAX_INTERNED", 2)
    ders = [hospital.onboard(f"dev-{n}").public_bytes(Encoding.DER) for n in range(3)]
    first = certificate_of(ders[0])
    assert first is not None and certificate_of(bytes(ders[0])) is first
    assert peer_certificate(_Transport(ders[0])) is first
    assert certificate_of(ders[1]) is not first
    certificate_of(ders[0])  # presented again: the most recent
    certificate_of(ders[2])  # the third distinct one: dev-1's goes, dev-0's stays
    assert certificate_of(ders[0]) is first
    assert len(peer._interned) == 2
    assert peer_certificate(_Transport(None)) is None
    assert peer_certificate(_Transport(ders[0], tls=False)) is None
    assert peer_certificate(None) is None
    assert peer_address(_Transport(None)) == "127.1.1.1" and peer_address(None) is None


def test_decisions_on_one_presented_certificate_add_no_cache_entries(
    hospital: Hospital,
) -> None:
    der = hospital.onboard("dev-1").public_bytes(Encoding.DER)
    hospital.publish_crls(now=hospital.start)
    leaves = hospital.access.leaves
    for _ in range(5):
        cert = peer_certificate(_Transport(der))
        assert hospital.attempt("dev-1", cert).allowed
    assert len(leaves) == 1
    # what a request parsing the DER anew did: one entry per request
    from cryptography import x509

    for _ in range(3):
        hospital.attempt("dev-1", x509.load_der_x509_certificate(der))
    assert len(leaves) == 4


def test_a_live_hospital_bounds_its_certificate_caches(repo_root: Path) -> None:
    live = LiveHospital.from_file(repo_root / "scenarios" / "two-site-pilot.yaml")
    assert live.hospital.access.leaves.max_entries == LIVE_CACHE_ENTRIES
    assert live.hospital.verifier.max_entries == LIVE_CACHE_ENTRIES
    assert LIVE_CACHE_ENTRIES < 1_000_000
