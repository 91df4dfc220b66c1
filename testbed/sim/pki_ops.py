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


def publish_crls(tb: Testbed) -> None:
    """Sign and publish one CRL per issuing CA (unless the CA is down)."""
    now = tb.now()
    validity = tb.scenario.pki.crl_validity
    for issuing in tb.ca.issuing_cas(now=now):
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
    """Reissue CRLs every ``crl_interval``; during a CA outage none are published."""
    interval = tb.scenario.pki.crl_interval.total_seconds()
    while tb.env.now < tb.horizon:
        if not tb.ca_outages:
            publish_crls(tb)
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
