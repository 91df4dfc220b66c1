"""A fleet whose DICOM AE titles would break PS3.5's 16 characters is refused by
``testbed validate`` (and by ``run`` before the run), naming the file and the group."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from testbed.cli import main
from testbed.crosscheck import DEFAULT_PROFILES


def _long_prefix(tmp_path: Path, prefix: str) -> None:
    """The default profiles in ``tmp_path/profiles``, the CT's AE title prefix ``prefix``."""
    profiles = tmp_path / "profiles"
    shutil.copytree(DEFAULT_PROFILES, profiles)
    ct = profiles / "ct-ai-onbox.yaml"
    text = ct.read_text(encoding="utf-8")
    ct.write_text(
        text.replace("ae_title_prefix: APEXCT", f"ae_title_prefix: {prefix}"), encoding="utf-8"
    )


@pytest.mark.parametrize("command", ["validate", "run"])
def test_an_ae_title_too_long_for_the_last_device_is_refused(
    command: str,
    tmp_path: Path,
    tiny_scenario: str,
    write_scenario: Callable[..., Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    _long_prefix(tmp_path, "APEXCTSCANNER1")  # 14 characters and 3 digits: 17
    path = write_scenario(tiny_scenario.replace("seed: 7", "seed: 7\nprofiles_dir: profiles"))
    argv = [command, str(path)] + (["--out", str(tmp_path / "out"), "--quiet"] * (command == "run"))
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    expected = "fleet[0].profile: expected a profile whose AE titles fit"
    assert re.match(rf"{re.escape(str(path))}:\d+:\d+: error: {re.escape(expected)}", err), err
    assert "APEXCTSCANNER1002" in err and "shorten its ae_title_prefix" in err


def test_a_prefix_that_fits_every_device_validates(
    tmp_path: Path, tiny_scenario: str, write_scenario: Callable[..., Path]
) -> None:
    _long_prefix(tmp_path, "APEXCTSCANNER")  # 13 characters and 3 digits: 16
    path = write_scenario(tiny_scenario.replace("seed: 7", "seed: 7\nprofiles_dir: profiles"))
    assert main(["validate", str(path)]) == 0
