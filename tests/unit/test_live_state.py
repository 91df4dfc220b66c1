"""The live state directory: one server at a time, and an earlier audit log kept."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from testbed.errors import LiveError
from testbed.live.state import StateDir


def test_one_server_holds_a_state_directory_at_a_time(tmp_path: Path) -> None:
    state = StateDir(tmp_path / "hospital")
    refused = pytest.raises(LiveError, match="in use by another `testbed serve`")
    with state.claimed(), refused, StateDir(tmp_path / "hospital").claimed():
        pass  # pragma: no cover - the second claim refuses
    with state.claimed():  # released on the way out
        pass


def test_an_earlier_runs_audit_log_is_kept_not_truncated(tmp_path: Path) -> None:
    state = StateDir(tmp_path)
    state.events.write_text('{"kind": "device-registered"}\n', encoding="utf-8")
    os.utime(state.events, (1_790_000_000, 1_790_000_000))  # 2026-09-21T14:13:20Z
    state.endpoints.write_text("{}", encoding="utf-8")  # left by a server that was killed
    with state.claimed() as kept:
        assert kept == tmp_path / "events-20260921T141320Z.jsonl"
        assert kept.read_text(encoding="utf-8") == '{"kind": "device-registered"}\n'
        assert not state.events.exists() and not state.endpoints.exists()
    state.events.write_text("{}\n", encoding="utf-8")
    os.utime(state.events, (1_790_000_000, 1_790_000_000))
    with state.claimed() as again:  # same second: a second name, nothing overwritten
        assert again == tmp_path / "events-20260921T141320Z-2.jsonl"
    with state.claimed() as nothing:
        assert nothing is None  # no events.jsonl: nothing to keep


def test_the_servers_certificate_validates_for_loopback_with_the_usual_extensions() -> None:
    import ipaddress
    import random
    from datetime import UTC, datetime

    from cryptography import x509
    from cryptography.x509.verification import PolicyBuilder, Store

    from testbed.live.state import server_identity
    from testbed.pki.ca import CertificateAuthority, IssuingMode

    now = datetime(2026, 1, 5, tzinfo=UTC)
    ca = CertificateAuthority(
        name="Live", trust_domain="hospital.example", sites=["north"],
        issuing=IssuingMode.CENTRAL, now=now, rng=random.Random(3),
    )  # fmt: skip
    chain_pem, _key = server_identity(ca, now=now)
    leaf, issuing = x509.load_pem_x509_certificates(chain_pem)
    usage = leaf.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and not usage.value.key_cert_sign
    ski = leaf.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert ski == x509.SubjectKeyIdentifier.from_public_key(leaf.public_key())
    aki = leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    issuer_ski = issuing.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == issuer_ski.digest
    verifier = (
        PolicyBuilder()
        .store(Store([ca.root]))
        .time(now)
        .build_server_verifier(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    )
    assert verifier.verify(leaf, [issuing])[-1] == ca.root
