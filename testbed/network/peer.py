"""What the network's policy point knows of the device behind a flow.

The network hop builds a :class:`Peer` from the attempt and the device's inventory
record (the same in simulation and live mode); a design's identity conditions are
judged against it (:mod:`testbed.network.matrix`).  The hop only gathers facts: the
certificate's validity, chain and revocation are the TLS hop's to check.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Peer"]


@dataclass(frozen=True, slots=True)
class Peer:
    """The device behind a flow, as far as identity conditions ask.

    ``profile`` is its device profile's id (the design's groups select by the
    profile's device class); ``certificate``: it presented one; ``scopes``: the SMART
    scopes registered for it; ``ae_title``: its registered DICOM AE title.
    """

    device_id: str
    profile: str
    certificate: bool
    scopes: tuple[str, ...] = ()
    ae_title: str | None = None
