"""The live hospital against independent clients: EST, revocation, offboarding, admin API.

Every client action is ``curl`` or ``openssl``; devices are registered with the
``testbed devices`` command, as an operator would.
"""

from __future__ import annotations

import base64
import json
import stat
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

import pytest

if TYPE_CHECKING:
    from tests.live.conftest import Live

pytestmark = pytest.mark.live


def test_state_dir_publishes_loopback_endpoints(pilot: Live) -> None:
    endpoints = pilot.endpoints
    assert endpoints["est"].startswith("https://127.0.0.1:")
    assert endpoints["est"].endswith("/.well-known/est")
    for key in ("crl", "ocsp"):
        assert endpoints[key].startswith("http://127.0.0.1:")
    socket = pilot.state / "admin.sock"  # the admin API is on a Unix socket, never a port
    assert endpoints["admin"] == f"unix:{socket}"
    assert stat.S_ISSOCK(socket.stat().st_mode) and stat.S_IMODE(socket.stat().st_mode) == 0o600
    assert stat.S_IMODE((pilot.state / "admin.secret").stat().st_mode) == 0o600
    assert pilot.bundle.read_text().count("BEGIN CERTIFICATE") == 2


def test_cacerts_returns_root_and_issuing_ca(pilot: Live) -> None:
    status, body = pilot.curl(f"{pilot.endpoints['est']}/cacerts")
    assert status == 200
    printed = pilot.run(
        ["openssl", "pkcs7", "-inform", "DER", "-print_certs", "-noout"],
        data=base64.b64decode(body),
    ).stdout.decode()
    assert "Root CA" in printed
    assert "Issuing CA" in printed


def test_bootstrap_enrollment_issues_spiffe_identity(pilot: Live) -> None:
    device_id, _, certificate = pilot.enroll("E1")
    sans = pilot.run(
        ["openssl", "x509", "-in", str(certificate), "-noout", "-ext", "subjectAltName"]
    )
    text = sans.stdout.decode()
    assert f"URI:spiffe://north-south-health.example/site/north/device/{device_id}" in text
    root, issuing = pilot.split_bundle()
    verified = pilot.run(
        ["openssl", "verify", "-CAfile", str(root), "-untrusted", str(issuing), str(certificate)]
    )
    assert verified.returncode == 0, verified.stdout.decode() + verified.stderr.decode()


def test_reenrollment_with_client_certificate_gives_new_serial(pilot: Live) -> None:
    device_id, key, certificate = pilot.enroll("R1")
    status, body = pilot.est(
        "simplereenroll", pilot.csr(key, device_id), "--cert", str(certificate), "--key", str(key)
    )
    assert status == 200, body.decode()
    renewed = pilot.certificate(body, "R1-renewed")
    assert pilot.serial(renewed) != pilot.serial(certificate)


def test_refusals_are_explained_and_issue_nothing(pilot: Live) -> None:
    device_id, password = pilot.register("F1")
    key = pilot.key("F1")
    good = pilot.csr(key, device_id)
    credentials = ("-u", f"{device_id}:{password}")
    wrong_cn = pilot.csr(key, "someone-else")
    garbage = pilot.work / "garbage.b64"
    garbage.write_bytes(base64.encodebytes(b"not a certificate request"))
    assert pilot.est("simpleenroll", good)[0] == 401
    assert pilot.est("simpleenroll", good, "-u", f"{device_id}:wrong")[0] == 401
    assert pilot.est("simpleenroll", good, *credentials, content_type="text/plain")[0] == 415
    status, body = pilot.est("simpleenroll", wrong_cn, *credentials)
    assert (status, b"someone-else" in body) == (403, True)
    assert pilot.est("simpleenroll", garbage, *credentials)[0] == 400
    mine = [e for e in pilot.events() if e["subject"] in (device_id, "(unauthenticated)")]
    assert not [e for e in mine if e["kind"] == "certificate-issued"]
    assert pilot.est("simpleenroll", good, *credentials)[0] == 200  # the secret was not spent


