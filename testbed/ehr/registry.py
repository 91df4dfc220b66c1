"""The EHR's device registry: a FHIR Device per testbed device, owned by an
Organization and placed at a Location.

It is one more place that holds a device's identity (after the inventory, the CA, the
identity provider and NAC), so drift between it and the inventory can be detected.  A
Device carries the testbed's device id as its identifier
(``urn:testbed:device``); its owner is the Organization named by the device record's
``owner`` (created on first use, identifier ``urn:testbed:owner``); its ``location``
is where the patient-context authority (context.py) places it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from testbed.ehr.store import ResourceStore
from testbed.errors import EhrError

__all__ = ["DEVICE_SYSTEM", "OWNER_SYSTEM", "DeviceRegistry"]

DEVICE_SYSTEM = "urn:testbed:device"
OWNER_SYSTEM = "urn:testbed:owner"


class DeviceRegistry:
    """Devices and their owning organizations, kept as resources in the store."""

    def __init__(self, store: ResourceStore) -> None:
        self._store = store
        self._devices: dict[str, dict[str, Any]] = {}
        self._owners: dict[str, dict[str, Any]] = {}

    def register(self, device_id: str, *, owner: str, location: str, now: datetime) -> str:
        """Create the Device of ``device_id`` at ``location`` (a Location id) and return
        its FHIR id; :class:`EhrError` if it is registered already or the location is
        unknown."""
        if device_id in self._devices:
            raise EhrError(f"device {device_id!r} is in the EHR's registry already")
        self._require_location(location)
        device = {
            "resourceType": "Device",
            "identifier": [{"system": DEVICE_SYSTEM, "value": device_id}],
            "status": "active",
            "owner": {"reference": f"Organization/{self._owner(owner, now)['id']}"},
            "location": {"reference": f"Location/{location}"},
        }
        created = self._store.create(device, now).resource
        self._devices[device_id] = created
        return str(created["id"])

    def reindex(self) -> None:
        """Find the Devices and owning Organizations again in the store (after the
        store was restored from what a durable transport kept)."""
        self._devices = {_identifier(d, DEVICE_SYSTEM): d for d in self._store.all("Device")}
        self._owners = {_identifier(o, OWNER_SYSTEM): o for o in self._store.all("Organization")}
        self._devices.pop("", None)
        self._owners.pop("", None)

    def place(self, device_id: str, location: str, now: datetime) -> None:
        """Move a registered device to ``location`` (a Location id)."""
        self._require_location(location)
        device = self.device(device_id)
        device["location"] = {"reference": f"Location/{location}"}
        self._store.touch(device, now)

    def device(self, device_id: str) -> dict[str, Any]:
        """The Device of ``device_id``; :class:`EhrError` if it is not registered."""
        try:
            return self._devices[device_id]
        except KeyError:
            raise EhrError(
                f"device {device_id!r} is not in the EHR's registry: register it first"
            ) from None

    def device_ids(self) -> tuple[str, ...]:
        """The testbed device ids of every registered Device, in registration order."""
        return tuple(self._devices)

    def find(self, device_id: str) -> dict[str, Any] | None:
        """The Device of ``device_id``, or None."""
        return self._devices.get(device_id)

    def location_of(self, device_id: str) -> str | None:
        """The Location id where ``device_id`` is placed, or None if unregistered."""
        device = self._devices.get(device_id)
        return None if device is None else str(device["location"]["reference"]).split("/")[1]

    def owner_of(self, device_id: str) -> str:
        """``Organization/<id>`` that owns the device."""
        return str(self.device(device_id)["owner"]["reference"])

    def _owner(self, name: str, now: datetime) -> dict[str, Any]:
        if name not in self._owners:
            organization = {
                "resourceType": "Organization",
                "identifier": [{"system": OWNER_SYSTEM, "value": name}],
                "active": True,
                "name": name,
            }
            self._owners[name] = self._store.create(organization, now).resource
        return self._owners[name]

    def _require_location(self, location: str) -> None:
        if not self._store.exists("Location", location):
            raise EhrError(f"no Location {location!r} in the EHR: use one of the census's")


def _identifier(resource: dict[str, Any], system: str) -> str:
    """The value of the resource's identifier in ``system`` ("" without one)."""
    for identifier in resource.get("identifier", []):
        if identifier.get("system") == system:
            return str(identifier.get("value", ""))
    return ""
