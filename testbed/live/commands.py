"""The live commands: ``testbed serve`` and ``testbed devices`` (list, register, approve,
revoke, offboard).

``serve`` runs the scenario's hospital on loopback until SIGINT or SIGTERM.  The
``devices`` commands talk to its admin API (address from ``DIR/endpoints.json``,
bearer secret from ``DIR/admin.secret``) and print its JSON answer; an answer with an
error prints ``error: ...`` on standard error and exits 2.
"""

from __future__ import annotations

import asyncio
import json
import signal
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import click

from testbed.errors import LiveError
from testbed.live.state import StateDir
from testbed.pki.revocation import RevocationReason

if TYPE_CHECKING:
    from testbed.live.hospital import LiveHospital
    from testbed.live.server import Ports

__all__ = ["devices", "serve"]

_STATE_DIR = click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Directory for endpoints.json, ca-bundle.pem, admin.secret and events.jsonl.",
)


async def _serve_until_signalled(hospital: LiveHospital, state: StateDir, ports: Ports) -> None:
    from testbed.live.server import run_until

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await run_until(hospital, state, ports=ports, stop=stop)


@click.command("serve")
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@_STATE_DIR
@click.option("--est-port", type=int, default=0, show_default=True, help="EST (HTTPS) port.")
@click.option("--pki-port", type=int, default=0, show_default=True, help="CRL and OCSP port.")
@click.option("--admin-port", type=int, default=0, show_default=True, help="Admin API port.")
@click.option("--new", "new", is_flag=True,
              help="Start a new hospital; the one the state directory holds is set aside.")
def serve(
    scenario: Path, state_dir: Path, est_port: int, pki_port: int, admin_port: int, new: bool
) -> None:
    """Run SCENARIO's CA live on 127.0.0.1 (EST, CRL, OCSP, admin) until interrupted.

    The hospital a state directory holds (devices, certificates, revocations, the CA)
    is continued, unless --new."""
    from testbed.crosscheck import profiles_for
    from testbed.live.durable import is_kept, open_hospital
    from testbed.live.server import Ports
    from testbed.report.directory import keep_inputs
    from testbed.report.record import Transport

    state = StateDir(state_dir)
    # an unwritable directory, or one another server holds, stops us here (exit 2)
    with state.claimed(continuing=not new and is_kept(state_dir)) as kept:
        opened = open_hospital(scenario, state_dir, new=new)
        hospital = opened.hospital
        click.echo(opened.message, err=True)
        if kept is not None:
            click.echo(f"the earlier run's audit log is kept in {kept}", err=True)
        # what `testbed report DIR` needs that the audit log does not say
        profiles = profiles_for(hospital.scenario, scenario.parent)
        keep_inputs(state_dir, scenario, profiles=profiles, transport=Transport.LIVE,
                    seed=hospital.scenario.seed,
                    fidelity=hospital.hospital.fidelity)  # fmt: skip
        click.echo(f"starting {hospital.scenario.name}; {state.endpoints} appears once every "
                   "socket listens", err=True)  # fmt: skip
        ports = Ports(est_port, pki_port, admin_port)
        try:
            asyncio.run(_serve_until_signalled(hospital, state, ports))
        finally:
            opened.store.close()
    click.echo("stopped", err=True)


# -- devices ----------------------------------------------------------------------


def _admin(
    state_dir: Path, path: str, payload: dict[str, str] | None = None, *, method: str = "POST"
) -> Any:
    """Send ``payload`` as JSON to the admin API (POST; GET sends no body) and return
    the decoded JSON answer."""
    state = StateDir(state_dir)
    base = state.read_endpoints().get("admin")
    if not isinstance(base, str) or not base.startswith("http://127.0.0.1:"):
        raise LiveError(f"{state.endpoints} has no loopback 'admin' URL (got {base!r})")
    request = urllib.request.Request(
        base + path,
        data=None if method == "GET" else json.dumps(payload or {}).encode(),
        method=method,
        headers={
            "Authorization": f"Bearer {state.read_secret()}",
            "Content-Type": "application/json",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return json.load(answer)
    except urllib.error.HTTPError as error:
        raise LiveError(_error_text(error)) from None
    except urllib.error.URLError as error:
        raise LiveError(f"cannot reach the admin API at {base}: {error.reason}") from None


def _error_text(error: urllib.error.HTTPError) -> str:
    body = error.read()
    try:
        return str(json.loads(body)["error"])
    except (ValueError, KeyError, TypeError):
        return f"admin API answered {error.code}: {body.decode(errors='replace').strip()}"


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
def register(state_dir: Path, serial: str, site: str, zone: str, profile: str, owner: str) -> None:
    """Pre-register a device; print its device_id and one-time bootstrap credentials."""
    payload = {"serial": serial, "site": site, "zone": zone, "profile": profile, "owner": owner}
    _echo(_admin(state_dir, "/devices", payload))


@devices.command(name="list")
@_STATE_DIR
def list_devices(state_dir: Path) -> None:
    """Every registered device: state, approval and its current certificate."""
    _echo(_admin(state_dir, "/devices", method="GET"))


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
