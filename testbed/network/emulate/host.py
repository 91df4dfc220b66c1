"""What the host must offer to emulate a design: root, ``ip`` (iproute2) and ``nft``.

:func:`missing` names each thing absent, in words a user can act on; the command
exits 2 with them and the emulation tests skip with the same words.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence

from testbed.errors import EmulationError

__all__ = ["missing", "require", "run"]

#: each tool, and the Debian package that ships it
TOOLS = (("ip", "iproute2"), ("nft", "nftables"))

#: how long one ``ip`` or ``nft`` command may take (a hung kernel call must not hang a run)
COMMAND_TIMEOUT = 30.0


def missing() -> tuple[str, ...]:
    """What this host lacks to build namespaces and nftables rules (empty: nothing)."""
    lacks = []
    if os.geteuid() != 0:
        lacks.append("root (network namespaces and nftables need CAP_NET_ADMIN)")
    for tool, package in TOOLS:
        if shutil.which(tool) is None:
            lacks.append(f"the {tool!r} command (apt-get install {package})")
    return tuple(lacks)


def require() -> None:
    """Raise :class:`EmulationError` naming what is missing, if anything is."""
    lacks = missing()
    if lacks:
        raise EmulationError("cannot emulate here: needs " + "; ".join(lacks), missing=lacks)


def run(argv: Sequence[str], *, stdin: str | None = None) -> str:
    """Run one ``ip`` or ``nft`` command; its standard output, or an
    :class:`EmulationError` quoting the command and what it said."""
    try:
        done = subprocess.run(
            list(argv), input=stdin, capture_output=True, text=True, check=False,
            timeout=COMMAND_TIMEOUT,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as error:
        raise EmulationError(f"{' '.join(argv)}: {error}") from None
    if done.returncode != 0:
        said = (done.stderr or done.stdout).strip()
        raise EmulationError(f"{' '.join(argv)} failed ({done.returncode}): {said}")
    return done.stdout
