"""The one vocabulary of verdicts: how a check came out, and how a failure test did.

:class:`Verdict` is the outcome of a check (an expectation, a whole run, and the
certification kit's checks): pass, fail, skip (the check could not apply) or error
(the check itself could not run), after the Inferno test kits.  :class:`ValidationOutcome`
is what a pre-production failure test saw the device do (seed §7 step 3): refused and
kept safe, refused but silent, or let through.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["ValidationOutcome", "Verdict"]


class Verdict(StrEnum):
    """The verdict on one check, or on a whole run."""

    PASS = "pass"
    FAIL = "fail"
    SKIP = "skip"
    ERROR = "error"

    @classmethod
    def of(cls, passed: bool) -> Verdict:
        """``PASS`` when ``passed``, else ``FAIL``."""
        return cls.PASS if passed else cls.FAIL


class ValidationOutcome(StrEnum):
    """What a pre-production failure test saw (seed §7 step 3)."""

    FAIL_SAFE = "fail-safe"  # refused; the device reported it and kept the data
    FAIL_SILENT = "fail-silent"  # refused; the device neither reported nor kept the data
    UNSAFE = "unsafe"  # the hospital let the faulty action through
