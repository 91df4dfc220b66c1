"""The admin API's client (``testbed devices ...``): the secret goes only to the socket.

The command line does not take the admin API's address from ``endpoints.json``: it
is always ``DIR/admin.sock``, a Unix domain socket that only the user running the
server can have made (the state directory is checked to be theirs and not writable
by others; the socket must be theirs, mode 0600).  ``endpoints.json`` must still name
that socket; if it names anything else, the file was changed by someone other than
the server, and the command stops with an error before reading the secret.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from testbed.errors import LiveError
from testbed.live.state import StateDir, check_directory

__all__ = ["TIMEOUT", "admin_request"]

TIMEOUT = 30.0
"""Seconds to wait for the admin API's answer."""


class _UnixConnection(http.client.HTTPConnection):
    """HTTP over a Unix domain socket."""

    def __init__(self, path: Path, *, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        """Connect to the socket instead of a host and port."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(str(self._path))
        except OSError:
            sock.close()
            raise
        self.sock = sock


def _checked_socket(state: StateDir) -> Path:
    """The admin socket, after checking that ``endpoints.json`` names it and that
    it is this user's private socket; :class:`LiveError` otherwise."""
    check_directory(state.root, create=False)
    named = state.read_endpoints().get("admin")
    path = state.admin_socket
    if not isinstance(named, str) or not named.startswith("unix:") or (
        os.path.realpath(named.removeprefix("unix:")) != os.path.realpath(path)
    ):
        raise LiveError(
            f"{state.endpoints} names the admin API at {named!r}, but `testbed serve` "
            f"only ever serves it on {path}: the file was changed by someone else; "
            "the admin secret was not sent"
        )
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        raise LiveError(f"{path} is missing; is `testbed serve` running?") from None
    if not stat.S_ISSOCK(info.st_mode) or info.st_uid != os.geteuid() or (
        info.st_mode & 0o077
    ):
        raise LiveError(f"{path}: expected this user's Unix socket with mode 0600 (made by "
                        "`testbed serve`); the admin secret was not sent")  # fmt: skip
    return path


def admin_request(
    state_dir: Path, path: str, payload: Mapping[str, object] | None = None, *,
    method: str = "POST",
) -> Any:
    """Send ``payload`` as JSON to the admin API (POST; GET sends no body) and return
    the decoded JSON answer; :class:`LiveError` with the API's error otherwise."""
    state = StateDir(state_dir)
    socket_path = _checked_socket(state)
    headers = {"Authorization": f"Bearer {state.read_secret()}",
               "Content-Type": "application/json"}  # fmt: skip
    body = None if method == "GET" else json.dumps(dict(payload or {})).encode()
    connection = _UnixConnection(socket_path, timeout=TIMEOUT)
    try:
        connection.request(method, path, body=body, headers=headers)
        answer = connection.getresponse()
        status, raw = answer.status, answer.read()
    except OSError as error:
        reason = error.strerror or str(error)
        raise LiveError(f"cannot reach the admin API at {socket_path}: {reason}") from None
    finally:
        connection.close()
    if status >= 400:
        raise LiveError(_error_text(status, raw))
    try:
        return json.loads(raw)
    except ValueError:
        raise LiveError(f"the admin API answered {status} with no JSON") from None


def _error_text(status: int, body: bytes) -> str:
    try:
        return str(json.loads(body)["error"])
    except (ValueError, KeyError, TypeError):
        return f"admin API answered {status}: {body.decode(errors='replace').strip()}"
