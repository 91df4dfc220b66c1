"""A C-FIND answers only the sender's own instances, and the store looks only at
those (an index by device): the same answer as a scan of every instance, for every
combination of keys."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import product

from testbed.pacs.store import MemoryStore, StoredInstance

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _store() -> MemoryStore:
    store = MemoryStore()
    for n in range(60):
        store.add(StoredInstance("1.2.840.10008.5.1.4.1.1.2", f"1.2.3.{n}", f"9.{n % 4}",
                                 f"8.{n % 6}", "p", f"dev-{n % 3}", "AE", T0,
                                 None))  # type: ignore[arg-type]  # fmt: skip
    return store


def test_finding_by_device_answers_what_a_scan_answers() -> None:
    store = _store()
    every = list(store)
    for study, series, uid, device in product((None, "9.1", "9.9"), (None, "8.2"),
                                              (None, "1.2.3.7", "1.2.3.99"),
                                              (None, "dev-1", "dev-9")):  # fmt: skip
        scanned = [i for i in every if study in (None, i.study_uid)
                   and series in (None, i.series_uid) and uid in (None, i.sop_instance_uid)
                   and device in (None, i.device_id)]  # fmt: skip
        found = store.find(study_uid=study, series_uid=series, sop_instance_uid=uid,
                           device_id=device)  # fmt: skip
        assert found == scanned, (study, series, uid, device)
    assert len(store.find(device_id="dev-1")) == 20
