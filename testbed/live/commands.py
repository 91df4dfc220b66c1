"""The live commands: ``testbed serve`` and ``testbed devices`` (list, register, approve,
revoke, offboard).

``serve`` runs the scenario's hospital on loopback until SIGINT or SIGTERM, under
:class:`~testbed.live.limits.Limits` its options set.  The ``devices`` commands talk
to its admin API on ``DIR/admin.sock`` (:mod:`testbed.live.admin_client`; bearer
secret from ``DIR/admin.secret``) and print its JSON answer; an answer with an error
prints ``error: ...`` on standard error and exits 2.
"""

from __future__ import annotations

import asyncio
import json
import signal
import ssl
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import click

from testbed.errors import LiveError
from testbed.live.limits import Limits
from testbed.live.state import StateDir
from testbed.pki.revocation import RevocationReason

if TYPE_CHECKING:
    from testbed.live.hospital import LiveHospital
    from testbed.live.server import Ports

__all__ = ["devices", "ehr", "serve"]

_STATE_DIR = click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Directory for endpoints.json, ca-bundle.pem, admin.sock, admin.secret and "
    "events.jsonl (yours, not writable by group or others).",
)


async def _serve_until_signalled(
    hospital: LiveHospital, state: StateDir, ports: Ports, limits: Limits,
    jwks_trust: ssl.SSLContext | None,
) -> None:  # fmt: skip
    from testbed.live.server import run_until

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await run_until(hospital, state, ports=ports, stop=stop, limits=limits,
                    jwks_trust=jwks_trust)  # fmt: skip


def _jwks_trust(path: Path | None) -> ssl.SSLContext | None:
    """The TLS context the IdP fetches JWKS URLs with: ``path``'s CAs, or None (the
    system's); :class:`LiveError` naming the file when it holds no usable CA."""
    if path is None:
        return None
    context = ssl.create_default_context(cafile=None)
    try:
        context.load_verify_locations(cafile=str(path))
    except (OSError, ssl.SSLError) as error:
        raise LiveError(f"--jwks-ca {path}: expected a PEM file of CA certificates "
                        f"({error})") from None  # fmt: skip
    return context


_DEFAULTS = Limits()
_PORT = click.IntRange(0, 65535)  # 0: any free port


@click.command("serve")
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@_STATE_DIR
@click.option("--est-port", type=_PORT, default=0, show_default=True, help="EST (HTTPS) port.")
@click.option("--pki-port", type=_PORT, default=0, show_default=True, help="CRL and OCSP port.")
@click.option("--services-port", type=_PORT, default=0, show_default=True,
              help="Services (mutual TLS) port.")  # fmt: skip
@click.option("--ehr-port", type=_PORT, default=0, show_default=True,
              help="Identity provider and FHIR API (HTTPS) port, for scenarios with an "
              "'ehr' block.")  # fmt: skip
@click.option("--jwks-ca", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="PEM file of the CAs the identity provider trusts when it fetches a "
              "client's JWKS URL (default: the system's).")  # fmt: skip
@click.option("--max-connections", type=int, default=_DEFAULTS.total, show_default=True,
              help="Open connections in all; above it new ones are reset at once.")  # fmt: skip
@click.option("--max-connections-per-listener", type=int, default=_DEFAULTS.per_listener,
              show_default=True, help="Open connections per listening socket.")  # fmt: skip
@click.option("--max-connections-per-source", type=int, default=_DEFAULTS.per_source,
              show_default=True, help="Open connections per source address.")  # fmt: skip
@click.option("--header-timeout", type=float, default=_DEFAULTS.header_timeout,
              show_default=True, help="Seconds to send a whole first request head.")  # fmt: skip
@click.option("--idle-timeout", type=float, default=_DEFAULTS.idle_timeout, show_default=True,
              help="Seconds a connection may send nothing.")  # fmt: skip
@click.option("--handshake-timeout", type=float, default=_DEFAULTS.handshake_timeout,
              show_default=True, help="Seconds for a TLS handshake.")  # fmt: skip
@click.option("--request-timeout", type=float, default=_DEFAULTS.request_timeout,
              show_default=True,
              help="Seconds from a request head's end to its answer, body included.")
@click.option("--max-body", type=int, default=_DEFAULTS.body_bytes, show_default=True,
              help="Bytes of a request body (413 above).")  # fmt: skip
@click.option("--max-dataset", type=int, default=_DEFAULTS.dataset_bytes, show_default=True,
              help="Bytes of one DICOM message's dataset (the association closed above).")
