"""What a stored DICOM dataset must hold, per SOP class, checked with pydicom.

Every instance needs its identity and place in the DICOM information model (PS3.3
§A.1.2): SOP Class and SOP Instance UID (SOP Common module, C.12.1), Study and
Series Instance UID (General Study C.7.2.1, General Series C.7.3.1), Modality
(General Series, Type 1) and a Patient ID (Patient C.7.1.1 makes it Type 2; the
hospital binds every instance to a patient, so here it may not be empty).  Each
supported SOP class adds the Type 1 attributes of its IOD's image modules
(:data:`REQUIREMENTS`, each row citing PS3.3).  UIDs must be valid (PS3.5 §9.1:
digits and dots, at most 64 characters).

:func:`dataset_problem` answers in words (the first problem), never by correcting
the dataset.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.tag import BaseTag, Tag
from pydicom.uid import (
    RE_VALID_UID,
    UID,
    CTImageStorage,
    ExplicitVRLittleEndian,
    MRImageStorage,
    SecondaryCaptureImageStorage,
    UltrasoundImageStorage,
)

__all__ = [
    "COMMON",
    "IMAGE_PIXEL",
    "REQUIREMENTS",
    "SopClassRequirements",
    "dataset_problem",
    "minimal_image",
    "part10",
]

UIDS = ("SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID")
COMMON = (*UIDS, "PatientID", "Modality")
"""Attributes every stored instance needs, whatever its SOP class."""

IMAGE_PIXEL = (
    "SamplesPerPixel", "PhotometricInterpretation", "Rows", "Columns",
    "BitsAllocated", "BitsStored", "HighBit", "PixelRepresentation", "PixelData",
)  # fmt: skip
"""Image Pixel module (PS3.3 C.7.6.3), Type 1 attributes."""


@dataclass(frozen=True, slots=True)
class SopClassRequirements:
    """A supported SOP class: its name, the modality it carries, its Type 1 attributes."""

    name: str
    modality: str | None  # None: any (Secondary Capture)
    required: tuple[str, ...]
    source: str  # where PS3.3 says so


REQUIREMENTS: Mapping[str, SopClassRequirements] = MappingProxyType({
    CTImageStorage: SopClassRequirements(
        "CT Image", "CT",
        (*IMAGE_PIXEL, "ImageType", "RescaleIntercept", "RescaleSlope"),
        "PS3.3 A.3 CT Image IOD; C.8.2.1 CT Image module",
    ),
    MRImageStorage: SopClassRequirements(
        "MR Image", "MR",
        (*IMAGE_PIXEL, "ImageType", "ScanningSequence", "SequenceVariant"),
        "PS3.3 A.4 MR Image IOD; C.8.3.1 MR Image module",
    ),
    SecondaryCaptureImageStorage: SopClassRequirements(
        "Secondary Capture Image", None,
        (*IMAGE_PIXEL, "ConversionType"),
        "PS3.3 A.8.1 SC Image IOD; C.8.6.1 SC Equipment module",
    ),
    UltrasoundImageStorage: SopClassRequirements(
        "Ultrasound Image", "US",
        IMAGE_PIXEL,
        "PS3.3 A.6 US Image IOD; C.7.6.3 Image Pixel module",
    ),
})  # fmt: skip
"""The SOP classes this PACS stores, by SOP Class UID."""


def minimal_image(sop_class: str, modality: str | None = None) -> Dataset:
    """The smallest image of ``sop_class`` this PACS stores: a 2x2, 12-bit monochrome
    Image Pixel module and the class's own Type 1 attributes (:data:`REQUIREMENTS`),
    with ``modality`` (default: the class's).  The caller adds its identity: SOP
    Instance, Study and Series UIDs and the patient."""
    ds = Dataset()
    ds.SOPClassUID = sop_class
    ds.Modality = modality or REQUIREMENTS[sop_class].modality or "OT"
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = 2
    ds.Columns = 2
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    ds.PixelData = b"\x00\x01" * 4
    if sop_class in (CTImageStorage, MRImageStorage):
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    if sop_class == CTImageStorage:
        ds.RescaleIntercept = "-1024"
        ds.RescaleSlope = "1"
    elif sop_class == MRImageStorage:
        ds.ScanningSequence = "SE"
        ds.SequenceVariant = "NONE"
    elif sop_class == SecondaryCaptureImageStorage:
        ds.ConversionType = "WSD"
    return ds


_TAGS: dict[str, BaseTag] = {}


def part10(dataset: Dataset, transfer_syntax: str = ExplicitVRLittleEndian) -> Dataset:
    """``dataset`` with its Part 10 file meta (PS3.10 §7.1): the media storage SOP class
    and instance taken from the dataset, and ``transfer_syntax``; returned for chaining."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(dataset.SOPClassUID)
    meta.MediaStorageSOPInstanceUID = UID(dataset.SOPInstanceUID)
    meta.TransferSyntaxUID = UID(transfer_syntax)
    dataset.file_meta = meta
    return dataset


def _tag(keyword: str) -> BaseTag:
    """The tag of ``keyword`` (looked up once: pydicom's look-up by keyword is slow)."""
    found = _TAGS.get(keyword)
    if found is None:
        found = _TAGS[keyword] = Tag(keyword)
    return found


def _missing(dataset: Dataset, keywords: tuple[str, ...]) -> str | None:
    """The first keyword absent or empty in ``dataset``."""
    for keyword in keywords:
        tag = _tag(keyword)
        if tag not in dataset or dataset[tag].is_empty:
            return keyword
    return None


def dataset_problem(dataset: Dataset) -> str | None:
    """Why ``dataset`` cannot be stored as its SOP class, or None.

    Unsupported SOP classes are not this function's business: the caller refuses them
    first (:data:`REQUIREMENTS`).
    """
    missing = _missing(dataset, COMMON)
    if missing is not None:
        return f"{missing} is missing or empty (required for every instance)"
    for keyword in UIDS:
        value = str(dataset[_tag(keyword)].value)
        if len(value) > 64 or not RE_VALID_UID.match(value):
            return f"{keyword} {value!r} is not a valid UID (PS3.5 §9.1)"
    wanted = REQUIREMENTS.get(str(dataset.SOPClassUID))
    if wanted is None:
        return None
    missing = _missing(dataset, wanted.required)
    if missing is not None:
        return f"{missing} is missing or empty (Type 1 for {wanted.name}: {wanted.source})"
    modality = str(dataset.Modality)
    if wanted.modality is not None and modality != wanted.modality:
        return f"Modality {modality!r} in a {wanted.name} instance (expected {wanted.modality!r})"
    return None
