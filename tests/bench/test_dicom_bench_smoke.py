"""``make bench-dicom`` still runs (small sizes): ``testbed serve``, dcmtk ``storescp``
and the stock pynetdicom SCP come up, dcmtk ``storescu`` stores over TLS to all three,
and the result has every rate and ratio.  Timings are not checked here (the benchmark
reports ratios)."""

from __future__ import annotations

import importlib
import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from cryptography.x509.oid import NameOID

from tests.live.dicom_peer import dcmtk_missing

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def dicom_bench(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """``benchmarks.dicom`` (the benchmarks are not an installed package)."""
    monkeypatch.syspath_prepend(str(ROOT))
    return importlib.import_module("benchmarks.dicom")


@pytest.mark.skipif(dcmtk_missing() is not None, reason=str(dcmtk_missing()))
def test_the_dicom_benchmark_runs(dicom_bench: ModuleType, tmp_path: Path) -> None:
    tmp_path.chmod(0o700)
    result = dicom_bench.run(associations=2, instances=3, rounds=1, work=tmp_path)
    for name in ("testbed", "dcmtk", "pynetdicom-stock"):
        assert set(result[name]) == {"associations_per_s", "associations_per_s_full_proposal",
                                     "instances_per_s"}  # fmt: skip
        assert all(rate > 0 for rate in result[name].values())
    assert set(result["ratios"]) == {"testbed_over_dcmtk", "pynetdicom-stock_over_dcmtk",
                                     "testbed_over_pynetdicom-stock"}  # fmt: skip
    for ratios in result["ratios"].values():
        assert set(ratios) == set(result["testbed"])
        assert all(ratio > 0 for ratio in ratios.values())
    stock = result["ratios"]["testbed_over_pynetdicom-stock"]["associations_per_s"]
    assert stock == result["testbed"]["associations_per_s"] / result["pynetdicom-stock"][
        "associations_per_s"]


def test_the_stock_scp_has_the_acceptors_tls_which_checks_the_chain_only(
    dicom_bench: ModuleType, tmp_path: Path
) -> None:
    """The floor's TLS is the testbed acceptor's BCP 195 context: the chain checked,
    neither time nor revocation (the testbed core decides those)."""
    stock_scp = importlib.import_module("benchmarks.stock_scp")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "stock")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1)
            .not_valid_before(now - timedelta(hours=1)).not_valid_after(now + timedelta(days=1))
            .sign(key, hashes.SHA256()))  # fmt: skip
    cert_path, key_path = tmp_path / "server.pem", tmp_path / "server.key"
    cert_path.write_bytes(cert.public_bytes(Encoding.PEM))
    key_path.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    context = stock_scp.stock_context(cert=cert_path, key=key_path, bundle=cert_path)
    assert context.minimum_version is ssl.TLSVersion.TLSv1_2
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert not context.verify_flags & ssl.VERIFY_CRL_CHECK_LEAF
    assert context.cert_store_stats()["x509"] == 1
    suites = [c["name"] for c in context.get_ciphers() if c["protocol"] != "TLSv1.3"]
    assert suites and all(s.startswith("ECDHE-") for s in suites)
