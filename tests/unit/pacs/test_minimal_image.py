"""The PACS's smallest valid image, shared by the simulation's devices, pacs-check and
the tests: valid for every SOP class the PACS stores, and refused without its parts."""

from __future__ import annotations

import pytest
from pydicom.dataset import Dataset

from testbed.pacs.dataset import REQUIREMENTS, dataset_problem, minimal_image


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
