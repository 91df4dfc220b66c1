"""The adapter protocol: how the kit makes a device act, language-neutral.

The kit runs ``COMMAND ARGS ACTION`` (``--adapter`` split as a shell would,
:func:`shlex.split`) with one JSON object on standard input (every request carries
``workdir``, a directory the device may keep state in) and reads one JSON object from
standard output.  Exit 0: the device did it, and the answer has the action's fields;
exit 3 with ``{"unsupported": true}``: the device does not do this action; any other
exit: the device refused or failed (standard error says why).

Each call is bounded by its action's timeout (the adapter's whole process group is
stopped past it).  What breaks the protocol raises :class:`~testbed.errors.AdapterError`
naming the action and what came back; exit 3 raises
:class:`~testbed.errors.Unsupported`.  Every call is kept as an :class:`Exchange`, the
evidence a verdict rests on.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from testbed.errors import AdapterError, CertifyError, Unsupported

__all__ = ["ANSWERS", "UNSUPPORTED_EXIT", "Action", "Adapter", "Exchange"]

UNSUPPORTED_EXIT = 3
"""The exit code of an action the device does not support."""
EXCERPT = 600
"""Characters of standard output or error kept in an exchange."""
POLL = 0.05
"""Seconds between looks at a running adapter (and calls of ``while_waiting``)."""


class Action(StrEnum):
    """The adapter actions (docs/certify.md)."""

    ENROLL = "enroll"
    RENEW = "renew"
    SEND_OBSERVATION = "send-observation"
    SEND_STUDY = "send-study"
    STATUS = "status"
    FLUSH = "flush"
    SET_TRUST = "set-trust"
    WIPE = "wipe"
    KEYS = "keys"  # the kit's addition: the device's public JWK Set (SMART client assertions)


_STR = (str,)
_OPT_STR = (str, type(None))
_INT = (int,)

ANSWERS: Mapping[Action, Mapping[str, tuple[type, ...]]] = {
    Action.ENROLL: {"certificate": _STR, "key": _STR},
    Action.RENEW: {"certificate": _STR},
    Action.SEND_OBSERVATION: {"status": _INT},
    Action.SEND_STUDY: {"status": (int, str)},
    Action.STATUS: {"queued": _INT, "certificate_serial": _OPT_STR,
                    "certificate_not_after": _OPT_STR, "last_error": _OPT_STR},
    Action.FLUSH: {"delivered": _INT},
    Action.SET_TRUST: {},
    Action.WIPE: {},
    Action.KEYS: {"jwks": (dict,)},
}  # fmt: skip
"""The fields (and their JSON types) an action's answer must have on exit 0."""

TIMEOUTS: Mapping[Action, float] = {Action.ENROLL: 90.0}
"""Per-action timeouts in seconds beyond :attr:`Adapter.timeout` (an enrollment may
wait for an operator's approval)."""


@dataclass(frozen=True, slots=True)
class Exchange:
    """One adapter call: what was asked, what came back."""

    action: Action
    request: Mapping[str, Any]
    exit: int | None  # None: stopped at its timeout
    response: Mapping[str, Any] | None
    stdout: str
    stderr: str
    seconds: float

    @property
    def succeeded(self) -> bool:
        """Exit 0 with an answer that has the action's fields."""
        return self.exit == 0 and self.response is not None

    def to_json(self) -> dict[str, Any]:
        """The exchange as the report shows it (excerpts of the streams)."""
        return {"action": self.action.value, "request": dict(self.request),
                "exit": self.exit, "response": self.response,
                "stdout": self.stdout[:EXCERPT], "stderr": self.stderr[:EXCERPT],
                "seconds": round(self.seconds, 3)}  # fmt: skip


def _excerpt(text: str) -> str:
    text = text.strip()
    return text if len(text) <= EXCERPT else text[:EXCERPT] + "..."


def _object(stdout: str) -> dict[str, Any] | None:
    try:
        value = json.loads(stdout)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _wrong_fields(action: Action, answer: Mapping[str, Any]) -> list[str]:
    problems = []
    for name, types in ANSWERS[action].items():
        if name not in answer:
            problems.append(f"{name!r} missing")
        elif isinstance(answer[name], bool) or not isinstance(answer[name], types):
            expected = " or ".join("null" if t is type(None) else t.__name__ for t in types)
            problems.append(f"{name!r} is {answer[name]!r}, expected {expected}")
    return problems


