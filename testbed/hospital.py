"""The composition root: one hospital's services, built the same way for every transport.

A :class:`Hospital` is built from a scenario, a clock, a random generator and an event
log, and owns every service: the certificate authority, trust distribution, CRL
distribution, inventory, EST, network policy and NAC, the access point, and, when the
scenario has an ``ehr`` block, the identity provider and the EHRs
(:mod:`testbed.clinical`).  The
simulation (:class:`~testbed.core.Testbed`: SimPy, a simulated clock, device agents),
live mode (``testbed serve``: a wall clock and real sockets) and the tests all build
it here, so a service is wired once.  Operator operations over it are plain
functions in :mod:`testbed.operations`.

Nothing here does I/O or reads the wall clock: time comes from ``clock``, randomness
from ``rng`` (seeded: a deterministic run; None: the operating system's, as live mode
needs for keys and secrets).
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.serialization import Encoding

from testbed.access import AccessContext, AccessPoint, DecisionListener, Purpose
from testbed.clinical import Clinical, SmartUrls
from testbed.clock import Clock
from testbed.crosscheck import scenario_profiles
from testbed.decisions import Decision
from testbed.devices import DeviceProfile
from testbed.dicom import AllowLists, DicomPath, InstanceStores, memory_instances
from testbed.ehr.ehr import Ehr
from testbed.events import EventLog
from testbed.hops import NetworkHop, ServiceOutages, TlsHop, standard_chains
from testbed.inventory import Drift, Inventory
from testbed.lifecycle import DeviceState
from testbed.metrics import DicomCounts, Metrics
from testbed.network import Nac, route_policy
from testbed.network.policy import shared_credentials
from testbed.oracle import Oracle, StoreOracle
from testbed.pacs import (
    AssociationDecision,
    AssociationPolicy,
    AssociationRequest,
    HopCertificates,
    Pacs,
    PacsEndpoint,
    StoreRequest,
    TlsProfile,
)
from testbed.pacs.ae_title import pacs_ae_title
from testbed.pacs.store import StoreDecision
from testbed.pacs.trust import PacsTrust
from testbed.pki.ca import CertificateAuthority
from testbed.pki.est import EstService
from testbed.pki.fidelity import Artefacts, Fidelity
from testbed.pki.full import FullArtefacts
from testbed.pki.modeled import ModeledArtefacts
from testbed.pki.outage import CaOutages
from testbed.pki.revocation import CrlDistribution
from testbed.pki.trust import TrustDistribution
from testbed.pki.verify import Verifier
from testbed.registry_drift import registry_drift
from testbed.revision import Revision
from testbed.scenario import DICOM_TLS_PORT, Scenario, load_scenario
from testbed.sites import HealthSystem, ServiceKind
from testbed.smart.idp import IdentityProvider
from testbed.smart.jwks import Fetcher
from testbed.standing import SteadyHook
from testbed.store import HospitalStore, MemoryStore

__all__ = ["CA_BACKDATE", "Hospital", "artefacts_for"]

CA_BACKDATE = timedelta(days=1)
"""How long before the hospital's first moment its CA certificates are valid from."""


def artefacts_for(fidelity: Fidelity) -> Artefacts:
    """The artefacts of a fidelity level (:mod:`testbed.pki.fidelity`): real DER at
    ``full``, value objects with the facts decisions read at ``modeled``."""
    return FullArtefacts() if fidelity is Fidelity.FULL else ModeledArtefacts()


