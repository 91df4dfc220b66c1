"""What a fault or an operator operation may name as its ``target``.

A target is written ``ca``, ``site:NAME``, ``group:NAME``, ``device:ID`` or
``service:NAME``; what it
means depends on who names it (``site:north`` is the north site's devices for a
revocation, its issuing CA for a CA outage).  Each fault spec and each operation
accepts some :class:`TargetForm` s, and the scenario's cross-checks refuse any other
before a run (:func:`~testbed.crosscheck.cross_check`).
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["DEVICES", "TargetForm"]


class TargetForm(StrEnum):
    """One meaning a target may have."""

    CA = "ca"  # ``ca``: the whole certificate authority
    CENTRAL_CA = "central-ca"  # ``ca``: the one issuing CA (central issuing only)
    SITE_CA = "site-ca"  # ``site:NAME``: the site's own issuing CA (per-site issuing only)
    SITE = "site"  # ``site:NAME``: the site (its devices, or its relying parties)
    GROUP = "group"  # ``group:NAME``: a fleet group's devices
    DEVICE = "device"  # ``device:ID``: one device
    SERVICE = "service"  # ``service:NAME``: one clinical service
    IDP = "idp"  # ``idp``: the identity provider (a scenario with an ``ehr`` block)

    @property
    def spelling(self) -> str:
        """How a scenario writes a target of this form."""
        return _SPELLING[self]


_SPELLING = {
    TargetForm.CA: "'ca'",
    TargetForm.CENTRAL_CA: "'ca'",
    TargetForm.SITE_CA: "'site:NAME'",
    TargetForm.SITE: "'site:NAME'",
    TargetForm.GROUP: "'group:NAME'",
    TargetForm.DEVICE: "'device:ID'",
    TargetForm.SERVICE: "'service:NAME'",
    TargetForm.IDP: "'idp'",
}

DEVICES = frozenset({TargetForm.SITE, TargetForm.GROUP, TargetForm.DEVICE})
"""Devices: all of a site's, all of a group's, or one."""