@click.option("--max-stored-bytes", type=int, default=_DEFAULTS.stored_bytes,
              show_default=True,
              help="Bytes of DICOM instances one PACS keeps (0xA700 above).")  # fmt: skip
@click.option("--max-stored-instances", type=int, default=_DEFAULTS.stored_instances,
              show_default=True,
              help="DICOM instances one PACS keeps (0xA700 above).")  # fmt: skip
@click.option("--max-stored-resources", type=int, default=_DEFAULTS.stored_resources,
              show_default=True,
              help="FHIR resources one EHR keeps (507 above).")  # fmt: skip
@click.option("--max-stored-resource-bytes", type=int,
              default=_DEFAULTS.stored_resource_bytes, show_default=True,
              help="Bytes of FHIR resources (as JSON) one EHR keeps (507 above).")
@click.option("--rate-limit", type=float, default=_DEFAULTS.rate, show_default=True,
              help="Requests per second per source address (429 above); 0: no limit.")
@click.option("--rate-burst", type=int, default=_DEFAULTS.burst, show_default=True,
              help="Requests a source may make at once under --rate-limit.")  # fmt: skip
@click.option("--audit-interval", type=float, default=_DEFAULTS.audit_interval,
              show_default=True,
              help="Seconds between aggregated refusal events.")  # fmt: skip
@click.option("--audit-log-max-bytes", type=int, default=_DEFAULTS.audit_log_bytes,
              show_default=True, help="Size at which events.jsonl rotates.")  # fmt: skip
@click.option("--new", "new", is_flag=True,
              help="Start a new hospital; the one the state directory holds is set aside.")
@click.option("--retry-after", type=click.IntRange(1, 86400), default=300, show_default=True,
              help="Seconds EST asks a device to wait (Retry-After of a 202 or 503).")
def serve(
    scenario: Path,
    state_dir: Path,
    est_port: int,
    pki_port: int,
    services_port: int,
    ehr_port: int,
    jwks_ca: Path | None,
    max_connections: int,
    max_connections_per_listener: int,
    max_connections_per_source: int,
    header_timeout: float,
    idle_timeout: float,
    handshake_timeout: float,
    request_timeout: float,
    max_body: int,
    max_dataset: int,
    max_stored_bytes: int,
    max_stored_instances: int,
    max_stored_resources: int,
    max_stored_resource_bytes: int,
    rate_limit: float,
    rate_burst: int,
    audit_interval: float,
    audit_log_max_bytes: int,
    new: bool,
    retry_after: int,
) -> None:
    """Run SCENARIO's hospital live on 127.0.0.1 (EST, CRL, OCSP, services; the admin
    API on DIR/admin.sock) until interrupted.

    The hospital a state directory holds (devices, certificates, revocations, the CA)
    is continued, unless --new."""
    from testbed.crosscheck import profiles_for
    from testbed.live.durable import is_kept, open_hospital
    from testbed.live.limits import raise_fd_limit
    from testbed.live.server import Ports
    from testbed.report.directory import keep_inputs
    from testbed.report.record import Transport

    limits = Limits(total=max_connections, per_listener=max_connections_per_listener,
                    per_source=max_connections_per_source, header_timeout=header_timeout,
                    idle_timeout=idle_timeout, handshake_timeout=handshake_timeout,
                    request_timeout=request_timeout, body_bytes=max_body,
                    dataset_bytes=max_dataset, stored_bytes=max_stored_bytes,
                    stored_instances=max_stored_instances,
                    stored_resources=max_stored_resources,
                    stored_resource_bytes=max_stored_resource_bytes, rate=rate_limit,
                    burst=rate_burst,
                    audit_interval=audit_interval,
                    audit_log_bytes=audit_log_max_bytes)  # fmt: skip
    raise_fd_limit(limits)
    jwks_trust = _jwks_trust(jwks_ca)
    state = StateDir(state_dir)
    # an unsafe or unwritable directory, or one another server holds, stops us here (exit 2)
    with state.claimed(continuing=not new and is_kept(state_dir)) as kept:
        if kept is not None:
            click.echo(f"the earlier run's audit log is kept in {kept}", err=True)
        log = state.audit_log(max_bytes=limits.audit_log_bytes)
        opened = None
        try:
            opened = open_hospital(scenario, state_dir, new=new, log=log, limits=limits)
            hospital = opened.hospital
            hospital.est.retry_after = retry_after
            click.echo(opened.message, err=True)
            # what `testbed report DIR` needs that the audit log does not say
            profiles = profiles_for(hospital.scenario, scenario.parent)
            keep_inputs(state_dir, scenario, profiles=profiles, transport=Transport.LIVE,
                        seed=hospital.scenario.seed,
                        fidelity=hospital.hospital.fidelity)  # fmt: skip
            click.echo(f"starting {hospital.scenario.name}; {state.endpoints} appears once "
                       "every socket listens", err=True)  # fmt: skip
            ports = Ports(est_port, pki_port, services_port, ehr_port)
            asyncio.run(_serve_until_signalled(hospital, state, ports, limits, jwks_trust))
        finally:
            log.close()
            if opened is not None:
                opened.store.close()
    click.echo("stopped", err=True)


