"""dcmtk as the device: ``/usr/bin/echoscu`` and ``/usr/bin/storescu`` over TLS, and a
small CT instance for them to send (shared by the DICOM live tests and the benchmark).

The full paths matter: pynetdicom installs TLS-less ``echoscu``/``storescu`` console
scripts with the same names (REFERENCES.md, DICOM).  ``TCP_NODELAY=1`` removes
dcmtk's 40 ms Nagle stall.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from pydicom.uid import CTImageStorage

from testbed.pacs.dataset import minimal_image, part10

ECHOSCU = "/usr/bin/echoscu"
STORESCU = "/usr/bin/storescu"
STORESCP = "/usr/bin/storescp"
DCMTK_ENV = {**os.environ, "TCP_NODELAY": "1"}
_ROOT = "1.2.826.0.1.3680043.10.1043"


def dcmtk_missing() -> str | None:
    """Why dcmtk cannot be the device here (None: it can)."""
    missing = [tool for tool in (ECHOSCU, STORESCU, STORESCP) if not Path(tool).exists()]
    if missing or shutil.which("openssl") is None:
        return f"the DICOM peers are dcmtk (.ci/run installs it); missing: {missing}"
    return None


def ct_instance(path: Path, *, study: int = 1, instance: int = 1) -> Path:
    """Write a minimal valid CT instance (2x2 pixels) as a Part 10 file."""
    ds = minimal_image(CTImageStorage)
    ds.SOPInstanceUID = f"{_ROOT}.{study}.1.{instance}"
    ds.StudyInstanceUID = f"{_ROOT}.{study}"
    ds.SeriesInstanceUID = f"{_ROOT}.{study}.1"
    ds.PatientID = "PAT-LIVE-1"
    ds.PatientName = "Doe^Jane"
    part10(ds).save_as(path, enforce_file_format=True)
    return path


def dcmtk(
    tool: str,
    *,
    port: int,
    called: str,
    calling: str,
    bundle: Path,
    key: Path | None,
    cert: Path | None,
    files: tuple[Path, ...] = (),
    options: tuple[str, ...] = (),
    timeout: float = 30.0,
) -> subprocess.CompletedProcess[str]:
    """Run ``echoscu`` or ``storescu`` over TLS (no key: anonymous TLS, ``+tla``)."""
    tls = ["+tla"] if key is None or cert is None else ["+tls", str(key), str(cert)]
    args = [tool, *options, *tls, "+cf", str(bundle), "-aet", calling, "-aec", called,
            "-to", "10", "-ta", "10", "-td", "10", "127.0.0.1", str(port),
            *map(str, files)]  # fmt: skip
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout,
                          env=DCMTK_ENV, check=False)  # fmt: skip
