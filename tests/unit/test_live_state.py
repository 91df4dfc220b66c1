"""The live state directory: one server at a time, and an earlier audit log kept."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from testbed.errors import LiveError, OutputError
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


def test_a_deleted_lock_file_does_not_let_a_second_server_in(tmp_path: Path) -> None:
    """The lock is ``flock`` on the directory itself: removing ``serve.lock`` (or any
    file) while a server runs does not release it."""
    state = StateDir(tmp_path / "hospital")
    with state.claimed():
        (state.root / "serve.lock").unlink()
        with pytest.raises(LiveError, match="in use by another"), state.claimed():
            pass  # pragma: no cover - the second claim refuses


def test_a_symlinked_state_directory_is_refused(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    link = tmp_path / "link"
    link.symlink_to(real)
    refused = pytest.raises(LiveError, match="is a symbolic link; expected the state directory")
    with refused, StateDir(link).claimed():
        pass  # pragma: no cover


@pytest.mark.parametrize("mode", [0o777, 0o775, 0o1777, 0o720])
def test_a_group_or_world_writable_state_directory_is_refused(tmp_path: Path, mode: int) -> None:
    root = tmp_path / "shared"
    root.mkdir()
    os.chmod(root, mode)
    refused = pytest.raises(LiveError, match=r"writable by group or others.*chmod go-w")
    with refused, StateDir(root).claimed():
        pass  # pragma: no cover
    assert not (root / "serve.lock").exists()  # nothing was written there


def test_a_new_state_directory_is_private_and_an_existing_safe_one_is_accepted(
    tmp_path: Path,
) -> None:
    state = StateDir(tmp_path / "new" / "hospital")
    with state.claimed():
        assert stat.S_IMODE(state.root.stat().st_mode) == 0o700
    os.chmod(state.root, 0o755)  # readable by others is fine: nothing can be planted
    with state.claimed():
        pass


def test_planted_symlinks_are_never_followed(tmp_path: Path) -> None:
    state = StateDir(tmp_path / "hospital")
    outside = tmp_path / "outside.txt"
    outside.write_text("untouched\n", encoding="utf-8")
    with state.claimed():
        state.bundle.symlink_to(outside)
        state.write_bundle(b"PEM\n")  # replaces the link, never writes through it
        assert not state.bundle.is_symlink() and state.bundle.read_bytes() == b"PEM\n"
        state.secret.symlink_to(outside)
        with pytest.raises(LiveError, match="is a symbolic link"):
            state.read_secret()
    events = tmp_path / "other"
    events.mkdir(mode=0o700)
    (events / "events.jsonl").symlink_to(outside)
    with pytest.raises(OutputError, match=r"events\.jsonl"):
        StateDir(events).audit_log()
    assert outside.read_text(encoding="utf-8") == "untouched\n"


@pytest.mark.skipif(
    os.geteuid() != 0, reason="giving a directory to another user needs root (CI runs as root)"
)
def test_a_state_directory_owned_by_another_user_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "theirs"
    root.mkdir(mode=0o700)
    os.chown(root, 65534, 65534)  # nobody
    refused = pytest.raises(LiveError, match=r"is owned by uid 65534; expected a state directory")
    with refused, StateDir(root).claimed():
        pass  # pragma: no cover
    assert not (root / "serve.lock").exists()  # nothing was written there
