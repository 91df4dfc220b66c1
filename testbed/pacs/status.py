"""DIMSE status codes a PACS answers with (PS3.7 Annex C; C-STORE: PS3.4 B.2.3)."""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum
from types import MappingProxyType

from testbed.decisions import Reason

__all__ = ["Status", "status_of"]


class Status(IntEnum):
    """The status of a DIMSE response."""

    SUCCESS = 0x0000
    REFUSED_SOP_CLASS_NOT_SUPPORTED = 0x0122  # PS3.7 C.5.19
    REFUSED_NOT_AUTHORIZED = 0x0124  # PS3.7 C.5.21
    REFUSED_OUT_OF_RESOURCES = 0xA700  # PS3.4 B.2.3
    ERROR_DATASET_DOES_NOT_MATCH_SOP_CLASS = 0xA900  # PS3.4 B.2.3
    ERROR_CANNOT_UNDERSTAND = 0xC000  # PS3.4 B.2.3


_STATUS: Mapping[Reason, Status] = MappingProxyType({
    Reason.OK: Status.SUCCESS,
    Reason.SOP_CLASS_NOT_SUPPORTED: Status.REFUSED_SOP_CLASS_NOT_SUPPORTED,
    Reason.NO_ASSOCIATION: Status.REFUSED_NOT_AUTHORIZED,
    Reason.SERVICE_UNAVAILABLE: Status.REFUSED_OUT_OF_RESOURCES,
    Reason.DATASET_INVALID: Status.ERROR_DATASET_DOES_NOT_MATCH_SOP_CLASS,
    Reason.SOP_INSTANCE_CONFLICT: Status.ERROR_CANNOT_UNDERSTAND,
})  # fmt: skip


def status_of(reason: Reason) -> Status:
    """The status answering a request decided with ``reason`` (ValueError: a reason no
    DIMSE request on an association is refused with)."""
    try:
        return _STATUS[reason]
    except KeyError:
        raise ValueError(f"no DIMSE status for reason {reason.value!r}") from None
