"""The PACS's smallest valid image, shared by the simulation's devices, pacs-check and
the tests: valid for every SOP class the PACS stores, and refused without its parts."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from testbed.pacs.dataset import REQUIREMENTS, dataset_problem, minimal_image, part10


def _identified(sop_class: str) -> Dataset:
    ds = minimal_image(sop_class)
    ds.SOPInstanceUID = "1.2.826.0.1.3680043.10.999.1.1.1"
    ds.StudyInstanceUID = "1.2.826.0.1.3680043.10.999.1"
    ds.SeriesInstanceUID = "1.2.826.0.1.3680043.10.999.1.1"
    ds.PatientID = "PAT-0001"
    return ds


@pytest.mark.parametrize("sop_class", sorted(REQUIREMENTS))
def test_valid_for_every_stored_class(sop_class: str) -> None:
    ds = _identified(sop_class)
    assert dataset_problem(ds) is None
    assert ds.Modality == (REQUIREMENTS[sop_class].modality or "OT")


@pytest.mark.parametrize("sop_class", sorted(REQUIREMENTS))
def test_each_required_attribute_matters(sop_class: str) -> None:
    for keyword in REQUIREMENTS[sop_class].required:
        ds = _identified(sop_class)
        delattr(ds, keyword)
        assert dataset_problem(ds) is not None, keyword


def test_without_identity_it_is_refused() -> None:
    assert dataset_problem(minimal_image(next(iter(REQUIREMENTS)))) is not None


def test_part10_writes_a_file_that_reads_back_with_its_media_storage_uids(tmp_path: Path) -> None:
    """part10 adds the file meta from the dataset's own UIDs, so the file reads back as
    Part 10 with the same SOP class and instance; another transfer syntax is kept."""
    ds = minimal_image(CTImageStorage)
    ds.SOPInstanceUID = "1.2.826.0.1.3680043.10.543.7"
    path = tmp_path / "ct.dcm"
    part10(ds).save_as(path, enforce_file_format=True)
    back = dcmread(path)
    assert back.file_meta.MediaStorageSOPClassUID == CTImageStorage
    assert back.file_meta.MediaStorageSOPInstanceUID == "1.2.826.0.1.3680043.10.543.7"
    assert back.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
    assert part10(ds, ImplicitVRLittleEndian).file_meta.TransferSyntaxUID == ImplicitVRLittleEndian
