"""``testbed serve``'s DICOM side: one TLS acceptor per PACS service, and its endpoints.

:class:`DicomServers` starts a :class:`~testbed.live.dicom.acceptor.DicomAcceptor` on
127.0.0.1 for every PACS the hospital owns (``hospital.pacs``), each with its site's
TLS context (:class:`~testbed.live.dicom.tls.SiteContexts`: the site's trust bundle,
the issuing CAs' current CRLs, the site's TLS profile; rebuilt when the hospital's
revision moves), the live server's connection gate, limits and refusal tallies, and
every decision run on the server's event loop (:class:`~testbed.live.dicom.calls.LoopCalls`).
:meth:`DicomServers.endpoints` is the ``dicom`` list of ``endpoints.json``.

Instances live in the state directory (:func:`disk_instances`, the hospital's
``instances`` seam), so a restart keeps what was stored.
"""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import pydicom.config

from testbed.dicom import InstanceStores
from testbed.events import EventKind
from testbed.live.dicom.acceptor import LOOPBACK, AcceptorPlan, DicomAcceptor
from testbed.live.dicom.calls import Calls, LoopCalls
from testbed.live.dicom.instances import DiskStore
from testbed.live.dicom.tls import (
    HandshakeCause,
    SiteContexts,
    TrustMaterial,
    acceptor_context,
    chain_pem,
)
from testbed.live.gate import Cap
from testbed.live.guard import Guard
from testbed.live.hospital import LiveHospital
from testbed.live.limits import Limits
from testbed.live.refusals import Refusal
from testbed.live.state import StateDir
from testbed.live.zones import ZoneAddresses
from testbed.pacs import PacsEndpoint, TlsProfile
from testbed.pacs.store import InstanceStore

__all__ = ["DicomServers", "disk_instances", "instances_root"]


def instances_root(state_root: Path) -> Path:
    """Where the PACS instances of a state directory live (``DIR/dicom``)."""
    return state_root / "dicom"


def disk_instances(state_root: Path, *, limits: Limits) -> InstanceStores:
    """The hospital's ``instances`` seam for a state directory: each PACS's instances
    in ``DIR/dicom/<service>/`` (:class:`~testbed.live.dicom.instances.DiskStore`),
    within ``limits.stored_bytes`` and ``limits.stored_instances``."""

    def instances(endpoint: PacsEndpoint) -> InstanceStore:
        return DiskStore(instances_root(state_root) / endpoint.service,
                         max_bytes=limits.stored_bytes,
                         max_instances=limits.stored_instances)  # fmt: skip

    return instances


def trust_material(live: LiveHospital, site: str) -> TrustMaterial:
    """What ``site``'s PACS trusts now: its own view of the site's bundle
    (``hospital.pacs_trust``: empty under a ``pacs-trust-missing`` fault), until the
    next bundle on its way arrives (one held back by a fault arrives when the fault
    ends, which moves the revision).  Revocation is the decision core's, not OpenSSL's
    (:mod:`testbed.live.dicom.tls`)."""
    hospital, now = live.hospital, live.now()
    bundle = hospital.pacs_trust.bundle(site, now=now)
    arrival = hospital.pacs_trust.next_arrival(site)
    until = arrival if arrival is not None and arrival > now else None
    return TrustMaterial(chain_pem(bundle.certificates), until=until)


class DicomServers:
    """The DICOM TLS acceptors of one live hospital (see the module docstring)."""

    def __init__(
        self,
        live: LiveHospital,
        state: StateDir,
        guard: Guard,
        zones: ZoneAddresses,
        *,
        calls: Calls | None = None,
    ) -> None:
        self.live = live
        self.state = state
        self.guard = guard
        self.zones = zones
        self.calls: Calls = calls or LoopCalls(asyncio.get_running_loop())
        hospital = live.hospital
        profiles = {name: pacs.policy.profile for name, pacs in hospital.pacs.items()}
        sites = {pacs.policy.endpoint.site: profiles[name]
                 for name, pacs in hospital.pacs.items()}  # fmt: skip
        self.contexts = SiteContexts(
            revision=lambda: hospital.revision.changes,
            now=live.now,
            material=lambda site: trust_material(live, site),
            build=lambda site, material: self._context(sites[site], material),
            call=self.calls,
        )
        self.acceptors: dict[str, DicomAcceptor] = {}

    def _context(self, profile: TlsProfile, material: TrustMaterial) -> ssl.SSLContext:
        return acceptor_context(server_cert=self.state.server_cert,
                                server_key=self.state.server_key, trust=material,
                                profile=profile)  # fmt: skip

    def _refused(self, listener: str, source: str,
                 why: HandshakeCause | Cap | tuple[Refusal, str]) -> None:  # fmt: skip
        if isinstance(why, Cap):
            self.guard.refuse(Refusal(why.value), listener=listener, source=source,
                              detail=f"{listener}: connection cap")  # fmt: skip
            return
        if isinstance(why, tuple):  # a refusal of the association's transport, and why
            self.guard.refuse(why[0], listener=listener, source=source, detail=why[1])
            return
        self.guard.tallies.note(
            EventKind.REQUEST_REFUSED, listener, self.live.now(), source=source,
            fields={"reason": Refusal.TLS_HANDSHAKE.value, "status": None,
                    "cause": why.reason},
            detail=why.detail,
        )  # fmt: skip

    def start(self) -> list[dict[str, object]]:
        """Listen for every PACS; the ``dicom`` entries of ``endpoints.json``."""
        # pydicom re-validates every UID of every presentation context of every
        # A-ASSOCIATE-RQ (a third of an association's time); the decision core checks
        # the UIDs it reads itself (testbed.pacs.dataset), so this process skips it
        pydicom.config.settings.reading_validation_mode = pydicom.config.IGNORE
        hospital = self.live.hospital
        for service, pacs in hospital.pacs.items():
            site = pacs.policy.endpoint.site
            listener = f"dicom:{service}"
            plan = AcceptorPlan(
                dicom=hospital.dicom, service=service,
                context=lambda site=site: self.contexts.current(site),  # type: ignore[misc]
                calls=self.calls, now=self.live.now, zone_of=self.zones.source,
                refused=lambda source, why, listener=listener: self._refused(  # type: ignore[misc]
                    listener, source, why),
                gate=self.guard.gate, limits=self.guard.limits,
            )  # fmt: skip
            acceptor = DicomAcceptor(plan, host=LOOPBACK)
            acceptor.start()
            self.acceptors[service] = acceptor
        return self.endpoints()

    def endpoints(self) -> list[dict[str, object]]:
        """``{"service", "site", "host", "port", "ae_title"}`` of each acceptor."""
        out: list[dict[str, object]] = []
        for service, acceptor in self.acceptors.items():
            endpoint = self.live.hospital.pacs[service].policy.endpoint
            out.append({"service": service, "site": endpoint.site, "host": LOOPBACK,
                        "port": acceptor.port, "ae_title": endpoint.ae_title})  # fmt: skip
        return out

    def stop(self) -> None:
        """Stop every acceptor (open associations are aborted)."""
        for acceptor in self.acceptors.values():
            acceptor.stop()
        self.acceptors.clear()
