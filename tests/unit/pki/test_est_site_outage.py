"""EST during an outage of one site's issuing CA (per-site issuing): that site's
devices are refused 503 with Retry-After, other sites' devices are served."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

from testbed.decisions import Reason
from testbed.pki.ca import IssuingMode
from testbed.pki.est import EstResponse

if TYPE_CHECKING:
    from tests.conftest import Hospital


def _per_site(make_hospital: Callable[..., Hospital]) -> Hospital:
    hospital = make_hospital(issuing=IssuingMode.PER_SITE)
    hospital.register("ct-north", site="north")
    hospital.register("ct-south", site="south", services=("pacs-south",))
    return hospital


def _unavailable(response: EstResponse) -> bool:
    return (response.status, response.reason) == (503, Reason.CA_UNAVAILABLE) and (
        "Retry-After", "300"
    ) in response.headers


def test_enrollment_at_the_down_site_is_refused_and_elsewhere_served(
    make_hospital: Callable[..., Hospital],
) -> None:
    hospital = _per_site(make_hospital)
    hospital.est.outages.begin("north")
    assert _unavailable(hospital.simpleenroll("ct-north"))
    assert hospital.simpleenroll("ct-south").status == 200


def test_re_enrollment_waits_for_the_sites_issuing_ca(
    make_hospital: Callable[..., Hospital],
) -> None:
    hospital = _per_site(make_hospital)
    cert = hospital.enroll("ct-north")
    hospital.est.outages.begin("north")
    later = hospital.start + timedelta(hours=1)
    refused = hospital.reenroll("ct-north", cert, now=later)
    assert _unavailable(refused) and refused.device_id == "ct-north"
    hospital.est.outages.end("north")
    assert hospital.reenroll("ct-north", cert, now=later).status == 200
