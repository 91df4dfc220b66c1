"""A PACS's AE allow-list: calling AE title <-> device identity <-> the device's zone.

Built from inventory records given as plain data (:class:`~testbed.devices.DeviceRecord`),
one list per PACS service (a site's PACS): a device is on it when the record names a
calling AE title and the PACS among its DICOM endpoints.  An entry binds three facts
the association checks together: the calling AE title the device presents, the
device the certificate must identify, and the (site, zone) its traffic must come
from.  The list is a frozen value; a change (a device registered or offboarded, an
AE title removed by a fault) is a new list.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from testbed.devices import DeviceRecord
from testbed.errors import RegistrationError
from testbed.pacs.ae_title import canonical_ae_title

__all__ = ["AllowList", "AllowedAe"]


@dataclass(frozen=True, slots=True)
class AllowedAe:
    """One calling AE title a PACS accepts: whose it is and where it may come from."""

    ae_title: str
    device_id: str
    site: str
    zone: str

    def __post_init__(self) -> None:
        if canonical_ae_title(self.ae_title) != self.ae_title:
            raise ValueError(
                f"an allow-list entry holds its AE title without leading or trailing "
                f"spaces: {self.ae_title!r}"
            )

    @property
    def source(self) -> tuple[str, str]:
        """The (site, zone) the device's traffic comes from."""
        return (self.site, self.zone)

    @classmethod
    def of(cls, record: DeviceRecord) -> AllowedAe:
        """The entry of a device record that has an AE title."""
        if record.ae_title is None:
            raise ValueError(f"device {record.device_id!r} has no DICOM AE title")
        return cls(canonical_ae_title(record.ae_title), record.device_id, record.site, record.zone)


@dataclass(frozen=True, slots=True)
class AllowList:
    """The calling AE titles one PACS service accepts, by canonical title.

    Two devices may not share a title (:class:`~testbed.errors.RegistrationError`):
    the PACS could not tell which certificate the title must match.
    """

    service: str
    by_title: Mapping[str, AllowedAe] = field(default_factory=dict)

    @classmethod
    def of(cls, service: str, entries: Iterable[AllowedAe]) -> AllowList:
        """The list of ``entries`` for ``service``."""
        by_title: dict[str, AllowedAe] = {}
        for entry in entries:
            held = by_title.setdefault(entry.ae_title, entry)
            if held.device_id != entry.device_id:
                raise RegistrationError(
                    f"AE title {entry.ae_title!r} is held by {held.device_id!r} and "
                    f"{entry.device_id!r} at PACS {service!r}; give each device its own title"
                )
        return cls(service, MappingProxyType(by_title))

    @classmethod
    def from_records(cls, service: str, records: Iterable[DeviceRecord]) -> AllowList:
        """The entries of every record with an AE title that lists ``service`` among
        its DICOM endpoints."""
        chosen = (r for r in records if r.ae_title is not None and service in r.dicom_endpoints)
        return cls.of(service, (AllowedAe.of(r) for r in chosen))

    def get(self, ae_title: str) -> AllowedAe | None:
        """The entry of a canonical ``ae_title``, or None."""
        return self.by_title.get(ae_title)

    def without(self, ae_title: str) -> AllowList:
        """The same list less ``ae_title`` (KeyError if it is not on it)."""
        if ae_title not in self.by_title:
            raise KeyError(f"AE title {ae_title!r} is not on the allow-list of {self.service!r}")
        kept = (e for e in self.by_title.values() if e.ae_title != ae_title)
        return AllowList.of(self.service, kept)

    def with_entry(self, entry: AllowedAe) -> AllowList:
        """The same list and ``entry``."""
        return AllowList.of(self.service, (*self.by_title.values(), entry))

    def __contains__(self, ae_title: object) -> bool:
        return ae_title in self.by_title

    def __iter__(self) -> Iterator[AllowedAe]:
        return iter(self.by_title.values())

    def __len__(self) -> int:
        return len(self.by_title)
