"""DICOM AE titles (PS3.5 §6.2, VR AE): checked, and compared as DICOM compares them.

An AE title has at most 16 characters, no backslash and no control characters, and is
not all spaces; leading and trailing spaces are not significant (on the wire a title
is padded with spaces to 16 bytes).  The rule itself is
:func:`testbed.devices.check_ae_title`, the one the device records and the AE
numbering (:func:`testbed.devices.ae_title_for`) use; this module adds what a PACS
needs: the canonical form it compares, and a verdict instead of an exception for a
title that arrives in a request (dcmtk silently truncates a 17th character, so two
devices can collide; the PACS refuses such a title rather than guess).
"""

from __future__ import annotations

from testbed.devices import ae_title_for, check_ae_title

__all__ = ["ae_title_for", "canonical_ae_title", "invalid_ae_title", "pacs_ae_title"]

_AE_LENGTH = 16


def pacs_ae_title(service: str, declared: str | None = None) -> str:
    """The called AE title of PACS ``service``: ``declared`` (canonical), else derived
    from the name: capitals, ``_`` for ``-``, cut to 16 characters (``pacs-east`` ->
    ``PACS_EAST``).  ValueError when ``declared`` is not a valid AE title."""
    if declared is not None:
        return canonical_ae_title(declared)
    return canonical_ae_title(service.upper().replace("-", "_")[:_AE_LENGTH])


def canonical_ae_title(value: str) -> str:
    """``value`` without its non-significant leading and trailing spaces.

    Raises ValueError (naming the rule) when ``value`` is not a valid AE title.
    """
    return check_ae_title(value).strip(" ")


def invalid_ae_title(value: str) -> str | None:
    """Why ``value`` is not a valid AE title, or None when it is one."""
    try:
        check_ae_title(value)
    except ValueError as error:
        return f"{value!r} is not a valid AE title: {error}"
    return None
