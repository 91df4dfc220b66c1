"""The DICOM acceptor's calls to the hospital's thread fail closed.

pynetdicom swallows an error raised in an ``EVT_REQUESTED`` handler and then accepts the
association by itself; an error raised in ``verify_request`` stops its accept loop.  So
the acceptor asks through :func:`decided` (None: refuse) and tallies through
:func:`tally` (a held thread does not stop the DICOM thread)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from testbed.live.dicom.acceptor import TRANSIENT_CONGESTION, decided, tally


def _held(fn: Callable[[], Any]) -> Any:
    raise TimeoutError  # the hospital's thread did not answer within the wait


def _broken(fn: Callable[[], Any]) -> Any:
    raise RuntimeError("the core raised")


def _direct(fn: Callable[[], Any]) -> Any:
    return fn()


def test_a_decision_that_cannot_be_had_is_none_so_the_association_is_refused() -> None:
    assert decided(_direct, lambda: "answer") == "answer"
    assert decided(_held, lambda: "answer") is None
    assert decided(_broken, lambda: "answer") is None
    assert TRANSIENT_CONGESTION == (2, 3, 1)  # rejected-transient, provider, congestion


def test_a_tally_on_a_held_thread_does_not_stop_the_dicom_thread() -> None:
    noted: list[str] = []
    tally(_direct, lambda: noted.append("x"))
    assert noted == ["x"]
    tally(_held, lambda: noted.append("y"))  # returns: the call stays queued on the loop
    with pytest.raises(RuntimeError):  # any other error is the tally's own: not hidden
        tally(_broken, lambda: None)
