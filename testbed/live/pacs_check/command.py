"""``testbed pacs-check HOST PORT --ae PACS_AE --state-dir D``: the PACS-side trust checks
against any DICOM TLS acceptor (the testbed's own, dcmtk ``storescp``, Orthanc).

The identities come from the running ``testbed serve`` on ``D``
(:mod:`.credentials`); ``--prepare`` only makes them and prints their AE titles (to
put on another acceptor's allow-list).  Prints a table and writes ``report.json`` and
``junit.xml`` in ``--out`` (default ``D/pacs-check/``).  Exit 0 when every check
passes, 1 when one fails, 2 for bad input.
"""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path
from urllib.parse import urlencode

import click
from rich.console import Console

from testbed.devices import check_ae_title
from testbed.errors import LiveError
from testbed.live.admin_client import admin_request
from testbed.live.pacs_check.checks import Target, run_checks
from testbed.live.pacs_check.credentials import prepare as prepare_credentials
from testbed.live.pacs_check.report import table, write_json, write_junit
from testbed.live.state import StateDir

__all__ = ["pacs_check"]


def _ae(_: click.Context, __: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return check_ae_title(value).strip(" ")
    except ValueError as error:
        raise click.BadParameter(f"{value!r} is not a DICOM AE title: {error}") from None


def _where(
    state_dir: Path, port: int | None, site: str | None, zone: str | None, profile: str
) -> tuple[str, str]:
    """The site and zone of the check's devices: given, or the PACS's own site on this
    port (else the first PACS's) and the first zone of that site from which the running
    hospital's network hop lets a device of ``profile`` reach that PACS (its allow list
    or its design; else the site's first zone)."""
    endpoints = StateDir(state_dir).read_endpoints()
    dicom = endpoints.get("dicom")
    entries = [e for e in dicom if isinstance(e, dict)] if isinstance(dicom, list) else []
    mine = [e for e in entries if e.get("port") == port] or entries
    if site is None:
        if not mine:
            raise LiveError(f"{state_dir}/endpoints.json lists no DICOM endpoint; give --site")
        site = str(mine[0]["site"])
    if zone is None:
        zones = endpoints.get("zones")
        names = [k.split("/", 1)[1] for k in zones if k.startswith(f"{site}/")] if isinstance(
            zones, dict) else []  # fmt: skip
        if not names:
            raise LiveError(f"{state_dir}/endpoints.json lists no zone of site {site!r}; "
                            "give --zone")  # fmt: skip
        service = str(mine[0].get("service")) if mine else None
        routed = set() if service is None else _reaching(state_dir, site, service, profile)
        zone = next((name for name in names if name in routed), names[0])
    return site, zone


def _reaching(state_dir: Path, site: str, service: str, profile: str) -> set[str]:
    """The zones of ``site`` from which the running hospital lets a device of
    ``profile`` reach ``service`` now (the admin API's ``/network/zones``)."""
    query = urlencode({"service": service, "profile": profile})
    answer = admin_request(state_dir, f"/network/zones?{query}", method="GET")
    return {str(z["zone"]) for z in answer["zones"] if z["site"] == site and z["allowed"]}


@click.command(name="pacs-check")
@click.argument("host", required=False)
@click.argument("port", type=click.IntRange(1, 65535), required=False)
@click.option("--ae", "called_ae", callback=_ae, help="The acceptor's called AE title.")
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="A running `testbed serve`'s state directory (its CA enrolls the "
                   "check's devices).")  # fmt: skip
@click.option("--site", default=None, help="Site of the check's devices (default: the PACS's).")
@click.option("--zone", default=None, help="Zone of the check's devices (default: the site's "
              "first).")  # fmt: skip
@click.option("--profile", default="ct-ai-onbox", show_default=True,
              help="Device profile of the check's devices (a DICOM device).")  # fmt: skip
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where report.json and junit.xml go (default: STATE_DIR/pacs-check).",
)
@click.option("--timeout", type=click.FloatRange(0.5, 120), default=10.0, show_default=True,
              help="Seconds for each association step.")  # fmt: skip
@click.option(
    "--prepare",
    is_flag=True,
    help="Only make (or reuse) the check's devices and print their AE titles.",
)
def pacs_check(
    host: str | None,
    port: int | None,
    called_ae: str | None,
    state_dir: Path,
    site: str | None,
    zone: str | None,
    profile: str,
    out: Path | None,
    timeout: float,
    prepare: bool,
) -> None:
    """Run the PACS-side trust checks against the DICOM TLS acceptor at HOST PORT."""
    if host is not None:
        _resolvable(host)  # before any device is registered for the checks
    site, zone = _where(state_dir, port, site, zone, profile)
    credentials = prepare_credentials(state_dir, site=site, zone=zone, profile=profile)
    if prepare:
        click.echo(json.dumps({"ae_titles": credentials.titles(), "site": site, "zone": zone,
                               "source": credentials.source}, indent=2))  # fmt: skip
        return
    if host is None or port is None or called_ae is None:
        raise click.UsageError("give HOST, PORT and --ae (or --prepare)")
    target = Target(host, port, called_ae, timeout)
    outcomes = run_checks(target, credentials)
    Console(width=160).print(table(target, outcomes))
    folder = out or state_dir / "pacs-check"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        write_json(folder / "report.json", target, outcomes)
        write_junit(folder / "junit.xml", target, outcomes)
    except OSError as error:
        raise LiveError(f"{folder}: expected a writable directory for the report "
                        f"({error.strerror or error})") from None  # fmt: skip
    click.echo(f"report: {folder / 'report.json'}, {folder / 'junit.xml'}", err=True)
    sys.exit(0 if all(o.passed for o in outcomes) else 1)


def _resolvable(host: str) -> None:
    """A host name that does not resolve is bad input (exit 2), not a failed check."""
    try:
        socket.getaddrinfo(host, None)
    except (socket.gaierror, UnicodeError) as error:
        raise click.BadParameter(f"{host!r} is no host this machine can resolve ({error})",
                                 param_hint="HOST") from None  # fmt: skip