# -- devices ----------------------------------------------------------------------


def _admin(
    state_dir: Path, path: str, payload: dict[str, Any] | None = None, *, method: str = "POST"
) -> Any:
    """Send ``payload`` as JSON to the admin API (POST; GET sends no body) and return
    the decoded JSON answer."""
    from testbed.live.admin_client import admin_request

    return admin_request(state_dir, path, payload, method=method)


def _echo(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True))


@click.group()
def devices() -> None:
    """Register, approve, validate, promote, suspend, resume, revoke, re-bootstrap,
    offboard and list the devices of a running `testbed serve`."""


@devices.command()
@_STATE_DIR
@click.option("--serial", required=True, help="The device's serial number.")
@click.option("--site", required=True, help="A site of the scenario.")
@click.option("--zone", required=True, help="A zone of that site.")
@click.option("--profile", required=True, help="A device profile id (e.g. ct-ai-onbox).")
@click.option("--owner", default="unassigned", show_default=True, help="The owning team.")
@click.option("--jwks", "jwks_file", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="The device's public JWK Set (a JSON file), for a profile "
              "that uses the EHR (SMART private_key_jwt).")  # fmt: skip
@click.option("--jwks-url", default=None,
              help="Or the https:// URL where the device publishes its JWK Set.")
def register(
    state_dir: Path, serial: str, site: str, zone: str, profile: str, owner: str,
    jwks_file: Path | None, jwks_url: str | None,
) -> None:  # fmt: skip
    """Pre-register a device; print its device_id and one-time bootstrap credentials
    (and, for a device that uses the EHR, its SMART client and location)."""
    payload: dict[str, Any] = {"serial": serial, "site": site, "zone": zone,
                               "profile": profile, "owner": owner}  # fmt: skip
    payload.update(_key_payload(jwks_file, jwks_url, required=False))
    _echo(_admin(state_dir, "/devices", payload))


