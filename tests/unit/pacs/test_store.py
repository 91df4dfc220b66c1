"""C-STORE and C-ECHO: valid instances kept once and found again; invalid ones refused
with the reason; requests need an open association of a PACS that is up."""

from __future__ import annotations

import warnings
from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydicom.uid import CTImageStorage, RTPlanStorage

from testbed.decisions import Reason
from testbed.events import EventKind
from testbed.pacs import EchoRequest, StoreRequest
from testbed.pacs.dataset import COMMON, REQUIREMENTS
from testbed.pacs.status import Status
from tests.conftest import NOW
from tests.unit.pacs.builders import SOP_CLASSES, Bed, make_dataset


@pytest.mark.parametrize("sop_class", SOP_CLASSES, ids=lambda u: REQUIREMENTS[u].name)
def test_a_valid_instance_is_stored_and_found_again(bed: Bed, sop_class: str) -> None:
    association = bed.open()
    dataset = make_dataset(sop_class)
    answer = bed.pacs.store_instance(StoreRequest(association, dataset), now=NOW)
    assert answer.stored and answer.status is Status.SUCCESS and not answer.duplicate
    store = bed.pacs.store
    (found,) = store.find(study_uid=dataset.StudyInstanceUID)
    assert found == answer.instance and found.device_id == "ct-1"
    assert store.find(series_uid=dataset.SeriesInstanceUID) == [found]
    assert store.find(sop_instance_uid=dataset.SOPInstanceUID) == [found]
    assert found.dataset == dataset and found.dataset is not dataset
    assert store.find(study_uid="1.2.3") == []
    (event,) = bed.log.of_kind(EventKind.DICOM_STORE)
    assert event.data["audit_code"] == "110104" and event.data["duplicate"] is False


def test_the_same_instance_twice_is_kept_once_and_answered_success(bed: Bed) -> None:
    association = bed.open()
    first = bed.pacs.store_instance(StoreRequest(association, make_dataset()), now=NOW)
    again = bed.pacs.store_instance(StoreRequest(association, make_dataset()), now=NOW)
    assert again.stored and again.status is Status.SUCCESS and again.duplicate
    assert again.instance is first.instance and len(bed.pacs.store) == 1
    events = bed.log.of_kind(EventKind.DICOM_STORE)
    assert [e.data["duplicate"] for e in events] == [False, True]


def test_a_retry_on_a_new_association_is_no_second_copy(bed: Bed) -> None:
    bed.pacs.store_instance(StoreRequest(bed.open(), make_dataset()), now=NOW)
    later = NOW + timedelta(minutes=5)
    again = bed.pacs.store_instance(StoreRequest(bed.open(now=later), make_dataset()), now=later)
    assert again.duplicate and len(bed.pacs.store) == 1


def test_a_uid_stored_as_another_study_is_a_conflict(bed: Bed) -> None:
    association = bed.open()
    bed.pacs.store_instance(StoreRequest(association, make_dataset()), now=NOW)
    other = make_dataset()
    other.StudyInstanceUID = "1.2.826.0.1.3680043.10.999.77"
    answer = bed.pacs.store_instance(StoreRequest(association, other), now=NOW)
    assert answer.decision.reason is Reason.SOP_INSTANCE_CONFLICT and not answer.stored
    assert len(bed.pacs.store) == 1


def test_an_unsupported_sop_class_is_refused(bed: Bed) -> None:
    dataset = make_dataset()
    dataset.SOPClassUID = RTPlanStorage
    answer = bed.pacs.store_instance(StoreRequest(bed.open(), dataset), now=NOW)
    assert answer.decision.reason is Reason.SOP_CLASS_NOT_SUPPORTED
    assert answer.status is Status.REFUSED_SOP_CLASS_NOT_SUPPORTED


_MISSING = [
    (sop_class, keyword)
    for sop_class in SOP_CLASSES
    for keyword in dict.fromkeys((*COMMON, *REQUIREMENTS[sop_class].required))
    if keyword != "SOPClassUID"  # without it the SOP class is unknown: not supported
]


@pytest.mark.parametrize(
    ("sop_class", "keyword"), _MISSING, ids=[f"{REQUIREMENTS[c].name}-{k}" for c, k in _MISSING]
)
def test_an_instance_missing_a_required_attribute_is_refused(
    shared_bed: Bed, sop_class: str, keyword: str
) -> None:
    pacs = shared_bed.build()
    dataset = make_dataset(sop_class)
    del dataset[keyword]
    answer = pacs.store_instance(StoreRequest(shared_bed.open(), dataset), now=NOW)
    assert answer.decision.reason is Reason.DATASET_INVALID
    assert answer.decision.detail.startswith(f"{keyword} is missing or empty")
    assert answer.status is Status.ERROR_DATASET_DOES_NOT_MATCH_SOP_CLASS
    assert len(pacs.store) == 0


