"""One certification session: the device adapter, the live hospital, the device's instances.

Each check works on its own device *instance*: a registration made as an operator
would (``POST /devices`` on the admin API, at the site and zone the scenario's fleet
puts the profile, else the first zone) and a work directory of its own (the request
field ``workdir``), so one check's revocation or offboarding never decides another's
verdict.  The session also holds the faults the kit injected (:class:`Faults`) so
every one is healed after its check, whatever happened.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from testbed.certify.adapter import Action, Adapter, Exchange
from testbed.certify.evidence import AuditTrail
from testbed.certify.hospital import KitHospital
from testbed.devices import DeviceProfile
from testbed.sites import ServiceKind
from testbed.smart.client import client_key, public_jwks

__all__ = ["Faults", "Instance", "Session", "uses_ehr"]


def uses_ehr(profile: DeviceProfile) -> bool:
    """Whether the profile writes to the EHR with SMART scopes (a SMART client is
    registered with it; its SMART and FHIR checks are required)."""
    return ServiceKind.EHR in profile.services and bool(profile.fhir_scopes)


@dataclass
class Instance:
    """One registered instance of the device under certification."""

    label: str
    device_id: str
    password: str
    site: str
    zone: str
    key_type: str
    workdir: Path
    ae_title: str | None = None  # its DICOM calling AE title, if its profile speaks DICOM
    #: its SMART client (``client_id``, ``scopes``) and EHR ``location``, if it uses the EHR
    smart: dict[str, Any] | None = None


@dataclass
class Faults:
    """The faults the kit started and has not healed yet (admin API paths + payloads)."""

    hospital: KitHospital
    open: list[tuple[str, dict[str, object]]] = field(default_factory=list)
    healed: list[str] = field(default_factory=list)

    def begin(self, path: str, **payload: object) -> Any:
        """Start a fault (``POST path`` with ``action: begin``)."""
        answer = self.hospital.admin(path, {**payload, "action": "begin"})
        self.open.append((path, dict(payload)))
        return answer

    def end(self, path: str, **payload: object) -> Any:
        """Heal a fault the kit started."""
        self.open.remove((path, dict(payload)))
        answer = self.hospital.admin(path, {**payload, "action": "end"})
        self.healed.append(path)
        return answer

    def heal_all(self) -> list[str]:
        """Heal every fault still open (newest first); what was healed."""
        done = []
        while self.open:
            path, payload = self.open[-1]
            self.end(path, **payload)
            done.append(path)
        return done


class Session:
    """The adapter, the hospital and the instances of one certification run."""

    def __init__(self, adapter: Adapter, hospital: KitHospital, profile: DeviceProfile,
                 work: Path) -> None:  # fmt: skip
        self.adapter = adapter
        self.hospital = hospital
        self.profile = profile
        self.work = work
        self.trail = AuditTrail(hospital.events)
        self.start = self.trail.mark()  # where this run begins in the audit log
        self.faults = Faults(hospital)
        self.instances: list[Instance] = []
        self._tag = secrets.token_hex(2)  # instances of two runs on one hospital differ
        self.site, self.zone = self._place()

    def _place(self) -> tuple[str, str]:
        scenario = self.hospital.scenario
        for group in scenario.fleet:
            if group.profile == self.profile.id:
                return group.site, group.zone
        first = scenario.sites[0]
        return first.name, first.zones[0]

    def workdir(self, label: str) -> Path:
        """The work directory of the next instance (made now)."""
        workdir = self.work / "devices" / f"{len(self.instances) + 1}-{label}"
        workdir.mkdir(parents=True, exist_ok=True)
        return workdir

    def new_instance(self, label: str, *, jwks: dict[str, Any] | None = None) -> Instance:
        """Register a new instance of the device (``label`` names its work directory;
        ``jwks``: the public keys of its SMART client, which the operator registers;
        None for a profile that uses the EHR: the kit's own, for a check that does not
        use SMART)."""
        serial = f"k{self._tag}{len(self.instances) + 1}"
        registration: dict[str, object] = {"serial": serial, "site": self.site,
                                           "zone": self.zone, "profile": self.profile.id,
                                           "owner": "certification"}  # fmt: skip
        if jwks is None and "smart_configuration" in self.hospital.endpoints and uses_ehr(
            self.profile
        ):  # a check that does not use SMART: the operator registers the kit's own keys
            jwks = public_jwks(client_key(secrets.randbits(256)))
        if jwks is not None:
            registration["jwks"] = jwks
        answer = self.hospital.admin("/devices", registration)
        workdir = self.workdir(label)
        smart = None
        if "smart" in answer:
            smart = {**answer["smart"], "location": answer.get("location")}
        instance = Instance(label, answer["device_id"], answer["bootstrap"]["password"],
                            self.site, self.zone, answer["key_type"], workdir,
                            answer.get("ae_title"), smart)  # fmt: skip
        self.instances.append(instance)
        return instance

    def source_address(self) -> str | None:
        """The loopback address of the instances' zone (a device binds it, so the
        hospital places its connections there: ``endpoints.json`` ``zones``)."""
        address = self.hospital.endpoints.get("zones", {}).get(f"{self.site}/{self.zone}")
        return None if address is None else str(address)

    def enroll_request(self, instance: Instance, *, est_url: str | None = None,
                       password: str | None = None) -> dict[str, Any]:  # fmt: skip
        """The fields of an ``enroll`` request for ``instance``."""
        return {"est_url": est_url or self.hospital.est_url, "ca_bundle": str(self.bundle()),
                "device_id": instance.device_id, "username": instance.device_id,
                "password": password or instance.password,
                "key_type": instance.key_type}  # fmt: skip

    def renew_request(self) -> dict[str, Any]:
        """The fields of a ``renew`` request."""
        return {"est_url": self.hospital.est_url, "ca_bundle": str(self.bundle())}

    def bundle(self) -> Path:
        """The trust bundle as distributed to devices now (a copy the kit keeps per
        version, so a device that reads it later reads what it was given)."""
        text = self.hospital.bundle.read_bytes()
        copy = self.work / f"ca-bundle-{hashlib.sha256(text).hexdigest()[:12]}.pem"
        if not copy.exists():
            copy.write_bytes(text)
        return copy

    def call(self, instance: Instance, action: Action, **fields: Any) -> Exchange:
        """Have ``instance`` do ``action`` (``workdir`` added)."""
        return self.call_at(instance.workdir, action, **fields)

    def call_at(self, workdir: Path, action: Action, **fields: Any) -> Exchange:
        """Have the device do ``action`` in ``workdir`` (``while_waiting``: called as the
        adapter runs, not sent)."""
        while_waiting = fields.pop("while_waiting", None)
        request = {"workdir": str(workdir), **fields}
        return self.adapter.call(action, request, while_waiting=while_waiting)

    def heal(self) -> list[str]:
        """Heal every fault the kit left open; what was healed ([] if nothing).  A
        hospital that no longer answers raises :class:`~testbed.errors.LiveError`."""
        return self.faults.heal_all()