@dataclass
class Adapter:
    """A device adapter: the command line, and how long an action may take."""

    argv: tuple[str, ...]
    timeout: float = 30.0
    exchanges: list[Exchange] = field(default_factory=list)

    @classmethod
    def parse(cls, command: str, *, timeout: float = 30.0) -> Adapter:
        """The adapter of ``--adapter 'COMMAND ARGS'``; :class:`CertifyError` when the
        command is empty or not an executable file."""
        try:
            argv = tuple(shlex.split(command))
        except ValueError as error:
            raise CertifyError(f"--adapter {command!r}: {error}") from None
        if not argv:
            raise CertifyError("--adapter: expected a command, got nothing")
        found = shutil.which(argv[0])
        if found is None:
            path = Path(argv[0])
            why = "not found" if not path.exists() else "not an executable file"
            raise CertifyError(f"--adapter: {argv[0]!r} is {why} (expected a command the "
                               "kit can run: a path with the executable bit, or a name "
                               "on PATH)")  # fmt: skip
        return cls(argv, timeout=timeout)

    def timeout_of(self, action: Action) -> float:
        """Seconds ``action`` may take."""
        return max(self.timeout, TIMEOUTS.get(action, 0.0))

    def call(
        self,
        action: Action,
        request: Mapping[str, Any],
        *,
        while_waiting: Callable[[], None] | None = None,
    ) -> Exchange:
        """Run one action; the exchange (kept in :attr:`exchanges`) when the adapter kept
        the protocol, whether the device did it (exit 0) or refused (another exit).

        Raises :class:`Unsupported` on exit 3 and :class:`AdapterError` when the adapter
        cannot be started, hangs past the timeout, or answers exit 0 without a JSON
        object with the action's fields.
        """
        started = time.monotonic()
        stdout, stderr, code = self._run(action, request, while_waiting)
        seconds = time.monotonic() - started
        answer = _object(stdout)
        exchange = Exchange(action, dict(request), code, answer,
                            _excerpt(stdout), _excerpt(stderr), seconds)  # fmt: skip
        self.exchanges.append(exchange)
        self._judge(exchange, answer)
        return exchange

    def _judge(self, exchange: Exchange, answer: dict[str, Any] | None) -> None:
        action = exchange.action
        if exchange.exit is None:
            raise AdapterError(f"action {action}: no answer within {self.timeout_of(action)} s "
                               "(the adapter was stopped)")  # fmt: skip
        if exchange.exit == UNSUPPORTED_EXIT:
            raise Unsupported(f"action {action}: the device does not support it (exit 3)")
        if exchange.exit != 0:
            return
        if answer is None:
            came = exchange.stdout or "nothing"
            raise AdapterError(f"action {action}: exit 0 but standard output is not one "
                               f"JSON object: {came!r}")  # fmt: skip
        problems = _wrong_fields(action, answer)
        if problems:
            raise AdapterError(f"action {action}: wrong fields in the answer "
                               f"{json.dumps(answer)[:EXCERPT]}: {'; '.join(problems)}")

    def _run(
        self, action: Action, request: Mapping[str, Any], while_waiting: Callable[[], None] | None
    ) -> tuple[str, str, int | None]:
        try:
            process = subprocess.Popen(
                [*self.argv, action.value], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, start_new_session=True, text=True,
            )  # fmt: skip
        except OSError as error:
            raise AdapterError(f"action {action}: cannot run {self.argv[0]!r}: "
                               f"{error.strerror or error}") from None  # fmt: skip
        deadline = time.monotonic() + self.timeout_of(action)
        payload: str | None = json.dumps(dict(request))
        while True:
            try:
                stdout, stderr = process.communicate(payload, timeout=POLL)
                return stdout, stderr, process.returncode
            except subprocess.TimeoutExpired:
                payload = None  # sent once; a retry reads on
            if time.monotonic() > deadline:
                _stop(process)
                stdout, stderr = process.communicate()
                return stdout, stderr, None
            if while_waiting is not None:
                while_waiting()


def _stop(process: subprocess.Popen[str]) -> None:
    """Kill the adapter's whole process group (it may have started children)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
