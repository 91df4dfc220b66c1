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
    └── EngineError            a sweep's engine cannot be used (Dask not installed, a
                               scheduler address that does not answer)

Messages name the bad value and say what was expected.  Bad input raises; it is
never quietly corrected.
"""

from __future__ import annotations

__all__ = [
    "CsrError",
    "EhrError",
    "EngineError",
    "LifecycleError",
    "LiveError",
    "OutputError",
    "PkiError",
    "RecordError",
    "RegistrationError",
    "ScenarioError",
    "TestbedError",
]


class TestbedError(Exception):
    """Base class of every error the testbed raises on purpose."""

    __test__ = False  # not a pytest test class


class ScenarioError(TestbedError):
    """A scenario or profile file is malformed.

    Carries the file, the field path (``devices[0].profile``) and what was expected.
    """

    def __init__(self, file: str, field: str, expected: str, *, got: object = None) -> None:
        self.file = file
        self.field = field
        self.expected = expected
        self.got = got
        where = f"{file}: {field}" if field else file
        found = "" if got is None else f" (got {got!r})"
        super().__init__(f"{where}: expected {expected}{found}")


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


class EngineError(TestbedError):
    """A sweep's engine cannot be used: the optional Dask extra is not installed, or
    the scheduler at the given address does not answer (the message names it)."""
