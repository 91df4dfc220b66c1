"""``openssl verify`` and the testbed's Verifier agree on valid, expired, revoked, untrusted.

Both are given the same root, issuing CA, CRL, leaf and instant (``-attime``).
"""

from __future__ import annotations

import random
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from testbed.decisions import Reason
from testbed.pki import (
    CertificateAuthority,
    IssuingMode,
    KeyType,
    TrustBundle,
    Verifier,
    build_crl,
    make_csr,
    new_private_key,
)

pytestmark = [
    pytest.mark.openssl,
    pytest.mark.skipif(
        shutil.which("openssl") is None, reason="the openssl command is not on PATH"
    ),
]

NOW = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def _ca(seed: int, name: str) -> CertificateAuthority:
    return CertificateAuthority(
        name=name,
        trust_domain="hospital.example",
        sites=["north"],
        issuing=IssuingMode.PER_SITE,
        now=NOW,
        rng=random.Random(seed),
    )


def _issue(ca: CertificateAuthority, device_id: str, lifetime: timedelta) -> x509.Certificate:
    key = new_private_key(KeyType.EC_P256, random.Random(device_id))
    return ca.issue(
        make_csr(key, device_id), device_id=device_id, site="north", services=("pacs",),
        requester="biomed", on_expiry="renew", lifetime=lifetime, now=NOW,
    )  # fmt: skip


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory):
    """Files for openssl and the same material for the Verifier."""
    ca = _ca(61, "St Example")
    leaves = {
        "valid": _issue(ca, "valid", 10 * DAY),
        "expired": _issue(ca, "expired", DAY),
        "revoked": _issue(ca, "revoked", 10 * DAY),
        "untrusted": _issue(_ca(62, "Elsewhere"), "untrusted", 10 * DAY),
    }
    ca.revoke(leaves["revoked"].serial_number, now=NOW)
    issuing = ca.issuing_ca_for("north", now=NOW)
    crl = build_crl(ca, issuing, now=NOW, next_update_after=30 * DAY)
    folder = tmp_path_factory.mktemp("openssl")
    (folder / "root.pem").write_bytes(ca.root.public_bytes(Encoding.PEM))
    (folder / "int.pem").write_bytes(issuing.certificate.public_bytes(Encoding.PEM))
    (folder / "crl.pem").write_bytes(crl.pem())
    for name, leaf in leaves.items():
        (folder / f"{name}.pem").write_bytes(leaf.public_bytes(Encoding.PEM))
    bundle = TrustBundle("north", 1, (ca.root, issuing.certificate), NOW)
    return folder, leaves, bundle, crl


def _openssl_verify(folder: Path, leaf: str, at: datetime) -> tuple[int, int | None]:
    command = [
        "openssl", "verify", "-crl_check", "-attime", str(int(at.timestamp())),
        "-CAfile", str(folder / "root.pem"), "-untrusted", str(folder / "int.pem"),
        "-CRLfile", str(folder / "crl.pem"), str(folder / f"{leaf}.pem"),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    found = re.search(r"error (\d+) at", done.stdout + done.stderr)
    return done.returncode, int(found.group(1)) if found else None


@pytest.mark.parametrize(
    ("leaf", "offset", "openssl_error", "reason"),
    [
        ("valid", HOUR, None, Reason.OK),
        ("expired", 2 * DAY, 10, Reason.CERT_EXPIRED),
        ("revoked", HOUR, 23, Reason.CERT_REVOKED),
        ("untrusted", HOUR, 20, Reason.CERT_UNTRUSTED_AT_SITE),
    ],
)
def test_openssl_agrees(setup, leaf, offset, openssl_error, reason) -> None:
    folder, leaves, bundle, crl = setup
    at = NOW + offset
    returncode, error = _openssl_verify(folder, leaf, at)
    decision = Verifier().verify(leaves[leaf], bundle=bundle, crl=crl, now=at)
    assert error == openssl_error
    assert (returncode == 0) is (openssl_error is None)
    assert decision.reason is reason, decision.detail
    assert decision.allowed is (returncode == 0)
