"""The CA's own schedule: CRL publication and issuing-key rotation."""

from __future__ import annotations

from collections.abc import Generator
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from testbed.events import EventKind
from testbed.pki.revocation import build_crl

if TYPE_CHECKING:
    from testbed.core import Testbed

__all__ = ["crl_publisher", "publish_crls", "rotate_key"]


def publish_crls(tb: Testbed, *, site: str | None = None, up_only: bool = False) -> None:
    """Sign and publish one CRL per issuing CA: only ``site``'s, if given; with
    ``up_only``, none of an issuing CA that is down (:class:`~testbed.pki.outage.CaOutages`)."""
    now = tb.now()
    validity = tb.scenario.pki.crl_validity
    for issuing in tb.ca.issuing_cas(now=now):
        if site is not None and issuing.site != site:
            continue
        if up_only and tb.ca_outages.down(issuing.site):
            continue
        crl = build_crl(tb.ca, issuing, now=now, next_update_after=validity)
        tb.crls.publish(crl)
        tb.log.emit(
            now,
            EventKind.CRL_PUBLISHED,
            issuing.name,
            entries=len(crl.serials),
            next_update=crl.next_update.isoformat().replace("+00:00", "Z"),
        )


def crl_publisher(tb: Testbed) -> Generator[Any, Any, None]:
    """Reissue CRLs every ``crl_interval``; none of an issuing CA that is down (an outage
    of the whole CA or of its site's)."""
    interval = tb.scenario.pki.crl_interval.total_seconds()
    while tb.env.now < tb.horizon:
        publish_crls(tb, up_only=True)
        yield tb.env.timeout(interval)


def rotate_key(tb: Testbed, *, site: str | None, overlap: timedelta) -> None:
    """Make a new issuing CA generation, publish it to every site's trust bundle."""
    now = tb.now()
    new = tb.ca.rotate_issuing_key(site=site, now=now, overlap=overlap)
    arrival = tb.trust.publish(now=now)
    tb.log.emit(
        now,
        EventKind.CA_KEY_ROTATED,
        new.name,
        site=site,
        generation=new.generation,
        overlap_seconds=overlap.total_seconds(),
        bundle_arrival=arrival.isoformat().replace("+00:00", "Z"),
    )
    publish_crls(tb)