def _key_payload(jwks_file: Path | None, jwks_url: str | None, *, required: bool) -> dict[str, Any]:
    """``jwks`` (read from the file) or ``jwks_url``; :class:`LiveError` naming the
    option or the file otherwise."""
    if jwks_file is not None and jwks_url is not None:
        raise LiveError("--jwks and --jwks-url: give one, not both")
    if jwks_url is not None:
        return {"jwks_url": jwks_url}
    if jwks_file is None:
        if required:
            raise LiveError("--jwks FILE or --jwks-url URL: expected one of them")
        return {}
    try:
        data = json.loads(jwks_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise LiveError(f"--jwks {jwks_file}: expected a JSON file holding a JWK Set "
                        f"({error})") from None  # fmt: skip
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise LiveError(f"--jwks {jwks_file}: expected a JWK Set, a JSON object with a "
                        "'keys' list")  # fmt: skip
    from testbed.smart.jwks import JwksError, parse_key_set

    try:  # the server checks again; here the message can name the file
        parse_key_set(data)
    except JwksError as error:
        raise LiveError(f"--jwks {jwks_file}: {error}") from None
    return {"jwks": data}


@devices.command(name="jwks")
@_STATE_DIR
@click.argument("device_id")
@click.option("--jwks", "jwks_file", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="The device's new public JWK Set (a JSON file).")
@click.option("--jwks-url", default=None, help="Or its new JWKS URL (https://).")
def jwks(state_dir: Path, device_id: str, jwks_file: Path | None, jwks_url: str | None) -> None:
    """Replace DEVICE_ID's registered JWK Set or JWKS URL (the device rotated its key)."""
    payload = _key_payload(jwks_file, jwks_url, required=True)
    _echo(_admin(state_dir, f"/devices/{quote(device_id, safe='')}/jwks", payload))


@devices.command(name="list")
@_STATE_DIR
def list_devices(state_dir: Path) -> None:
    """Every registered device: state, approval and its current certificate."""
    _echo(_admin(state_dir, "/devices", method="GET"))


@devices.command()
@_STATE_DIR
def drift(state_dir: Path) -> None:
    """Scan for drift: devices the inventory, the CA, the IdP and the EHR disagree on
    (a retired device with a live certificate, a device in production without one, a
    SMART client or EHR Device with no device, ...). Prints every disagreement, each
    marked new when this run of the server had not alerted it (one drift-detected
    event each). Exit 1 when any is found, 0 when none."""
    answer = _admin(state_dir, "/drift/scan", {})
    _echo(answer)
    if answer["drift"]:
        raise SystemExit(1)


@devices.command()
@_STATE_DIR
@click.argument("device_id")
def approve(state_dir: Path, device_id: str) -> None:
    """Approve DEVICE_ID's enrollment (scenarios with pki.manual_approval: true)."""
    _echo(_admin(state_dir, f"/devices/{quote(device_id, safe='')}/approve"))


@devices.command()
@_STATE_DIR
@click.argument("device_id")
@click.option(
    "--reason",
    type=click.Choice([r.value for r in RevocationReason]),
    default="unspecified",
    show_default=True,
    help="The RFC 5280 reason code the CRL and OCSP give (keyCompromise: lost or stolen).",
)
def revoke(state_dir: Path, device_id: str, reason: str) -> None:
    """Revoke every live certificate of DEVICE_ID."""
    path = f"/devices/{quote(device_id, safe='')}/revoke"
    _echo(_admin(state_dir, path, {"reason": reason}))


@devices.command()
@_STATE_DIR
@click.argument("device_id")
def offboard(state_dir: Path, device_id: str) -> None:
    """Offboard DEVICE_ID: revoke, remove network allowance, invalidate access, retire."""
    _echo(_admin(state_dir, f"/devices/{quote(device_id, safe='')}/offboard"))


def _lifecycle_command(action: str, summary: str) -> None:
    """A ``testbed devices ACTION DEVICE_ID`` command posting to the admin API."""

    @devices.command(name=action, help=summary)
    @_STATE_DIR
    @click.argument("device_id")
    def command(state_dir: Path, device_id: str) -> None:
        _echo(_admin(state_dir, f"/devices/{quote(device_id, safe='')}/{action}"))


for _action, _summary in (
    ("validate", "Record that DEVICE_ID passed its pre-production validation (seed §7 step 3)."),
    ("promote", "Route validated DEVICE_ID to production."),
    ("suspend", "Suspend DEVICE_ID (an incident): every access is refused until resumed."),
    ("resume", "Return suspended DEVICE_ID to production."),
    ("rebootstrap", "Give DEVICE_ID a fresh one-time bootstrap secret to enroll anew."),
):
    _lifecycle_command(_action, _summary)


# -- ehr ------------------------------------------------------------------------------


@click.group()
def ehr() -> None:
    """Act on the EHR of a running `testbed serve` (scenarios with an 'ehr' block)."""


@ehr.command(name="move-patient")
@_STATE_DIR
@click.argument("patient_id")
@click.option("--to", "to_location", required=True, help="The Location id to move to.")
def move_patient(state_dir: Path, patient_id: str, to_location: str) -> None:
    """Move PATIENT_ID to another Location (a transfer within the encounter): writes
    for the patient from devices at the old location are refused from now on."""
    path = f"/ehr/patients/{quote(patient_id, safe='')}/move"
    _echo(_admin(state_dir, path, {"to": to_location}))


@ehr.command(name="rotate-idp-key")
@_STATE_DIR
@click.option("--overlap", type=click.FloatRange(0, 366 * 86400), default=None,
              help="Seconds the old signing key stays in the JWKS (at least the token "
              "lifetime; default: the scenario's ehr.key_overlap, or the token lifetime "
              "if longer).")  # fmt: skip
def rotate_idp_key(state_dir: Path, overlap: float | None) -> None:
    """Rotate the identity provider's signing key: new tokens are signed with a new
    key (a new kid in the JWKS) from now; the old key stays published for the overlap,
    so tokens it signed stay valid until they expire; the EHR takes the new key at once."""
    payload = {} if overlap is None else {"overlap_seconds": overlap}
    _echo(_admin(state_dir, "/ehr/idp/rotate", payload))
