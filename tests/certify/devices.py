"""The shipped devices' adapter commands and the scenario the kit's tests serve."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PILOT = REPO / "scenarios" / "two-site-pilot.yaml"
PROFILE = "ct-ai-onbox"
REFERENCE = f"{shlex.quote(sys.executable)} {REPO / 'fixtures/devices/reference/device.py'}"
LEGACY = str(REPO / "fixtures" / "devices" / "legacy" / "device.sh")


def faulty(fault: str) -> str:
    """The reference device with one shipped fault."""
    return f"{REFERENCE} --fault {fault}"
