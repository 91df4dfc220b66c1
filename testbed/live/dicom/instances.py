"""The PACS's instances on disk: an :class:`~testbed.pacs.store.InstanceStore` in the
state directory, so a restarted ``testbed serve`` still holds what it answered.

Layout, one directory per PACS service (``DIR/dicom/<service>/``)::

    <sop instance uid>.dcm   the instance as received (DICOM Part 10 file)
    index.jsonl              one line per instance: its identity, sender and time

A store is durable before the C-STORE is answered: the file is written to a
temporary name, flushed to disk and renamed, then its index line is appended and
flushed.  At start the index is read back; a line whose file is missing (a crash
between the two steps cannot produce one, but a hand-deleted file can) is skipped,
and a file with no line (a crash before the line: never answered) is ignored, so
the sender's retry stores it again.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from pydicom import dcmread
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import UID, ExplicitVRLittleEndian

from testbed.clock import isoformat
from testbed.errors import LiveError
from testbed.pacs.store import MemoryStore, StoredInstance

__all__ = ["DiskStore"]

_UID = re.compile(r"[0-9]+(\.[0-9]+)*")
_INDEX = "index.jsonl"


def _fsync_directory(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class DiskStore:
    """Instances of one PACS service kept under ``root`` (see the module docstring)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._memory = MemoryStore()
        try:
            root.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as error:
            raise LiveError(f"{root}: cannot keep DICOM instances here "
                            f"({error.strerror or error})") from None  # fmt: skip
        self._load()

    def _path(self, sop_instance_uid: str) -> Path:
        if not _UID.fullmatch(sop_instance_uid) or len(sop_instance_uid) > 64:
            raise ValueError(f"SOP Instance UID {sop_instance_uid!r} is not a DICOM UID")
        return self.root / f"{sop_instance_uid}.dcm"

    def _load(self) -> None:
        index = self.root / _INDEX
        if not index.exists():
            return
        for number, line in enumerate(index.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                path = self._path(str(row["sop_instance_uid"]))
            except (ValueError, KeyError, TypeError) as error:
                raise LiveError(f"{index}, line {number}: expected an instance record "
                                f"({error})") from None  # fmt: skip
            if not path.exists() or self._memory.get(path.stem) is not None:
                continue
            dataset = dcmread(path)
            self._memory.add(StoredInstance(
                sop_class_uid=str(row["sop_class_uid"]),
                sop_instance_uid=str(row["sop_instance_uid"]),
                study_uid=str(row["study_uid"]), series_uid=str(row["series_uid"]),
                patient_id=str(row["patient_id"]), device_id=str(row["device_id"]),
                calling_ae=str(row["calling_ae"]),
                stored_at=datetime.fromisoformat(str(row["stored_at"])), dataset=dataset,
            ))  # fmt: skip

    def get(self, sop_instance_uid: str) -> StoredInstance | None:
        """The instance with this UID, or None."""
        return self._memory.get(sop_instance_uid)

    def add(self, instance: StoredInstance) -> None:
        """Keep a new instance on disk, then in memory (ValueError: UID already kept)."""
        uid = instance.sop_instance_uid
        if self._memory.get(uid) is not None:
            raise ValueError(f"SOP Instance UID {uid} is already stored")
        path = self._path(uid)
        temporary = path.with_name(f".{path.name}.tmp")
        _file_dataset(instance).save_as(temporary, enforce_file_format=True)
        with temporary.open("rb+") as handle:
            os.fsync(handle.fileno())
        temporary.replace(path)
        row = {
            "sop_instance_uid": uid, "sop_class_uid": instance.sop_class_uid,
            "study_uid": instance.study_uid, "series_uid": instance.series_uid,
            "patient_id": instance.patient_id, "device_id": instance.device_id,
            "calling_ae": instance.calling_ae, "stored_at": isoformat(instance.stored_at),
        }  # fmt: skip
        with (self.root / _INDEX).open("a", encoding="utf-8") as index:
            index.write(json.dumps(row, sort_keys=True) + "\n")
            index.flush()
            os.fsync(index.fileno())
        _fsync_directory(self.root)
        self._memory.add(instance)

    def find(
        self,
        *,
        study_uid: str | None = None,
        series_uid: str | None = None,
        sop_instance_uid: str | None = None,
    ) -> list[StoredInstance]:
        """The instances matching every given UID, in the order they were stored."""
        return self._memory.find(study_uid=study_uid, series_uid=series_uid,
                                 sop_instance_uid=sop_instance_uid)  # fmt: skip

    def __iter__(self) -> Iterator[StoredInstance]:
        return iter(self._memory)

    def __len__(self) -> int:
        return len(self._memory)


def _file_dataset(instance: StoredInstance) -> Dataset:
    """The instance as a Part 10 dataset (file meta added; the dataset is the PACS's copy)."""
    dataset = instance.dataset
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(instance.sop_class_uid)
    meta.MediaStorageSOPInstanceUID = UID(instance.sop_instance_uid)
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset.file_meta = meta
    return dataset
