"""pytest integration of the certification kit: one test item per check.

``pytest --testbed-certify 'COMMAND ARGS' --testbed-profile P`` (opt-in: nothing is
collected without ``--testbed-certify``) adds one item per selected check, named
``certify::EST-01``.  The first item to run starts the hospital
(``--testbed-certify-scenario``, default ``scenarios/two-site-pilot.yaml``; the
options are declared in :mod:`testbed.pytest_plugin`, which imports nothing else; or a
running one with ``--testbed-certify-state-dir``), runs the whole certification once
and stops the hospital; each item then reports its check: pass, fail (the reason),
error (the reason) or skip (the reason).  ``--testbed-out DIR`` also writes
``certify.json``, ``certify.html`` and the kit's JUnit XML into ``DIR/certify/``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from testbed.certify.adapter import Adapter
from testbed.certify.checks import Check, Result
from testbed.certify.command import open_hospital
from testbed.certify.registry import select
from testbed.certify.report import write_outputs
from testbed.certify.runner import Certification, certify, profile_of
from testbed.errors import TestbedError
from testbed.verdicts import Verdict

__all__ = ["CertifyFailure", "CertifyItem", "CertifyRun", "certify_items"]


class CertifyFailure(Exception):
    """A check failed or could not run; the message is its reason."""


class CertifyRun:
    """The certification, run once for every item of the session."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.done: Certification | None = None
        self.problem: str | None = None

    def result(self, check: Check) -> Result:
        """The result of ``check`` (running the certification on first use)."""
        if self.done is None and self.problem is None:
            self._run()
        if self.problem is not None:
            raise CertifyFailure(self.problem)
        assert self.done is not None
        for result in self.done.results:
            if result.check.id == check.id:
                return result
        raise CertifyFailure(f"{check.id} did not run")

    def _run(self) -> None:
        option = self.config.getoption
        try:
            adapter = Adapter.parse(str(option("--testbed-certify")))
            checks = select(str(option("--testbed-certify-suite")).split(","))
            out = Path(tempfile.mkdtemp(prefix="testbed-certify-"))
            state = option("--testbed-certify-state-dir")
            hospital = open_hospital(Path(str(option("--testbed-certify-scenario"))),
                                     None if state is None else Path(state), out)  # fmt: skip
            try:
                profile = profile_of(hospital, str(option("--testbed-profile")))
                self.done = certify(adapter, hospital, profile, checks, work=out)
            finally:
                hospital.stop()
        except TestbedError as error:
            self.problem = str(error)
            return
        report_dir = option("--testbed-out")
        if report_dir is not None:
            write_outputs(self.done, Path(report_dir) / "certify")


class CertifyItem(pytest.Item):
    """One check of the certification."""

    def __init__(self, *, check: Check, run: CertifyRun, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.check = check
        self.run = run

    def runtest(self) -> None:
        """Report the check's verdict."""
        result = self.run.result(self.check)
        if result.verdict is Verdict.SKIP:
            pytest.skip(f"{self.check.id}: {result.reason}")
        if result.verdict is not Verdict.PASS:
            raise CertifyFailure(f"{self.check.id} {result.verdict.value}: {result.reason}")

    def repr_failure(
        self, excinfo: pytest.ExceptionInfo[BaseException], style: object = None
    ) -> str:
        """The reason, without a traceback."""
        if isinstance(excinfo.value, CertifyFailure):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        """Where the item comes from: the kit."""
        return Path("certify"), None, f"certify::{self.check.id} {self.check.title}"


def certify_items(session: pytest.Session, config: pytest.Config) -> list[pytest.Item]:
    """The items of ``--testbed-certify`` (none without it); bad options are a usage
    error naming them."""
    if config.getoption("--testbed-certify") is None:
        return []
    if config.getoption("--testbed-profile") is None:
        raise pytest.UsageError("--testbed-certify needs --testbed-profile PROFILE")
    try:
        checks = select(str(config.getoption("--testbed-certify-suite")).split(","))
    except TestbedError as error:
        raise pytest.UsageError(str(error)) from None
    run = CertifyRun(config)
    return [CertifyItem.from_parent(session, name=check.id, nodeid=f"certify::{check.id}",
                                    check=check, run=run)
            for check in checks]  # fmt: skip