def test_revoked_certificate_cannot_reenroll(pilot: Live) -> None:
    device_id, key, certificate = pilot.enroll("V1")
    revoked = pilot.cli("devices", "revoke", "--state-dir", str(pilot.state), device_id)
    assert revoked.returncode == 0, revoked.stderr.decode()
    status, body = pilot.est(
        "simplereenroll", pilot.csr(key, device_id), "--cert", str(certificate), "--key", str(key)
    )
    assert status == 403
    assert b"revoked" in body
    refusals = [e for e in pilot.events() if e["kind"] == "enrollment-refused"]
    assert refusals[-1]["reason"] == "cert-revoked"
    assert pilot.serial(certificate).lower().lstrip("0") in refusals[-1]["detail"]


def test_offboarded_device_cannot_reenroll(pilot: Live) -> None:
    device_id, key, certificate = pilot.enroll("O1")
    done = pilot.cli("devices", "offboard", "--state-dir", str(pilot.state), device_id)
    assert done.returncode == 0, done.stderr.decode()
    status, _ = pilot.est(
        "simplereenroll", pilot.csr(key, device_id), "--cert", str(certificate), "--key", str(key)
    )
    assert status == 403
    steps = [
        e["step"]
        for e in pilot.events()
        if e["kind"] == "offboarding-step" and e["subject"] == device_id
    ]
    expected = [
        "revoke-certificates",
        "remove-network-allowance",
        "invalidate-api-access",
        "mark-retired",
    ]
    assert steps == expected
    again = pilot.cli("devices", "offboard", "--state-dir", str(pilot.state), device_id)
    assert again.returncode == 2
    assert b"retired" in again.stderr


def test_ocsp_and_crl_report_revocation(pilot: Live) -> None:
    device_id, _, leaf = pilot.enroll("C1")
    root, issuing = pilot.split_bundle()
    ocsp = [
        "openssl",
        "ocsp",
        "-issuer",
        str(issuing),
        "-cert",
        str(leaf),
        "-url",
        pilot.endpoints["ocsp"],
        "-CAfile",
        str(pilot.bundle),
        "-resp_text",
    ]
    assert f"{leaf}: good" in pilot.run(ocsp).stdout.decode()
    assert (
        pilot.cli("devices", "revoke", "--state-dir", str(pilot.state), device_id).returncode == 0
    )
    assert f"{leaf}: revoked" in pilot.run(ocsp).stdout.decode()
    status, der = pilot.curl(pilot.endpoints["crl"], "-D", str(pilot.work / "crl.headers"))
    assert status == 200
    assert "application/pkix-crl" in (pilot.work / "crl.headers").read_text().lower()
    crl_der, crl_pem = pilot.work / "crl.der", pilot.work / "crl.pem"
    crl_der.write_bytes(der)
    listed = pilot.run(["openssl", "crl", "-inform", "DER", "-in", str(crl_der), "-text", "-noout"])
    assert f"Serial Number: {pilot.serial(leaf)}" in listed.stdout.decode()
    pilot.run(["openssl", "crl", "-inform", "DER", "-in", str(crl_der), "-out", str(crl_pem)])
    verified = pilot.run(
        [
            "openssl",
            "verify",
            "-crl_check",
            "-CAfile",
            str(root),
            "-untrusted",
            str(issuing),
            "-CRLfile",
            str(crl_pem),
            str(leaf),
        ]
    )
    assert verified.returncode != 0
    assert "error 23" in verified.stdout.decode() + verified.stderr.decode()


def test_admin_api_refuses_wrong_or_missing_secret(pilot: Live) -> None:
    url = "http://localhost/devices"
    body = ("--unix-socket", str(pilot.state / "admin.sock"), "-H",
            "Content-Type: application/json", "--data", '{"serial": "A1"}')  # fmt: skip
    assert pilot.curl(url, *body, "-H", "Authorization: Bearer not-the-secret")[0] == 401
    status, answer = pilot.curl(url, *body)
    assert status == 401
    assert b'"error"' in answer


def test_register_with_unknown_profile_exits_2_naming_it(pilot: Live) -> None:
    done = pilot.cli(
        "devices",
        "register",
        "--state-dir",
        str(pilot.state),
        "--serial",
        "U1",
        "--site",
        "north",
        "--zone",
        "imaging",
        "--profile",
        "no-such-scanner",
    )
    assert done.returncode == 2
    assert done.stderr.decode().startswith("error: ")
    assert "no-such-scanner" in done.stderr.decode()


