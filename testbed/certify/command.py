"""``testbed certify``: certify a device through its adapter against a live hospital.

Exit 0 when every required check passes, 1 otherwise, 2 for bad input (an unknown
profile or suite, an adapter that is not executable, a state directory with no
running hospital): the message names which.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import NamedTuple

import click

from testbed.certify.adapter import Adapter
from testbed.certify.checks import Result
from testbed.certify.hospital import KitHospital, load_inputs
from testbed.certify.matrix import write_matrix
from testbed.certify.registry import select
from testbed.certify.report import write_outputs
from testbed.certify.runner import certify, profile_of
from testbed.devices import DeviceProfile
from testbed.errors import CertifyError
from testbed.scenario import Scenario

__all__ = ["certify_command"]

EXIT_CERTIFIED, EXIT_NOT_CERTIFIED = 0, 1


def _show(result: Result) -> None:
    required = "" if result.required else " (optional)"
    click.echo(f"{result.check.id:8} {result.verdict.value:5}{required}  {result.reason}")


class _Inputs(NamedTuple):
    scenario: Scenario
    profiles: dict[str, DeviceProfile]


def open_hospital(scenario: Path, state_dir: Path | None, out: Path) -> KitHospital:
    """The running hospital of ``state_dir`` (which must serve ``scenario``'s), or
    ``scenario``'s hospital started live in ``out/hospital``."""
    if state_dir is None:
        if not scenario.is_file():
            raise CertifyError(f"{scenario}: expected a scenario file")
        work = Path(tempfile.mkdtemp(prefix="hospital-", dir=out))
        return KitHospital.start(scenario, work / "state")
    hospital = KitHospital.attach(state_dir)
    if scenario.is_file():
        named = load_inputs(scenario)[0].name
        if named != hospital.scenario.name:
            raise CertifyError(f"--state-dir {state_dir} serves scenario "
                               f"{hospital.scenario.name!r}, not {scenario}'s {named!r}")
    return hospital


def _serves(hospital: KitHospital, suite: str) -> None:
    """A SMART or FHIR suite asked for by name needs a hospital with an IdP and EHR."""
    named = sorted({n.strip() for n in suite.split(",")} & {"smart", "fhir"})
    if named and "smart_configuration" not in hospital.endpoints:
        raise CertifyError(f"--suite {','.join(named)}: scenario {hospital.scenario.name!r} "
                           "has no 'ehr' block (no identity provider or EHR to certify "
                           "against); use one that has, e.g. "
                           "fixtures/devices/certify-ehr.yaml")  # fmt: skip


@click.command("certify")
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--adapter", "adapters", required=True, multiple=True, metavar="'COMMAND ARGS'",
              help="The device's adapter command (split as a shell would); the kit "
                   "appends the action.  Repeat it with --matrix.")  # fmt: skip
@click.option("--profile", required=True, help="The device profile (e.g. ct-ai-onbox).")
@click.option("--suite", default=None,
              help="Comma-separated suites to run (default: every one: est, smart, fhir, "
                   "dicom, lifecycle; a check the profile or the hospital does not use is "
                   "skipped, not required).")  # fmt: skip
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              default=Path("certify-out"), show_default=True,
              help="Where certify.json, certify.html and certify.junit.xml go.")
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Use the hospital `testbed serve` runs there instead of starting one.")
@click.option("--timeout", type=click.FloatRange(1, 3600), default=30.0, show_default=True,
              help="Seconds one adapter action may take (enroll: at least 90).")
@click.option("--matrix", is_flag=True,
              help="Certify every --adapter and write the compatibility matrix "
                   "(matrix.csv, matrix.html; each device's outputs in OUT/NAME/).")
@click.pass_context
def certify_command(ctx: click.Context, scenario: Path, adapters: tuple[str, ...],
                    profile: str, suite: str | None, out: Path, state_dir: Path | None,
                    timeout: float, matrix: bool) -> None:  # fmt: skip
    """Certify a device: run the EST, SMART, FHIR, DICOM and lifecycle checks against
    SCENARIO's hospital live on loopback, driving the device through its adapter."""
    if len(adapters) > 1 and not matrix:
        raise CertifyError("--adapter: give one, or several with --matrix")
    devices = [Adapter.parse(adapter, timeout=timeout) for adapter in adapters]
    checks = select((suite or "").split(","))
    if state_dir is None:  # bad input refused before a hospital (and its keys) is made
        if not scenario.is_file():
            raise CertifyError(f"{scenario}: expected a scenario file")
        profile_of(_Inputs(*load_inputs(scenario)), profile)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CertifyError(f"--out {out}: {error.strerror or error}") from None
    hospital = open_hospital(scenario, state_dir, out)
    runs = []
    try:
        _serves(hospital, suite or "")
        chosen = profile_of(hospital, profile)
        for number, device in enumerate(devices, start=1):
            label = " ".join(Path(a).name if "/" in a else a for a in device.argv)
            if matrix:
                click.echo(f"-- {label}")
            work = Path(tempfile.mkdtemp(prefix="devices-", dir=out))
            done = certify(device, hospital, chosen, checks, work=work, progress=_show)
            runs.append((label, done, chosen))
            paths = write_outputs(done, out / f"{number}" if matrix else out)
            verdict = "certified" if done.certified else "NOT certified"
            click.echo(f"{verdict}: {paths['json']}, {paths['html']}, {paths['junit']}")
    finally:
        hospital.stop()
    if matrix:
        table, page = write_matrix(runs, out)
        click.echo(f"compatibility matrix: {table}, {page}")
    certified = all(done.certified for _, done, _ in runs)
    ctx.exit(EXIT_CERTIFIED if certified else EXIT_NOT_CERTIFIED)