@pytest.mark.parametrize("keyword", ["PatientID", "ImageType", "PixelData"])
def test_an_empty_required_attribute_is_refused(bed: Bed, keyword: str) -> None:
    dataset = make_dataset()
    empty = {"PatientID": "", "ImageType": [], "PixelData": b""}
    dataset[keyword].value = empty[keyword]
    answer = bed.pacs.store_instance(StoreRequest(bed.open(), dataset), now=NOW)
    assert answer.decision.reason is Reason.DATASET_INVALID and keyword in answer.decision.detail


def test_an_invalid_uid_is_refused(bed: Bed) -> None:
    dataset = make_dataset()
    with warnings.catch_warnings():  # pydicom warns of the invalid value it is given
        warnings.simplefilter("ignore")
        dataset.StudyInstanceUID = "1.2.03.x"
    answer = bed.pacs.store_instance(StoreRequest(bed.open(), dataset), now=NOW)
    assert answer.decision.reason is Reason.DATASET_INVALID
    assert "StudyInstanceUID '1.2.03.x' is not a valid UID" in answer.decision.detail


def test_a_modality_other_than_the_sop_classes_is_refused(bed: Bed) -> None:
    dataset = make_dataset()
    dataset.Modality = "MR"
    answer = bed.pacs.store_instance(StoreRequest(bed.open(), dataset), now=NOW)
    assert answer.decision.reason is Reason.DATASET_INVALID and "Modality 'MR'" in (
        answer.decision.detail
    )


def test_the_command_must_name_the_datasets_instance(bed: Bed) -> None:
    request = StoreRequest(bed.open(), make_dataset(), sop_instance_uid="1.2.3.4")
    answer = bed.pacs.store_instance(request, now=NOW)
    assert answer.decision.reason is Reason.DATASET_INVALID and "Affected" in (
        answer.decision.detail
    )
    agreed = replace(request, sop_instance_uid=str(request.dataset.SOPInstanceUID),
                     sop_class_uid=CTImageStorage)  # fmt: skip
    assert bed.pacs.store_instance(agreed, now=NOW).stored


def test_no_store_without_an_open_association(bed: Bed) -> None:
    association = bed.open()
    bed.pacs.release(association)
    answer = bed.pacs.store_instance(StoreRequest(association, make_dataset()), now=NOW)
    assert answer.decision.reason is Reason.NO_ASSOCIATION
    assert answer.status is Status.REFUSED_NOT_AUTHORIZED
    forged = replace(bed.open(), device_id="ct-2")  # an association the PACS never opened
    answer = bed.pacs.store_instance(StoreRequest(forged, make_dataset()), now=NOW)
    assert answer.decision.reason is Reason.NO_ASSOCIATION and len(bed.pacs.store) == 0
    with pytest.raises(KeyError, match="not open"):
        bed.pacs.release(association)


def test_no_store_while_the_pacs_is_down(bed: Bed) -> None:
    association = bed.open()
    bed.hospital.outages.begin("pacs-north")
    answer = bed.pacs.store_instance(StoreRequest(association, make_dataset()), now=NOW)
    assert answer.decision.reason is Reason.SERVICE_UNAVAILABLE and len(bed.pacs.store) == 0
    assert bed.pacs.echo(EchoRequest(association), now=NOW).status is (
        Status.REFUSED_OUT_OF_RESOURCES
    )


def test_echo_answers_on_an_open_association_only(bed: Bed) -> None:
    association = bed.open()
    assert bed.pacs.echo(EchoRequest(association), now=NOW).status is Status.SUCCESS
    bed.pacs.release(association)
    refused = bed.pacs.echo(EchoRequest(association), now=NOW)
    assert refused.decision.reason is Reason.NO_ASSOCIATION
    assert [e.data["reason"] for e in bed.log.of_kind(EventKind.DICOM_ECHO)] == [
        "ok", "no-association"
    ]


# -- property: stores with retries never duplicate --------------------------------

_SENDS = st.lists(
    st.tuples(st.integers(0, 5), st.sampled_from(SOP_CLASSES), st.booleans()), max_size=25
)


@settings(max_examples=60, deadline=None)
@given(sends=_SENDS)
def test_stores_with_retries_never_duplicate(
    shared_bed: Bed, sends: list[tuple[int, str, bool]]
) -> None:
    """Send instances (a small pool, so UIDs repeat: retries), sometimes on a new
    association; the store holds one copy per UID, each as first sent, and every
    answer is success."""
    pacs = shared_bed.build()
    association = shared_bed.open()
    first: dict[str, str] = {}
    for n, sop_class, reconnect in sends:
        if reconnect:
            pacs.release(association)
            association = shared_bed.open()
        dataset = make_dataset(first.get(str(n), sop_class), n=n)
        first.setdefault(str(n), sop_class)
        answer = pacs.store_instance(StoreRequest(association, dataset), now=NOW)
        assert answer.stored and answer.status is Status.SUCCESS
    assert len(pacs.store) == len(first)
    assert sorted(i.sop_instance_uid.rsplit(".", 1)[1] for i in pacs.store.find()) == sorted(first)
    for instance in pacs.store.find():
        assert instance.sop_class_uid == first[instance.sop_instance_uid.rsplit(".", 1)[1]]
    stores = pacs.log.of_kind(EventKind.DICOM_STORE)
    assert sum(not e.data["duplicate"] for e in stores) == len(first)
