"""The PACS's instances on disk: an :class:`~testbed.pacs.store.InstanceStore` in the
state directory, so a restarted ``testbed serve`` still holds what it answered.

One append-only file per PACS service, ``DIR/dicom/<service>/instances.log``: a
record per stored instance, written and flushed to disk (one ``fsync``) before the
C-STORE is answered::

    8 bytes   length of the header (big-endian)
    8 bytes   length of the dataset
    header    JSON: the instance's identity, its sender and when it was stored
    dataset   the instance as a DICOM Part 10 file (pydicom)
    4 bytes   CRC-32 of everything above

An append to an existing file is durable with one ``fsync`` of that file (no rename,
no directory entry to flush), which makes a store cost one disk flush: the
benchmark's instances/s (``make bench-dicom``).  At start the log is read back; a
torn last record (the process died while writing it, before any answer) fails its
length or CRC check and is cut off, so the sender's retry stores it again.
"""

from __future__ import annotations

import io
import json
import os
import struct
import zlib
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from pydicom import dcmread
from pydicom.dataset import Dataset

from testbed.clock import isoformat
from testbed.errors import LiveError
from testbed.pacs.dataset import part10
from testbed.pacs.store import MemoryStore, StoredInstance

__all__ = ["LOG", "DiskStore"]

LOG = "instances.log"
_LENGTHS = struct.Struct(">QQ")
_CRC = struct.Struct(">I")
_MAX_PART = 1 << 32  # a header or dataset longer than 4 GiB is not a record


class DiskStore:
    """Instances of one PACS service kept under ``root`` (see the module docstring)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.path = root / LOG
        self._memory = MemoryStore()
        self._created = not self.path.exists()
        # the directories made here, whose entries in their parents are synced with the
        # log's first record (DIR/dicom and DIR/dicom/<service> of a new state directory)
        self._made = [d for d in (root, *root.parents) if not d.exists()]
        try:
            root.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._load()
        except OSError as error:
            raise LiveError(f"{root}: cannot keep DICOM instances here "
                            f"({error.strerror or error})") from None  # fmt: skip

    def _load(self) -> None:
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        offset = 0
        while offset < len(data):
            record = _record_at(data, offset)
            if record is None:  # a torn last record: never answered
                with self.path.open("r+b") as handle:
                    handle.truncate(offset)
                    os.fsync(handle.fileno())
                return
            instance, offset = record
            if self._memory.get(instance.sop_instance_uid) is None:
                self._memory.add(instance)

    def get(self, sop_instance_uid: str) -> StoredInstance | None:
        """The instance with this UID, or None."""
        return self._memory.get(sop_instance_uid)

    def add(self, instance: StoredInstance) -> None:
        """Append the instance to the log and flush it to disk, then keep it in memory
        (ValueError: its UID is already kept)."""
        if self._memory.get(instance.sop_instance_uid) is not None:
            raise ValueError(f"SOP Instance UID {instance.sop_instance_uid} is already stored")
        header = json.dumps({
            "sop_instance_uid": instance.sop_instance_uid,
            "sop_class_uid": instance.sop_class_uid, "study_uid": instance.study_uid,
            "series_uid": instance.series_uid, "patient_id": instance.patient_id,
            "device_id": instance.device_id, "calling_ae": instance.calling_ae,
            "stored_at": isoformat(instance.stored_at),
        }, sort_keys=True).encode()  # fmt: skip
        buffer = io.BytesIO()
        _file_dataset(instance).save_as(buffer, enforce_file_format=True)
        body = _LENGTHS.pack(len(header), buffer.tell()) + header + buffer.getvalue()
        # opened per record (no handle outlives the call): microseconds beside the fsync
        with self.path.open("ab") as handle:
            handle.write(body + _CRC.pack(zlib.crc32(body)))
            handle.flush()
            os.fsync(handle.fileno())
        if self._created:  # the log's own directory entry, and those of new directories
            self._created = False
            for directory in (self.root, *(made.parent for made in self._made)):
                _fsync_directory(directory)
            self._made = []
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

    def close(self) -> None:
        """Nothing to release (each record is written through its own open)."""

    def __iter__(self) -> Iterator[StoredInstance]:
        return iter(self._memory)

    def __len__(self) -> int:
        return len(self._memory)


def _fsync_directory(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _record_at(data: bytes, offset: int) -> tuple[StoredInstance, int] | None:
    """The instance recorded at ``offset`` and the next record's offset, or None for a
    torn or damaged record."""
    start = offset + _LENGTHS.size
    if start > len(data):
        return None
    header_size, dataset_size = _LENGTHS.unpack_from(data, offset)
    if header_size >= _MAX_PART or dataset_size >= _MAX_PART:
        return None
    end = start + header_size + dataset_size
    if end + _CRC.size > len(data):
        return None
    (crc,) = _CRC.unpack_from(data, end)
    if zlib.crc32(data[offset:end]) != crc:
        return None
    try:
        row = json.loads(data[start : start + header_size])
        dataset = dcmread(io.BytesIO(data[start + header_size : end]))
        instance = StoredInstance(
            sop_class_uid=str(row["sop_class_uid"]),
            sop_instance_uid=str(row["sop_instance_uid"]),
            study_uid=str(row["study_uid"]), series_uid=str(row["series_uid"]),
            patient_id=str(row["patient_id"]), device_id=str(row["device_id"]),
            calling_ae=str(row["calling_ae"]),
            stored_at=datetime.fromisoformat(str(row["stored_at"])), dataset=dataset,
        )  # fmt: skip
    except (ValueError, KeyError, TypeError) as error:
        raise LiveError(
            f"instance record at byte {offset}: its CRC holds but it does not "
            f"read ({error}); expected a record this version wrote"
        ) from None
    return instance, end + _CRC.size


def _file_dataset(instance: StoredInstance) -> Dataset:
    """The instance as a Part 10 dataset (file meta added; the dataset is the PACS's copy)."""
    return part10(instance.dataset)