def test_register_with_unknown_zone_exits_2_naming_it(pilot: Live) -> None:
    done = pilot.cli(
        "devices",
        "register",
        "--state-dir",
        str(pilot.state),
        "--serial",
        "U2",
        "--site",
        "north",
        "--zone",
        "basement",
        "--profile",
        "ct-ai-onbox",
    )
    assert done.returncode == 2
    assert "basement" in done.stderr.decode()


def _ocsp_get(pilot: Live, name: str) -> tuple[str, Path, Path, Callable[..., bytes]]:
    """Enroll a device; return its id, leaf, the issuing CA and a GET of its OCSP request.

    The request is made by ``openssl ocsp -reqout``; the GET URL is the responder's
    followed by the URL-encoded base64 of that request (RFC 6960 A.1) and ``suffix``:
    the harness's encoding, not project code.
    """
    device_id, _, leaf = pilot.enroll(name)
    _, issuing = pilot.split_bundle()
    request = pilot.work / f"{name}.ocsp-request.der"
    made = pilot.run(["openssl", "ocsp", "-issuer", str(issuing), "-cert", str(leaf),
                      "-no_nonce", "-reqout", str(request)])  # fmt: skip
    assert made.returncode == 0, made.stderr.decode()
    path = quote(base64.b64encode(request.read_bytes()).decode(), safe="")

    def get(suffix: str, *args: str) -> bytes:
        code, der = pilot.curl(f"{pilot.endpoints['ocsp']}/{path}{suffix}", *args)
        assert code == 200
        response = pilot.work / f"{name}.ocsp-response.der"
        response.write_bytes(der)
        return der

    return device_id, leaf, issuing, get


def test_ocsp_over_get_answers_good_then_revoked(pilot: Live) -> None:
    """RFC 6960 A.1: the request made by ``openssl ocsp``, sent by ``curl`` as a GET."""
    device_id, leaf, issuing, get = _ocsp_get(pilot, "G1")

    def status() -> str:
        get("")
        read = pilot.run(["openssl", "ocsp", "-respin", str(pilot.work / "G1.ocsp-response.der"),
                          "-issuer", str(issuing), "-cert", str(leaf),
                          "-CAfile", str(pilot.bundle)])  # fmt: skip
        text = read.stdout.decode() + read.stderr.decode()
        assert "Response verify OK" in text
        return text

    assert f"{leaf}: good" in status()
    revoked = pilot.cli("devices", "revoke", "--state-dir", str(pilot.state), device_id)
    assert revoked.returncode == 0, revoked.stderr.decode()
    assert f"{leaf}: revoked" in status()


def test_ocsp_get_with_undecodable_request_is_malformed(pilot: Live) -> None:
    """A good request with one character that is not base64 appended: a lenient
    decoder would drop it and answer; the responder must call the request malformed."""
    _, _, _, get = _ocsp_get(pilot, "G2")

    def status(suffix: str) -> str:
        get(suffix)
        read = pilot.run(["openssl", "ocsp", "-respin", str(pilot.work / "G2.ocsp-response.der"),
                          "-resp_text", "-noverify"])  # fmt: skip
        return (read.stdout.decode() + read.stderr.decode()).lower()

    assert "malformedrequest" not in status("")  # the same request, well formed, answers
    assert "malformedrequest" in status("%21")  # '!' appended


def test_a_superseded_certificate_cannot_reenroll(pilot: Live) -> None:
    """An old copy of a renewed identity must not mint new ones: after two renewals
    the first certificate is refused (only the one a renewal just replaced may retry,
    once, shortly after: a lost answer)."""
    device_id, key, first = pilot.enroll("S1")
    certificates = [first]
    for name in ("S1-second", "S1-third"):
        held = certificates[-1]
        status, body = pilot.est("simplereenroll", pilot.csr(key, device_id),
                                 "--cert", str(held), "--key", str(key))  # fmt: skip
        assert status == 200, body.decode()
        certificates.append(pilot.certificate(body, name))
    status, body = pilot.est("simplereenroll", pilot.csr(key, device_id),
                             "--cert", str(first), "--key", str(key))  # fmt: skip
    assert status == 403 and b"superseded" in body, body.decode()
    refusals = [e for e in pilot.events() if e["kind"] == "enrollment-refused"]
    assert refusals[-1]["reason"] == "cert-superseded"
    current = ("--cert", str(certificates[-1]), "--key", str(key))
    assert pilot.est("simplereenroll", pilot.csr(key, device_id), *current)[0] == 200


