"""How the hospital's issuing CAs are laid out over its sites.

Its own module, outside the modules the compiled build compiles
(``benchmarks.compiled``): ``testbed schema`` describes the scenario's ``issuing``
field with this enum's docstring, which a compiled class does not keep.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["IssuingMode"]


class IssuingMode(StrEnum):
    """Whether one issuing CA serves every site or each site has its own."""

    CENTRAL = "central"
    PER_SITE = "per-site"