class Hospital:
    """Every service of one hospital, wired once (DESIGN: the composition root)."""

    def __init__(
        self,
        scenario: Scenario,
        *,
        profiles: dict[str, DeviceProfile],
        clock: Clock,
        rng: random.Random | None,
        log: EventLog,
        fidelity: Fidelity | None = None,
        artefacts: Artefacts | None = None,
        store: HospitalStore | None = None,
        smart_urls: SmartUrls | None = None,
        jwks_fetcher: Fetcher | None = None,
        instances: InstanceStores = memory_instances,
    ) -> None:
        """``smart_urls``: where the IdP and FHIR API are (live mode's loopback URLs;
        default: names under the trust domain); ``jwks_fetcher``: how the IdP fetches
        clients' JWKS URLs (live: HTTPS; default: what the hospital publishes)."""
        self.scenario = scenario
        #: where the services keep what they did (testbed.store): memory by default;
        #: a store that kept an earlier run's hospital gives that hospital back
        self.store: HospitalStore = store if store is not None else MemoryStore()
        #: the declared fidelity level (the scenario's unless overridden; live is full)
        self.fidelity = Fidelity(fidelity or scenario.fidelity)
        self.profiles = profiles
        self.clock = clock
        self.rng = rng
        self.log = log
        self.system = HealthSystem(scenario.sites, scenario.services)
        now = clock.now()
        pki = scenario.pki
        sites = [s.name for s in scenario.sites]
        self.ca = CertificateAuthority(
            name="Hospital",
            trust_domain=scenario.trust_domain,
            sites=sites,
            issuing=pki.issuing,
            now=now - CA_BACKDATE,
            rng=rng,
            key_type=pki.key_type,
            artefacts=artefacts or artefacts_for(self.fidelity),
            records=self.store.records,
        )
        #: moved by every change of what access decisions read (testbed.standing)
        self.revision = Revision()
        self.trust = TrustDistribution(
            ca=self.ca, sites=sites, delay=pki.trust_distribution_delay, now=now,
            revision=self.revision,
        )
        self.crls = CrlDistribution(revision=self.revision, holder=self._holder)
        self.inventory = Inventory(log=log, journal=self.store.journal)
        self.inventory.restore(self.store.kept_devices())
        # a change that only some devices' attempts read lets go of their allowances
        # alone: their inventory entries move (testbed.revision)
        self.revision.scope(self.inventory.touch)
        self.ca_outages = CaOutages()
        self.est = EstService(
            ca=self.ca, directory=self.inventory, log=log, outages=self.ca_outages
        )
        routes = [(r.source, r.to, r.site) for r in scenario.network]
        self.policy = route_policy(design=scenario.design, routes=routes, system=self.system,
                                   profiles=profiles, revision=self.revision)  # fmt: skip
        #: the departments' shared credentials of a ``credentials: shared`` design
        #: (testbed.network.shared), standing in for device certificates; None otherwise
        self.shared = shared_credentials(self.policy, scenario.trust_domain, self.revision)
        self.nac = Nac(revision=self.revision)
        for entry in self.inventory:  # kept devices are on the network until offboarded
            if entry.state is not DeviceState.RETIRED:
                self.nac.admit(entry.record.device_id)
        self.outages = ServiceOutages(revision=self.revision)
        self.verifier = Verifier(artefacts=self.ca.artefacts)
        self.access = AccessPoint(
            system=self.system,
            inventory=self.inventory,
            ca=self.ca,
            log=log,
            chains=standard_chains(
                system=self.system,
                nac=self.nac,
                policy=self.policy,
                trust=self.trust,
                crls=self.crls,
                verifier=self.verifier,
                outages=self.outages,
                shared=self.shared,
            ),
            revision=self.revision,
        )
        self._build_pacs(instances)
        # what observes decisions subscribes to them: the measures, and the
        # ground-truth oracle that judges every allowance (both transports)
        self.metrics = Metrics()
        self.oracle = Oracle(self.ca, self.metrics, log, self.shared)
        #: the identity provider and the EHRs (testbed.clinical), when the scenario
        #: has an ``ehr`` block; None otherwise
        self.clinical: Clinical | None = None
        if scenario.ehr is not None:
            self.clinical = Clinical(
                scenario, settings=scenario.ehr, system=self.system, log=log, now=now,
                deterministic=rng is not None, urls=smart_urls, fetcher=jwks_fetcher,
                inventory=self.inventory, metrics=self.metrics, fidelity=self.fidelity,
            )  # fmt: skip
            # a durable store gives back what it kept and keeps what changes from now
            self.store.keep_clinical(self.clinical, now=now)
        for listener, steady in self._decision_subscriptions:
            self.access.subscribe(listener, steady=steady)
        self._observe_pacs()
        # a presented certificate is in use: its predecessor's renewal grace ends (for
        # good: an allowance that stands was walked, and marked, when it was established)
        self.access.subscribe(self._seen, again=False)

    def _build_pacs(self, instances: InstanceStores) -> None:
        """One :class:`~testbed.pacs.Pacs` per PACS service (``docs/pacs.md``): its
        endpoint and called AE title, its site's TLS profile, its certificate checks
        by the access path's TLS hop (the same trust, CRLs and verifier), the
        hospital's outages and log, and an instance store from ``instances``; the
        allow-lists follow the inventory (:class:`~testbed.dicom.AllowLists`)."""
        services = self.system.services_of_kind(ServiceKind.PACS)
        self.allow_lists = AllowLists((s.name for s in services), revision=self.revision)
        for entry in self.inventory:  # kept devices (live restart) until offboarded
            if entry.state is not DeviceState.RETIRED:
                self.allow_lists.add(entry.record)
        #: the trust each site's PACS holds: the site's bundle, unless a fault takes
        #: the CA from the PACS alone (pacs-trust-missing)
        self.pacs_trust = PacsTrust(self.trust, revision=self.revision)
        tls = TlsHop(self.system, self.pacs_trust, self.crls, self.verifier)
        certificates = HopCertificates(contexts=self.access, tls=tls)
        #: the PACS of each PACS service, by service name
        self.pacs: dict[str, Pacs] = {}
        for service in services:
            endpoint = PacsEndpoint(service.name, service.site,
                                    pacs_ae_title(service.name, service.ae_title))  # fmt: skip
            policy = AssociationPolicy(
                endpoint=endpoint,
                allow_list=self.allow_lists.current(service.name),
                profile=TlsProfile(self.system.site(service.site).pacs_tls),
                certificates=certificates,
                outages=self.outages,
            )
            self.pacs[service.name] = Pacs(policy=policy, store=instances(endpoint), log=self.log)
        #: the one entry both transports call for DICOM (testbed.dicom)
        network = NetworkHop(self.nac, self.policy)
        settings = self.scenario.dicom
        port = DICOM_TLS_PORT if settings is None else settings.port
        self.dicom = DicomPath(pacs=self.pacs, allow_lists=self.allow_lists,
                               access=self.access, network=network, port=port)  # fmt: skip

    def _observe_pacs(self) -> None:
        """The unauthorized-store oracle judges every PACS's stores; in a scenario that
        sends DICOM, the measures count every association and store."""
        oracle = StoreOracle(self.access, self.metrics, self.log)
        counts = None
        if self.scenario.dicom is not None:
            counts = self.metrics.dicom = DicomCounts()
        for pacs in self.pacs.values():
            pacs.subscribe(store=oracle)
            if counts is not None:
                pacs.subscribe(association=_count_association(counts),
                               store=_count_store(counts))  # fmt: skip

    def _holder(self, serial: int) -> str | None:
        """The device a serial was issued to (None: this CA never issued it)."""
        record = self.ca.record(serial)
        return None if record is None else record.device_id

    def _seen(self, context: AccessContext, decision: Decision) -> None:
        if context.record is not None:
            self.ca.mark_used(context.record.serial)

    @property
    def idp(self) -> IdentityProvider | None:
        """The identity provider (None without an ``ehr`` block)."""
        return None if self.clinical is None else self.clinical.idp

    @property
    def ehrs(self) -> dict[str, Ehr]:
        """The EHR of each EHR service, by service name (empty without an ``ehr`` block)."""
        return {} if self.clinical is None else self.clinical.ehrs

    @property
    def decision_listeners(self) -> tuple[DecisionListener, ...]:
        """The listeners every access point of this hospital notifies (the validation
        lab's too): the measures, then the oracle."""
        return tuple(listener for listener, _ in self._decision_subscriptions)

    @property
    def _decision_subscriptions(self) -> tuple[tuple[DecisionListener, SteadyHook], ...]:
        """Each decision listener with its part in allowances given again together
        (testbed.standing.Steady)."""
        return ((self.metrics.on_decision, self.metrics.steady_hook), (self.oracle, self.oracle))

    @classmethod
    def from_file(
        cls, path: Path, *, clock: Clock, rng: random.Random | None, log: EventLog
    ) -> Hospital:
        """Load, validate and cross-check a scenario file and build its hospital."""
        scenario = load_scenario(path)
        profiles = scenario_profiles(scenario, path.parent)
        return cls(scenario, profiles=profiles, clock=clock, rng=rng, log=log)

    def now(self) -> datetime:
        """The hospital's time now (simulated or wall)."""
        return self.clock.now()

    def forget_expired(self, now: datetime) -> int:
        """Drop the decision caches' entries for certificates expired before ``now``
        (bounded memory over a long run; decisions do not change); how many."""
        return self.verifier.forget_expired(now) + self.access.leaves.forget_expired(now)

    def drift(self, now: datetime, *, full: bool = False) -> list[Drift]:
        """Every disagreement between the inventory and the CA's live certificates
        (:meth:`Inventory.drift`: the entries that could have changed since the last
        scan, or with ``full`` every one, the same answer) and, with an ``ehr`` block,
        the IdP's clients and the EHRs' device registries
        (:func:`~testbed.registry_drift.registry_drift`)."""
        found = self.inventory.drift(self.ca, now=now, full=full)
        clinical = self.clinical
        if clinical is not None:
            found += registry_drift(
                self.inventory, clinical.idp.clients,
                {name: ehr.registry for name, ehr in clinical.ehrs.items()},
                uses_ehr=lambda record: clinical.uses_ehr(record, self.profiles[record.profile]),
            )  # fmt: skip
        return sorted(found, key=lambda d: (d.device_id, d.kind.value))

    def new_secret(self) -> str:
        """A one-time secret: from the seeded generator in a deterministic run, else
        from the operating system (live mode)."""
        if self.rng is None:
            return secrets.token_urlsafe(18)
        return f"{self.rng.getrandbits(96):024x}"

    def trust_bundle_pem(self) -> bytes:
        """The root and every issuing CA, PEM, root first."""
        certificates = [self.ca.root, *(i.certificate for i in self.ca.issuing_cas())]
        return b"".join(c.public_bytes(Encoding.PEM) for c in certificates)


def _count_association(
    counts: DicomCounts,
) -> Callable[[AssociationRequest, AssociationDecision, Purpose, datetime], None]:
    def listener(
        request: AssociationRequest, answer: AssociationDecision, purpose: Purpose, now: datetime
    ) -> None:
        counts.association(allowed=answer.decision.allowed, reason=answer.decision.reason.value)

    return listener


def _count_store(counts: DicomCounts) -> Callable[[StoreRequest, StoreDecision, datetime], None]:
    def listener(request: StoreRequest, answer: StoreDecision, now: datetime) -> None:
        instance, decision = answer.instance, answer.decision
        uid = instance.sop_instance_uid if instance is not None else None
        counts.store(service=request.association.service, sop_instance_uid=uid,
                     allowed=decision.allowed, reason=decision.reason.value,
                     duplicate=answer.duplicate)  # fmt: skip

    return listener
