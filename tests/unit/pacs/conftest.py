"""Fixtures of the PACS tests (builders in ``tests/unit/pacs/builders.py``)."""

from __future__ import annotations

import pytest

from tests.unit.pacs.builders import Bed, make_bed


@pytest.fixture
def bed() -> Bed:
    """A fresh bed (tests that change the hospital: revoke, suspend, outages)."""
    return make_bed()


@pytest.fixture(scope="module")
def shared_bed() -> Bed:
    """One bed per module for tests that only build PACS instances on it."""
    return make_bed()
