"""The PACS instances kept on disk (``testbed/live/dicom/instances.py``): what was
stored is there after a reopen, a torn last record is cut (never answered), one copy
per SOP Instance UID, C-FIND answers only the asking device's instances, the datasets
stay on disk, and the log is bounded."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from testbed.live.dicom.instances import LOG, DiskStore, StorageFull
from testbed.pacs import StoreRequest
from testbed.pacs.query import FindRequest
from testbed.pacs.store import decide_store
from tests.conftest import NOW
from tests.unit.pacs.builders import Bed, make_dataset


def _stored(bed: Bed, store: DiskStore, n: int) -> str:
    association = bed.open()
    answer = decide_store(StoreRequest(association, make_dataset(n=n)), store=store, now=NOW)
    assert answer.stored and not answer.duplicate
    assert answer.instance is not None
    return answer.instance.sop_instance_uid


def test_instances_survive_a_reopen(shared_bed: Bed, tmp_path: Path) -> None:
    store = DiskStore(tmp_path)
    uids = [_stored(shared_bed, store, n) for n in (1, 2)]
    store.close()
    again = DiskStore(tmp_path)
    assert [i.sop_instance_uid for i in again] == uids
    kept = again.get(uids[0])
    assert kept is not None and kept.stored_at == NOW
    assert again.dataset(uids[0]).PatientID == "PAT-0001"  # read back from the log
    again.close()


def test_memory_keeps_identities_and_the_datasets_stay_on_disk(
    shared_bed: Bed, tmp_path: Path
) -> None:
    store = DiskStore(tmp_path)
    uid = _stored(shared_bed, store, 1)
    held = store.get(uid)
    assert held is not None and len(held.dataset) == 0  # no element kept in memory
    assert store.dataset(uid).SOPInstanceUID == uid
    reopened = DiskStore(tmp_path)
    again = reopened.get(uid)
    assert again is not None and len(again.dataset) == 0
    assert (again.study_uid, again.device_id) == (held.study_uid, held.device_id)
    assert reopened.dataset(uid).PatientID == "PAT-0001"


def test_an_instance_beyond_the_bounds_is_refused_and_nothing_is_written(
    shared_bed: Bed, tmp_path: Path
) -> None:
    by_count = DiskStore(tmp_path / "count", max_instances=1)
    _stored(shared_bed, by_count, 1)
    size = (tmp_path / "count" / LOG).stat().st_size
    request = StoreRequest(shared_bed.open(), make_dataset(n=2))
    with pytest.raises(StorageFull, match="1 instances kept; at most 1"):
        decide_store(request, store=by_count, now=NOW)
    assert (tmp_path / "count" / LOG).stat().st_size == size and len(by_count) == 1
    by_bytes = DiskStore(tmp_path / "bytes", max_bytes=size + size // 2)
    _stored(shared_bed, by_bytes, 1)
    with pytest.raises(StorageFull, match="--max-stored-bytes"):
        decide_store(request, store=by_bytes, now=NOW)
    assert (tmp_path / "bytes" / LOG).stat().st_size == size
    # a reopened log counts what it holds against the same bounds
    with pytest.raises(StorageFull):
        decide_store(request, store=DiskStore(tmp_path / "bytes", max_bytes=size + 1), now=NOW)


def test_a_torn_last_record_is_cut_and_the_rest_kept(shared_bed: Bed, tmp_path: Path) -> None:
    store = DiskStore(tmp_path)
    first = _stored(shared_bed, store, 1)
    _stored(shared_bed, store, 2)
    store.close()
    log = tmp_path / LOG
    whole = log.read_bytes()
    log.write_bytes(whole[:-7])  # the process died while writing the second record
    again = DiskStore(tmp_path)
    assert [i.sop_instance_uid for i in again] == [first]
    assert log.stat().st_size < len(whole) - 7  # cut back to the first record's end
    _stored(shared_bed, again, 2)  # the sender's retry is stored again
    again.close()
    reopened = DiskStore(tmp_path)
    reopened.close()
    assert len(reopened) == 2


def test_one_copy_per_sop_instance_uid(shared_bed: Bed, tmp_path: Path) -> None:
    store = DiskStore(tmp_path)
    association = shared_bed.open()
    request = StoreRequest(association, make_dataset(n=5))
    assert not decide_store(request, store=store, now=NOW).duplicate
    retry = decide_store(request, store=store, now=NOW + timedelta(seconds=1))
    assert retry.stored and retry.duplicate
    held = store.get(str(request.dataset.SOPInstanceUID))
    assert held is not None
    with pytest.raises(ValueError, match="already stored"):
        store.add(held)
    store.close()
    reopened = DiskStore(tmp_path)
    reopened.close()
    assert len(reopened) == 1


def test_find_answers_the_devices_own_instances(bed: Bed) -> None:
    mine = bed.open("ct-1")
    bed.pacs.store_instance(StoreRequest(mine, make_dataset(n=1)), now=NOW)
    theirs = bed.open("ct-2")
    bed.pacs.store_instance(StoreRequest(theirs, make_dataset(n=2)), now=NOW)
    study = str(make_dataset().StudyInstanceUID)
    found = bed.pacs.find(FindRequest(mine, study_uid=study), now=NOW)
    assert [i.device_id for i in found.found] == ["ct-1"]
    assert int(found.status) == 0
    bed.pacs.release(mine)
    refused = bed.pacs.find(FindRequest(mine, study_uid=study), now=NOW)
    assert not refused.decision.allowed and refused.found == ()
    events = [e for e in bed.log if e.kind.value == "dicom-find"]
    assert [(e.data["allowed"], e.data["matches"]) for e in events] == [(True, 1), (False, 0)]


def test_a_record_the_disk_refused_is_cut_off_and_the_next_one_is_kept_whole(
    shared_bed: Bed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failed write or fsync left its bytes: the next record went after them, its
    dataset offset was wrong, and a restart cut off every later (answered) record."""
    import os

    store = DiskStore(tmp_path)
    first = _stored(shared_bed, store, 1)
    size = (tmp_path / LOG).stat().st_size

    def full(descriptor: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError, match="No space left"):
        _stored(shared_bed, store, 2)
    monkeypatch.undo()
    assert (tmp_path / LOG).stat().st_size == size and len(store) == 1
    second = _stored(shared_bed, store, 3)
    assert store.dataset(second).SOPInstanceUID == second
    reopened = DiskStore(tmp_path)
    assert [i.sop_instance_uid for i in reopened] == [first, second]