def test_a_key_of_another_type_than_registered_is_refused(pilot: Live) -> None:
    device_id, password = pilot.register("K1")
    for name, args in (("K1-p384", ["ecparam", "-genkey", "-name", "secp384r1"]),
                       ("K1-rsa1024", ["genrsa"])):  # fmt: skip
        key = pilot.work / f"{name}.key.pem"
        size = ["1024"] if args == ["genrsa"] else []  # genrsa: the size comes last
        done = pilot.run(["openssl", *args, "-out", str(key), *size])
        assert done.returncode == 0, done.stderr.decode()
        status, body = pilot.est(
            "simpleenroll", pilot.csr(key, device_id), "-u", f"{device_id}:{password}"
        )
        assert status == 400 and b"ec-p256" in body, body.decode()
    issued = [e for e in pilot.events()
              if e["kind"] == "certificate-issued" and e["subject"] == device_id]  # fmt: skip
    assert not issued


def _crl_text(pilot: Live) -> str:
    status, der = pilot.curl(pilot.endpoints["crl"])
    assert status == 200
    listed = pilot.run(["openssl", "crl", "-inform", "DER", "-text", "-noout"], data=der)
    return listed.stdout.decode()


def test_revocation_reasons_reach_the_crl_and_ocsp(pilot: Live) -> None:
    stolen, _, stolen_leaf = pilot.enroll("RC1")
    retired, _, retired_leaf = pilot.enroll("RC2")
    done = pilot.cli("devices", "revoke", "--state-dir", str(pilot.state), stolen,
                     "--reason", "keyCompromise")  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()
    assert json.loads(done.stdout)["reason"] == "keyCompromise"
    offboarded = pilot.cli("devices", "offboard", "--state-dir", str(pilot.state), retired)
    assert offboarded.returncode == 0, offboarded.stderr.decode()
    crl = _crl_text(pilot)
    for leaf, reason in ((stolen_leaf, "Key Compromise"), (retired_leaf, "Cessation Of Operation")):
        entry = crl.split(f"Serial Number: {pilot.serial(leaf)}", 1)[1].split("Serial Number:")[0]
        assert reason in entry, entry
    _, issuing = pilot.split_bundle()
    answer = pilot.run(["openssl", "ocsp", "-issuer", str(issuing), "-cert", str(stolen_leaf),
                        "-url", pilot.endpoints["ocsp"], "-CAfile", str(pilot.bundle)])  # fmt: skip
    text = answer.stdout.decode()
    assert "revoked" in text and "keyCompromise" in text, text
    assert "WARNING" not in answer.stderr.decode()  # the nonce came back
    wrong = pilot.cli("devices", "revoke", "--state-dir", str(pilot.state), stolen,
                      "--reason", "certificateHold")  # fmt: skip
    assert wrong.returncode == 2 and b"certificateHold" in wrong.stderr


def test_a_serial_too_long_for_a_certificate_name_exits_2(pilot: Live) -> None:
    done = pilot.cli("devices", "register", "--state-dir", str(pilot.state),
                     "--serial", "X" * 40, "--site", "north", "--zone", "imaging",
                     "--profile", "remote-monitoring-hub")  # fmt: skip
    assert done.returncode == 2
    error = done.stderr.decode()
    assert error.startswith("error: ") and "at most 63" in error and "shorter serial" in error


def test_a_second_server_on_the_same_state_directory_exits_2(pilot: Live) -> None:
    before = pilot.events()
    scenario = Path(__file__).resolve().parents[2] / "scenarios" / "two-site-pilot.yaml"
    second = pilot.cli("serve", str(scenario), "--state-dir", str(pilot.state))
    assert second.returncode == 2
    assert b"in use by another `testbed serve`" in second.stderr
    assert pilot.endpoints["admin"]  # the first server's files are untouched
    assert pilot.events()[: len(before)] == before


