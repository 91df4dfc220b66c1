"""Builders for the PACS tests: a PACS on the real hospital parts (CA, trust, CRLs,
inventory, access point).

The association's certificate checks are the access path's own hops
(:class:`~testbed.hops.TlsHop`, :class:`~testbed.hops.RegistrationHop`) on the test
hospital of ``tests/conftest.py``; nothing is stubbed.  Datasets are the PACS's
smallest valid images (:func:`~testbed.pacs.dataset.minimal_image`), one per
supported SOP class, checked by the PACS's own rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from cryptography import x509
from pydicom.dataset import Dataset
from pydicom.uid import (
    CTImageStorage,
    MRImageStorage,
    SecondaryCaptureImageStorage,
    UltrasoundImageStorage,
)

from testbed.events import EventLog
from testbed.hops import TlsHop
from testbed.pacs import (
    Association,
    AssociationPolicy,
    AssociationRequest,
    HopCertificates,
    MemoryStore,
    Pacs,
    PacsEndpoint,
    TlsOffer,
    TlsProfile,
)
from testbed.pacs.allow_list import AllowList
from testbed.pacs.dataset import minimal_image
from tests.conftest import NOW, Hospital

PACS_AE = "PACSNORTH"
MODERN = TlsOffer.of(["tls1.2", "tls1.3"])
AE_OF = {"ct-1": "APEXCT001", "ct-2": "APEXCT002"}


@dataclass
class Bed:
    """A hospital with two enrolled CT scanners, CRLs published, and its PACS north."""

    hospital: Hospital
    certs: dict[str, x509.Certificate]
    log: EventLog = field(default_factory=EventLog)
    profile: TlsProfile = TlsProfile.BCP195_NON_DOWNGRADING
    pacs: Pacs = field(init=False)

    def __post_init__(self) -> None:
        self.pacs = self.build()

    def allow_list(self) -> AllowList:
        """The allow-list from the inventory's records, AE titles added."""
        records = [
            replace(self.hospital.inventory.entry(d).record, ae_title=ae,
                    dicom_endpoints=("pacs-north",))
            for d, ae in AE_OF.items()
        ]  # fmt: skip
        return AllowList.from_records("pacs-north", records)

    def build(self, *, profile: TlsProfile | None = None) -> Pacs:
        """A fresh PACS north (empty store, new log) on this hospital."""
        h = self.hospital
        self.log = EventLog()
        tls = TlsHop(h.system, h.trust, h.crls, h.root.verifier)
        policy = AssociationPolicy(
            endpoint=PacsEndpoint("pacs-north", "north", PACS_AE),
            allow_list=self.allow_list(),
            profile=profile or self.profile,
            certificates=HopCertificates(contexts=h.access, tls=tls),
            outages=h.outages,
        )
        self.pacs = Pacs(policy=policy, store=MemoryStore(), log=self.log)
        return self.pacs

    def request(
        self,
        device: str = "ct-1",
        *,
        calling_ae: str | None = None,
        called_ae: str = PACS_AE,
        cert: x509.Certificate | str | None = "own",
        source: tuple[str, str] | None = ("north", "imaging"),
        tls: TlsOffer = MODERN,
    ) -> AssociationRequest:
        """An A-ASSOCIATE request from ``device`` (its own AE title and certificate)."""
        certificate = self.certs[device] if cert == "own" else cert
        assert not isinstance(certificate, str)
        return AssociationRequest(
            calling_ae=AE_OF[device] if calling_ae is None else calling_ae,
            called_ae=called_ae,
            certificate=certificate,
            source=source,
            tls=tls,
        )

    def open(self, device: str = "ct-1", *, now: datetime = NOW) -> Association:
        """An accepted association of ``device``."""
        answer = self.pacs.associate(self.request(device), now=now)
        assert answer.association is not None, answer.decision
        return answer.association


def make_bed() -> Bed:
    """Two onboarded CT scanners at north/imaging, CRLs valid for a week."""
    hospital = Hospital()
    certs = {device: hospital.onboard(device) for device in AE_OF}
    hospital.publish_crls(now=NOW, validity=timedelta(days=7))
    return Bed(hospital, certs)


_UID = "1.2.826.0.1.3680043.10.999"


def make_dataset(sop_class: str = CTImageStorage, *, n: int = 1, study: int = 1) -> Dataset:
    """A minimal valid instance of ``sop_class`` (instance ``n`` of study ``study``)."""
    ds = minimal_image(sop_class, MODALITY[sop_class])
    ds.SOPInstanceUID = f"{_UID}.{study}.1.{n}"
    ds.StudyInstanceUID = f"{_UID}.{study}"
    ds.SeriesInstanceUID = f"{_UID}.{study}.1"
    ds.PatientID = "PAT-0001"
    ds.PatientName = "Doe^Jane"
    return ds


MODALITY = {
    CTImageStorage: "CT",
    MRImageStorage: "MR",
    SecondaryCaptureImageStorage: "OT",
    UltrasoundImageStorage: "US",
}
SOP_CLASSES = tuple(MODALITY)
