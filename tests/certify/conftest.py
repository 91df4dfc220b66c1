"""Fixtures of the certification kit's tests: one live hospital for the whole package
(each check registers fresh device instances, so runs do not decide each other's
verdicts), and the shipped devices' adapter commands."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from testbed.certify.hospital import KitHospital
from tests.certify.devices import PILOT


@pytest.fixture(scope="session")
def hospital(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KitHospital]:
    """The two-site pilot's hospital, live on loopback, for every certification test."""
    missing = [tool for tool in ("curl", "openssl", "/usr/bin/storescu", "/usr/bin/dump2dcm")
               if shutil.which(tool) is None]  # fmt: skip
    if missing:
        pytest.skip(f"the legacy device and the live hospital need {missing} (.ci/run "
                    "installs dcmtk)")  # fmt: skip
    started = KitHospital.start(PILOT, tmp_path_factory.mktemp("certify") / "state")
    yield started
    started.stop()
