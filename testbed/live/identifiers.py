"""The identifiers the admin API and ``testbed devices`` accept, matched whole.

Every pattern is applied with :func:`re.fullmatch`: ``$`` would let a final newline
through (``"sn1\\n"`` matches ``^[a-z0-9]+$``), and a newline in a device id would
reach certificate names and the audit log.  A value that does not match raises
:class:`~testbed.errors.LiveError` naming the field, the value and what was expected.
"""

from __future__ import annotations

import re

from testbed.errors import LiveError

__all__ = ["DEVICE_ID", "FHIR_ID", "NAME", "OWNER", "checked", "optional_string"]

DEVICE_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
"""A device id: ``{profile}-{site}-{serial}`` lowercased, at most 63 characters."""
OWNER = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._@-]{0,63}")
"""An owning team: letters, digits, spaces and ``._@-``, at most 64 characters."""
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")
"""A serial, site, zone or profile as the API takes it (the hospital checks it
further: known site, zone and profile; the serial's own pattern)."""
FHIR_ID = re.compile(r"[A-Za-z0-9.-]{1,64}")
"""A FHIR resource id (FHIR R4 ``id``: letters, digits, ``-`` and ``.``, 1-64)."""

_EXPECTED = {
    FHIR_ID: "a FHIR id: letters, digits, '-' and '.' (1-64 characters)",
    DEVICE_ID: "a device id of lowercase letters, digits and '-' (at most 63 characters)",
    OWNER: "letters, digits, spaces and '._@-' (at most 64 characters)",
    NAME: "letters, digits and '._-' (at most 63 characters)",
}


def checked(field: str, value: object, pattern: re.Pattern[str]) -> str:
    """``value`` if it is a string ``pattern`` matches whole, else :class:`LiveError`."""
    if not isinstance(value, str) or pattern.fullmatch(value) is None:
        raise LiveError(f"{field}: expected {_EXPECTED[pattern]}, got {value!r}")
    return value


def optional_string(field: str, value: object) -> str | None:
    """``value`` if it is a string or None (absent), else :class:`LiveError`."""
    if value is None or isinstance(value, str):
        return value
    raise LiveError(f"{field}: expected a string, got {value!r}")
