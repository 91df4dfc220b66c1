"""CA outages: of the whole CA or of one site's issuing CA, nested, ended one by one."""

from __future__ import annotations

import pytest

from testbed.errors import PkiError
from testbed.pki.outage import CaOutages


def test_nothing_is_down_at_first() -> None:
    outages = CaOutages()
    assert not outages.down() and not outages.down("north")


def test_a_site_outage_takes_down_that_site_only() -> None:
    outages = CaOutages()
    outages.begin("north")
    assert outages.down("north")
    assert not outages.down("south") and not outages.down()


def test_a_whole_ca_outage_takes_down_every_site() -> None:
    outages = CaOutages()
    outages.begin()
    assert outages.down() and outages.down("north") and outages.down("south")


def test_overlapping_outages_end_with_the_last() -> None:
    outages = CaOutages()
    outages.begin("north")
    outages.begin("north")
    assert outages.end("north") is False
    assert outages.down("north")
    assert outages.end("north") is True
    assert not outages.down("north")


def test_a_site_is_not_back_while_the_whole_ca_is_down() -> None:
    outages = CaOutages()
    outages.begin()
    outages.begin("north")
    assert outages.end("north") is False
    assert outages.end() is True
    assert not outages.down("north")


def test_ending_an_outage_that_never_began_raises() -> None:
    with pytest.raises(PkiError, match="issuing CA of site 'north'"):
        CaOutages().end("north")
