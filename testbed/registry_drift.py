"""Drift between the inventory and the other places that hold a device's identity for
the EHR: the identity provider's SMART clients and each EHR's device registry (seed
§6: the inventory is the identity primitive; every other copy is checked against it).

:func:`registry_drift` is the counterpart of :meth:`~testbed.inventory.Inventory.drift`
(the inventory against the CA), with the same :class:`~testbed.inventory.Drift`
values, so the same scan reports both (:meth:`testbed.hospital.Hospital.drift`):

- a client whose device the inventory does not know (``smart-client-for-unknown-device``),
  or an active client of a retired device (``retired-with-active-smart-client``);
- a device in service whose profile uses the EHR with no client
  (``smart-client-missing``), or a client whose scopes are not the ones the inventory
  pre-authorized (``smart-client-scopes-differ``, compared in v2 form);
- a Device in an EHR's registry the inventory does not know
  (``ehr-device-for-unknown-device``), a device in service missing from its EHR's
  registry (``ehr-device-missing``), a retired device still ``active`` there
  (``retired-with-active-ehr-device``).

One pass over the clients, the inventory and the registries: cheap enough daily.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from testbed.devices import DeviceRecord
from testbed.ehr.registry import DeviceRegistry
from testbed.inventory import Drift, DriftKind, Inventory
from testbed.lifecycle import DeviceState
from testbed.smart.clients import ClientRegistry, ClientState, SmartClient
from testbed.smart.scopes import ScopeError, parse_scope

__all__ = ["registry_drift"]

UsesEhr = Callable[[DeviceRecord], str | None]
"""The EHR service a device's record says it writes to (None: it uses no EHR)."""


def registry_drift(
    inventory: Inventory,
    clients: ClientRegistry,
    registries: Mapping[str, DeviceRegistry],
    *,
    uses_ehr: UsesEhr,
) -> list[Drift]:
    """Every disagreement (see the module), sorted by device and kind."""
    found: list[Drift] = []
    by_device: dict[str, SmartClient] = {}
    for client in clients:
        by_device[client.device_id] = client
        entry = inventory.get(client.device_id)
        if entry is None:
            found.append(Drift(DriftKind.CLIENT_FOR_UNKNOWN_DEVICE, client.device_id,
                               f"client {client.client_id!r} ({client.state.value})"))
        elif entry.state is DeviceState.RETIRED and client.state is not ClientState.OFFBOARDED:
            found.append(Drift(DriftKind.RETIRED_WITH_ACTIVE_CLIENT, client.device_id,
                               f"client {client.client_id!r} is {client.state.value}"))
    for service, registry in sorted(registries.items()):
        for device_id in registry.device_ids():
            entry = inventory.get(device_id)
            if entry is None:
                found.append(Drift(DriftKind.EHR_DEVICE_FOR_UNKNOWN_DEVICE, device_id,
                                   f"a Device in EHR {service!r}"))  # fmt: skip
            elif entry.state is DeviceState.RETIRED and _active(registry, device_id):
                found.append(Drift(DriftKind.RETIRED_WITH_ACTIVE_EHR_DEVICE, device_id,
                                   f"its Device in EHR {service!r} is active"))  # fmt: skip
    for entry in inventory:
        if entry.state is DeviceState.RETIRED:
            continue
        record = entry.record
        uses = uses_ehr(record)
        if uses is None:
            continue
        found.extend(_client_drift(record, by_device.get(record.device_id)))
        placed = registries.get(uses)
        if placed is not None and placed.find(record.device_id) is None:
            found.append(Drift(DriftKind.EHR_DEVICE_MISSING, record.device_id,
                               f"no Device in EHR {uses!r}"))  # fmt: skip
    return sorted(found, key=lambda d: (d.device_id, d.kind.value))


def _client_drift(record: DeviceRecord, client: SmartClient | None) -> list[Drift]:
    if client is None:
        detail = f"its profile {record.profile!r} uses the EHR; the IdP has no client for it"
        return [Drift(DriftKind.CLIENT_MISSING, record.device_id, detail)]
    expected = _v2(record.fhir_scopes)
    held = sorted({str(s) for s in client.scopes})
    if held != expected:
        detail = f"inventory pre-authorizes {expected}, the IdP's client holds {held}"
        return [Drift(DriftKind.CLIENT_SCOPES_DIFFER, record.device_id, detail)]
    return []


def _v2(scopes: tuple[str, ...]) -> list[str]:
    """The scopes in v2 form (as the IdP keeps them); one that does not parse as itself."""
    out: set[str] = set()
    for scope in scopes:
        try:
            out.add(str(parse_scope(scope)))
        except ScopeError:
            out.add(scope)
    return sorted(out)


def _active(registry: DeviceRegistry, device_id: str) -> bool:
    device = registry.find(device_id)
    return device is not None and device.get("status") == "active"
