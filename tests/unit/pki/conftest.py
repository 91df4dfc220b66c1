"""Shared PKI fixtures: deterministic CAs and leaves (keys made once per module)."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509

from testbed.pki import CertificateAuthority, IssuingMode, KeyType, make_csr, new_private_key
from testbed.pki.keys import PrivateKey

NOW = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
SITES = ("north", "south")

MakeCa = Callable[..., CertificateAuthority]
IssueLeaf = Callable[..., x509.Certificate]


def build_ca(
    seed: int | None = 7,
    *,
    name: str = "St Example",
    issuing: IssuingMode = IssuingMode.PER_SITE,
    now: datetime = NOW,
    **options: object,
) -> CertificateAuthority:
    """A CA over the two test sites; deterministic unless ``seed`` is None."""
    rng = None if seed is None else random.Random(seed)
    return CertificateAuthority(
        name=name,
        trust_domain="hospital.example",
        sites=SITES,
        issuing=issuing,
        now=now,
        rng=rng,
        **options,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
def make_ca() -> MakeCa:
    """The CA factory (fresh CAs for tests that mutate one)."""
    return build_ca


@pytest.fixture(scope="module")
def ca() -> CertificateAuthority:
    """A per-site CA shared by one test module (tests must not rotate or revoke it)."""
    return build_ca()


@pytest.fixture(scope="module")
def device_key() -> PrivateKey:
    """One device key reused for every CSR of a module (keys are not under test there)."""
    return new_private_key(KeyType.EC_P256, random.Random(99))


@pytest.fixture(scope="module")
def issue_leaf(device_key: PrivateKey) -> IssueLeaf:
    """Issue a leaf from a given CA: ``issue_leaf(ca, "dev-1", site=..., now=...)``."""

    def issue(
        authority: CertificateAuthority,
        device_id: str,
        *,
        site: str = "north",
        now: datetime = NOW,
        lifetime: timedelta = timedelta(days=1),
        renewal_of: int | None = None,
    ) -> x509.Certificate:
        return authority.issue(
            make_csr(device_key, device_id),
            device_id=device_id,
            site=site,
            services=("pacs", "fhir"),
            requester="biomed",
            on_expiry="renew",
            lifetime=lifetime,
            now=now,
            renewal_of=renewal_of,
        )

    return issue
