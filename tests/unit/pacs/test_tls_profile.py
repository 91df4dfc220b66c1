"""The TLS profile a site accepts: BCP 195 non-downgrading by default, or legacy."""

from __future__ import annotations

import pytest

from testbed.pacs.tls_profile import (
    Negotiated,
    SuiteFamily,
    TlsOffer,
    TlsProfile,
    TlsVersion,
    negotiate,
)

BCP195, LEGACY = TlsProfile.BCP195_NON_DOWNGRADING, TlsProfile.LEGACY


@pytest.mark.parametrize(
    ("versions", "expected"),
    [(["tls1.3"], "tls1.3"), (["tls1.2"], "tls1.2"), (["tls1.1", "tls1.2"], "tls1.2"),
     (["tls1.0", "tls1.1", "tls1.2", "tls1.3"], "tls1.3")],
)  # fmt: skip
def test_bcp195_takes_the_highest_version_of_1_2_and_up(versions: list[str], expected: str) -> None:
    agreed = negotiate(BCP195, TlsOffer.of(versions))
    assert agreed == Negotiated(TlsVersion(expected), SuiteFamily.ECDHE_AEAD)


@pytest.mark.parametrize(
    ("versions", "suites", "needs"),
    [(["tls1.0"], ["ecdhe-aead"], "tls1.2, tls1.3"), (["tls1.1"], ["ecdhe-aead"], "tls1.2"),
     (["tls1.2"], ["rsa"], "ecdhe-aead"), (["tls1.3"], ["ecdhe-cbc", "rsa"], "ecdhe-aead")],
)  # fmt: skip
def test_bcp195_never_downgrades(versions: list[str], suites: list[str], needs: str) -> None:
    refused = negotiate(BCP195, TlsOffer.of(versions, suites))
    assert isinstance(refused, str) and needs in refused


def test_a_legacy_site_takes_what_an_old_device_offers() -> None:
    assert negotiate(LEGACY, TlsOffer.of(["tls1.0"], ["rsa"])) == Negotiated(
        TlsVersion.TLS1_0, SuiteFamily.RSA
    )
    assert LEGACY.minimum_version is TlsVersion.TLS1_0
    assert BCP195.minimum_version is TlsVersion.TLS1_2


def test_the_profiles_shipped_tls_names_are_offers() -> None:
    from tests.conftest import PROFILES

    for profile in PROFILES.values():
        if profile.dicom_tls:
            assert isinstance(negotiate(BCP195, TlsOffer.of(profile.dicom_tls)), Negotiated)


def test_an_offer_names_something_known() -> None:
    with pytest.raises(ValueError):
        TlsOffer.of(["ssl3"])
    with pytest.raises(ValueError, match="at least one"):
        TlsOffer(frozenset())
