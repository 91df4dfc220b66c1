"""The check registry: every suite the kit offers, by name, and its checks in order.

Suites are data (a tuple of :class:`~testbed.certify.checks.Check` each); a new suite
adds one entry here.  A suite named in :data:`PLANNED` is not offered yet: asking for
one is bad input (exit 2) that says so.  The kit's own recovery check (KIT-01) always
runs, last.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType

from testbed.certify import (
    dicom_suite,
    est_suite,
    fhir_suite,
    lifecycle_suite,
    recovery,
    smart_suite,
)
from testbed.certify.checks import Check
from testbed.errors import CertifyError

__all__ = ["KIT", "PLANNED", "SUITES", "all_checks", "select"]

SUITES: Mapping[str, tuple[Check, ...]] = MappingProxyType({
    est_suite.SUITE: est_suite.CHECKS,
    smart_suite.SUITE: smart_suite.CHECKS,
    fhir_suite.SUITE: fhir_suite.CHECKS,
    dicom_suite.SUITE: dicom_suite.CHECKS,
    lifecycle_suite.SUITE: lifecycle_suite.CHECKS,
})  # fmt: skip
KIT: tuple[Check, ...] = recovery.CHECKS
PLANNED: tuple[str, ...] = ()
"""Suites of issue 15 not offered yet (none: every suite is in)."""


def all_checks() -> tuple[Check, ...]:
    """Every check the kit offers, in running order (the kit's own last)."""
    return (*(c for checks in SUITES.values() for c in checks), *KIT)


def select(names: Sequence[str]) -> tuple[Check, ...]:
    """The checks of the named suites (every suite if none), in running order, then the
    kit's own; :class:`CertifyError` naming an unknown suite."""
    wanted = [n.strip() for n in names if n.strip()] or list(SUITES)
    for name in wanted:
        if name in PLANNED:
            raise CertifyError(f"--suite {name}: not available yet (it comes with the "
                               f"device side of SMART and FHIR); available: "
                               f"{', '.join(SUITES)}")  # fmt: skip
        if name not in SUITES:
            raise CertifyError(f"--suite {name!r}: unknown; expected some of "
                               f"{', '.join(SUITES)} (comma-separated)")  # fmt: skip
    return (*(c for suite, checks in SUITES.items() if suite in wanted for c in checks), *KIT)
