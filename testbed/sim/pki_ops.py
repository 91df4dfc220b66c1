"""The CA's own schedule in the simulation: CRL publication every ``crl_interval``."""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from testbed import operations

if TYPE_CHECKING:
    from testbed.core import Testbed

__all__ = ["crl_publisher"]


def crl_publisher(tb: Testbed) -> Generator[Any, Any, None]:
    """Reissue CRLs every ``crl_interval``; none of an issuing CA that is down (an outage
    of the whole CA or of its site's)."""
    interval = tb.scenario.pki.crl_interval.total_seconds()
    while tb.env.now < tb.horizon:
        operations.publish_crls(tb.hospital, up_only=True)
        yield tb.env.timeout(interval)