def test_a_leaf_names_its_crl_and_ocsp_responder_for_any_client_to_follow(pilot: Live) -> None:
    """RFC 5280 cRLDistributionPoints and authorityInfoAccess: openssl finds the CRL
    itself (-crl_download) and the responder from the certificate."""
    device_id, _, leaf = pilot.enroll("L1")
    root, issuing = pilot.split_bundle()
    text = pilot.run(["openssl", "x509", "-in", str(leaf), "-noout", "-text"]).stdout.decode()
    site_crl = pilot.endpoints["crl_by_site"]["north"]
    assert f"URI:{site_crl}" in text and f"OCSP - URI:{pilot.endpoints['ocsp']}" in text
    uri = pilot.run(["openssl", "x509", "-in", str(leaf), "-noout", "-ocsp_uri"])
    assert uri.stdout.decode().strip() == pilot.endpoints["ocsp"]
    verify = ["openssl", "verify", "-crl_check", "-crl_download", "-CAfile", str(root),
              "-untrusted", str(issuing), str(leaf)]  # fmt: skip
    good = pilot.run(verify)
    assert good.returncode == 0, good.stdout.decode() + good.stderr.decode()
    revoked = pilot.cli("devices", "revoke", "--state-dir", str(pilot.state), device_id)
    assert revoked.returncode == 0, revoked.stderr.decode()
    bad = pilot.run(verify)
    assert bad.returncode != 0
    assert "certificate revoked" in bad.stdout.decode() + bad.stderr.decode()


def test_a_dicom_device_gets_its_ae_title_at_registration(pilot: Live) -> None:
    """As in the simulation: the profile's prefix and the device's registration number."""
    answer = pilot.register_answer("AE1")  # ct-ai-onbox speaks DICOM
    title = answer["ae_title"]
    assert isinstance(title, str) and title.startswith("APEXCT") and len(title) <= 16
    hub = pilot.register_answer("AE2", profile="remote-monitoring-hub")  # FHIR only
    assert hub["ae_title"] is None
    listed = json.loads(pilot.cli("devices", "list", "--state-dir", str(pilot.state)).stdout)
    titles = {d["device_id"]: d["ae_title"] for d in listed["devices"]}
    assert titles[answer["device_id"]] == title and titles[hub["device_id"]] is None


def _headers(path: Path) -> dict[str, str]:
    lines = path.read_text(encoding="latin-1").splitlines()[1:]
    pairs = (line.split(":", 1) for line in lines if ":" in line)
    return {k.strip().lower(): v.strip() for k, v in pairs}


def _openssl_time(text: str) -> datetime:
    """``Dec  5 10:00:00 2026 GMT`` as openssl prints times."""
    return datetime.strptime(" ".join(text.split()), "%b %d %H:%M:%S %Y GMT").replace(tzinfo=UTC)


def test_crls_and_ocsp_get_answers_say_how_long_to_cache_them(pilot: Live) -> None:
    """An OCSP answer may be cached until its nextUpdate (RFC 5019 §6.2); a CRL, which
    is reissued on every revocation, must be revalidated (Last-Modified, no-cache)."""
    saved = pilot.work / "cache.headers"
    status, der = pilot.curl(pilot.endpoints["crl"], "-D", str(saved))
    assert status == 200
    headers = _headers(saved)
    read = pilot.run(["openssl", "crl", "-inform", "DER", "-noout", "-lastupdate", "-nextupdate"],
                     data=der)  # fmt: skip
    times = dict(line.split("=", 1) for line in read.stdout.decode().splitlines())
    assert parsedate_to_datetime(headers["last-modified"]) == _openssl_time(times["lastUpdate"])
    assert headers["cache-control"] == "no-cache" and "expires" not in headers
    _, _, _, get = _ocsp_get(pilot, "H1")
    get("", "-D", str(saved))
    answer = _headers(saved)
    control = answer["cache-control"]
    assert control.startswith("max-age=") and 0 < int(control.split(",")[0].split("=")[1]) <= 3600
    read = pilot.run(["openssl", "ocsp", "-respin", str(pilot.work / "H1.ocsp-response.der"),
                      "-resp_text", "-noverify"])  # fmt: skip
    next_update = read.stdout.decode().split("Next Update:", 1)[1].splitlines()[0]
    assert parsedate_to_datetime(answer["expires"]) == _openssl_time(next_update)
    get("A", "-D", str(saved))  # malformed: nothing to cache
    assert "cache-control" not in _headers(saved)
