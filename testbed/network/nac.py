"""Network access control: which devices are on the network (seed §2)."""

from __future__ import annotations

from testbed.revision import Revision

__all__ = ["Nac"]


class Nac:
    """Network access control: the devices admitted to the network (seed §2)."""

    def __init__(self, *, revision: Revision | None = None) -> None:
        self._admitted: set[str] = set()
        self.revision = revision or Revision()

    def admit(self, device_id: str) -> None:
        """Put a registered device on the network."""
        self._admitted.add(device_id)
        self.revision.devices_changed((device_id,))  # only its own attempts read it

    def remove(self, device_id: str) -> bool:
        """Take a device off the network; False if it was not admitted."""
        if device_id not in self._admitted:
            return False
        self._admitted.discard(device_id)
        self.revision.devices_changed((device_id,))
        return True

    def __contains__(self, device_id: object) -> bool:
        return device_id in self._admitted
