"""The CA's own schedule in the simulation: CRL publication every ``crl_interval``."""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from testbed import operations

if TYPE_CHECKING:
    from testbed.sim.context import SimContext

__all__ = ["crl_publisher"]


def crl_publisher(sim: SimContext) -> Generator[Any, Any, None]:
    """Reissue CRLs every ``crl_interval``; none of an issuing CA that is down (an outage
    of the whole CA or of its site's)."""
    interval = sim.pki.crl_interval.total_seconds()
    while sim.env.now < sim.horizon:
        operations.publish_crls(sim.hospital)
        yield sim.env.timeout(interval)
