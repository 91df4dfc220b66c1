"""The testbed's one exception tree.

::

    TestbedError
    ├── ScenarioError          bad user input in a scenario or profile file (file, field, expected)
    ├── LifecycleError         an invalid device lifecycle transition
    ├── RegistrationError      a device that cannot be registered or looked up
    ├── PkiError               certificate authority misuse (unknown serial, bad key type)
    │   └── CsrError           a CSR that is malformed or does not match the registered device
    ├── LiveError              live-mode failures (state directory, admin API)
    ├── OutputError            an output directory that cannot be written
    ├── RecordError            a run's record on disk that cannot be read (file, line, expected)
    ├── EhrError               the EHR core asked for something it does not hold (unknown
    │                          patient, location or device in a census operation)
    ├── EmulationError         a design cannot be emulated in network namespaces here
    │                          (not root, `ip` or `nft` missing, a kernel command failed)
    ├── EngineError            a sweep's engine cannot be used (Dask not installed, a
    │                          scheduler address that does not answer)
    └── CertifyError           the certification kit cannot run as asked (unknown profile
        │                      or suite, an adapter that is not executable)
        └── AdapterError       a device adapter broke its protocol (the action, what came back)
            └── Unsupported    the adapter answered exit 3: the device does not do the action

Messages name the bad value and say what was expected.  Bad input raises; it is
never quietly corrected.

Outside the tree, because it reports a bug rather than a refusal:
:class:`StandingError`, an :class:`AssertionError` (:mod:`testbed.standing`).
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "AdapterError",
    "CertifyError",
    "CsrError",
    "EhrError",
    "EmulationError",
    "EngineError",
    "LifecycleError",
    "LiveError",
    "OutputError",
    "PkiError",
    "RecordError",
    "RegistrationError",
    "ScenarioError",
    "StandingError",
    "TestbedError",
    "Unsupported",
]


class TestbedError(Exception):
    """Base class of every error the testbed raises on purpose."""

    __test__ = False  # not a pytest test class


class ScenarioError(TestbedError):
    """A scenario or profile file is malformed.

    Carries the file, the field path (``devices[0].profile``), what was expected, and
    where known the line and column and a suggestion (``did you mean``).  One error
    may carry every problem found in a file at once (:attr:`problems`, its own first);
    its message lists them all, one per line.
    """

    def __init__(
        self,
        file: str,
        field: str,
        expected: str,
        *,
        got: object = None,
        line: int | None = None,
        column: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.file = file
        self.field = field
        self.expected = expected
        self.got = got
        self.line = line
        self.column = column
        self.hint = hint
        self.problems: tuple[ScenarioError, ...] = (self,)
        super().__init__(self.sentence())

    def sentence(self) -> str:
        """This one problem as a sentence (file, field, expected, got, suggestion)."""
        where = f"{self.file}: {self.field}" if self.field else self.file
        found = "" if self.got is None else f" (got {self.got!r})"
        hint = "" if self.hint is None else f"; did you mean {self.hint!r}?"
        return f"{where}: expected {self.expected}{found}{hint}"

    @classmethod
    def of(cls, problems: Sequence[ScenarioError]) -> ScenarioError:
        """One error carrying every problem of ``problems`` (in their order)."""
        if not problems:
            raise ValueError("no problems to raise")
        first = problems[0]
        error = cls(first.file, first.field, first.expected, got=first.got, line=first.line,
                    column=first.column, hint=first.hint)  # fmt: skip
        error.problems = tuple(problems)
        if len(problems) > 1:
            error.args = ("\n".join(p.sentence() for p in problems),)
        return error


class LifecycleError(TestbedError):
    """A device lifecycle transition that the transition table does not allow."""


class RegistrationError(TestbedError):
    """A device cannot be registered or looked up."""


class PkiError(TestbedError):
    """The certificate authority was asked for something it cannot do."""


class CsrError(PkiError):
    """A certificate signing request is malformed or does not match the device."""


class LiveError(TestbedError):
    """A live-mode operation failed (state directory, admin API, server start)."""


class OutputError(TestbedError):
    """A run's outputs cannot be written where they were asked for."""


class RecordError(TestbedError):
    """A run's directory or audit log cannot be read as a run record.

    The message names the directory or file, the line for a bad event, and what was
    expected there.
    """


class EhrError(TestbedError):
    """The EHR core was asked to act on something it does not hold (an operator
    operation naming an unknown patient, location or device).  Refusals of FHIR
    requests are answers (OperationOutcome), not exceptions."""


class EmulationError(TestbedError):
    """A design cannot be materialized in network namespaces on this host: the host
    lacks what it needs (root, ``ip``, ``nft``: :attr:`missing` names each), or a
    kernel command failed (the message quotes the command and its error)."""

    def __init__(self, message: str, *, missing: tuple[str, ...] = ()) -> None:
        self.missing = missing
        super().__init__(message)


class EngineError(TestbedError):
    """A sweep's engine cannot be used: the optional Dask extra is not installed, or
    the scheduler at the given address does not answer (the message names it)."""


# -- the certification kit (issue 15) -------------------------------------------------


class CertifyError(TestbedError):
    """The certification kit cannot run as asked: an unknown profile or suite, an
    adapter command that is not executable, a state directory with no hospital."""


class AdapterError(CertifyError):
    """A device adapter broke its protocol: it hung past the action's timeout, wrote
    no JSON object, or left out a field the action must answer (the message names
    the action and what came back)."""


class Unsupported(AdapterError):
    """The adapter answered exit 3 ``{"unsupported": true}``: the device does not do
    the action, so a check that needs it is skipped."""


class StandingError(AssertionError):
    """A standing allowance differs from what walking the hops decides (a missing
    revision bump or time limit: a bug; :mod:`testbed.standing`).  Kept here, not in
    :mod:`testbed.standing`, so that module holds no class deriving from a built-in
    exception other than :class:`Exception` (it compiles with mypyc:
    :mod:`benchmarks.compiled`)."""
