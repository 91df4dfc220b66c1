"""Operator operations shared by both transports: the CRL a relying party fetches."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from testbed import operations


def test_the_current_crl_is_reissued_when_due_and_not_while_the_ca_is_down(
    hospital: Any,
) -> None:
    root = hospital.root
    [issuing] = root.ca.issuing_cas()
    first = operations.current_crl(root, issuing)  # none yet: published now
    assert root.crls.current(issuing.name) is first
    hospital.clock.advance(timedelta(hours=1))
    assert operations.current_crl(root, issuing) is first  # not due (24 h interval)
    hospital.clock.advance(timedelta(hours=24))
    root.ca_outages.begin()
    assert operations.current_crl(root, issuing) is first  # due, but the CA is down
    root.ca_outages.end()
    second = operations.current_crl(root, issuing)
    assert second is not first and second.this_update == hospital.clock.now()
