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

Only what C-FIND and the duplicate check read is kept in memory (each instance's
identity, sender and time, with an empty dataset); the dataset itself is on disk only
(:meth:`DiskStore.dataset` reads it back), and the log is read back record by record,
so neither a long run nor a restart holds the images in memory.  The log is bounded:
at most ``max_bytes`` of records and ``max_instances`` instances per PACS service
(``--max-stored-bytes``, ``--max-stored-instances``); an instance beyond either is
refused with :class:`StorageFull` (the acceptor answers 0xA700, out of resources, and
tallies ``storage-full``), so one device cannot fill the disk or the memory.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import struct
import zlib
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from pydicom import dcmread
from pydicom.dataset import Dataset

from testbed.clock import isoformat
from testbed.errors import LiveError
from testbed.live.limits import MAX_STORED_BYTES, MAX_STORED_INSTANCES
from testbed.pacs.dataset import part10
from testbed.pacs.store import MemoryStore, StoredInstance

__all__ = ["LOG", "DiskStore", "StorageFull"]

LOG = "instances.log"
_LENGTHS = struct.Struct(">QQ")
_CRC = struct.Struct(">I")
_MAX_PART = 1 << 32  # a header or dataset longer than 4 GiB is not a record
_CHUNK = 1 << 20  # a dataset is read back for its CRC in pieces of this size


class StorageFull(LiveError):
    """An instance the PACS's log has no room for (its bytes or instance bound)."""


class DiskStore:
    """Instances of one PACS service kept under ``root`` (see the module docstring)."""

    def __init__(self, root: Path, *, max_bytes: int = MAX_STORED_BYTES,
                 max_instances: int = MAX_STORED_INSTANCES) -> None:  # fmt: skip
        self.root = root
        self.path = root / LOG
        self.max_bytes, self.max_instances = max_bytes, max_instances
        self._memory = MemoryStore()
        self._where: dict[str, tuple[int, int]] = {}  # UID -> the dataset's offset, length
        self._size = 0  # bytes of whole records in the log
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
        with self.path.open("r+b") as handle:
            while True:
                record = _record_at(handle, self._size)
                if record is None:  # the end, or a torn last record: never answered
                    if handle.seek(0, os.SEEK_END) > self._size:
                        handle.truncate(self._size)
                        os.fsync(handle.fileno())
                    return
                instance, where, end = record
                if self._memory.get(instance.sop_instance_uid) is None:
                    self._memory.add(instance)
                    self._where[instance.sop_instance_uid] = where
                self._size = end

    def get(self, sop_instance_uid: str) -> StoredInstance | None:
        """The instance with this UID (its identity: the dataset stays on disk), or None."""
        return self._memory.get(sop_instance_uid)

    def dataset(self, sop_instance_uid: str) -> Dataset:
        """The stored dataset of the instance with this UID, read back from the log
        (KeyError: no such instance)."""
        offset, length = self._where[sop_instance_uid]
        with self.path.open("rb") as handle:
            handle.seek(offset)
            return dcmread(io.BytesIO(handle.read(length)))

    def add(self, instance: StoredInstance) -> None:
        """Append the instance to the log and flush it to disk, then keep its identity
        in memory (ValueError: its UID is already kept; :class:`StorageFull`: no room)."""
        if self._memory.get(instance.sop_instance_uid) is not None:
            raise ValueError(f"SOP Instance UID {instance.sop_instance_uid} is already stored")
        if len(self._memory) >= self.max_instances:
            raise StorageFull(f"{len(self._memory)} instances kept; at most "
                              f"{self.max_instances} (--max-stored-instances)")  # fmt: skip
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
        end = self._size + len(body) + _CRC.size
        if end > self.max_bytes:
            raise StorageFull(f"{self._size} bytes kept; this instance's {len(body) + _CRC.size} "
                              f"more would pass {self.max_bytes} (--max-stored-bytes)")
        # opened per record (no handle outlives the call): microseconds beside the fsync
        try:
            with self.path.open("ab") as handle:
                handle.write(body + _CRC.pack(zlib.crc32(body)))
                handle.flush()
                os.fsync(handle.fileno())
        except BaseException:
            # a record cut short (a full disk, an I/O error) is cut off again, so the next
            # one starts where the index says and a restart keeps every answered record
            with contextlib.suppress(OSError):
                os.truncate(self.path, self._size)
            raise
        if self._created:  # the log's own directory entry, and those of new directories
            self._created = False
            for directory in (self.root, *(made.parent for made in self._made)):
                _fsync_directory(directory)
            self._made = []
        dataset_at = self._size + _LENGTHS.size + len(header)
        self._where[instance.sop_instance_uid] = (dataset_at, buffer.tell())
        self._size = end
        self._memory.add(replace(instance, dataset=Dataset()))

    def find(
        self,
        *,
        study_uid: str | None = None,
        series_uid: str | None = None,
        sop_instance_uid: str | None = None,
        device_id: str | None = None,
    ) -> list[StoredInstance]:
        """The instances matching every given UID (and sent by ``device_id``), in the
        order they were stored."""
        return self._memory.find(study_uid=study_uid, series_uid=series_uid,
                                 sop_instance_uid=sop_instance_uid,
                                 device_id=device_id)  # fmt: skip

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


def _record_at(
    handle: BinaryIO, offset: int
) -> tuple[StoredInstance, tuple[int, int], int] | None:
    """The instance recorded at ``offset`` (its identity), where its dataset lies and
    the next record's offset; None at the end, or for a torn or damaged record.  The
    dataset is read for its CRC in pieces, never whole."""
    handle.seek(offset)
    lengths = handle.read(_LENGTHS.size)
    if len(lengths) < _LENGTHS.size:
        return None
    header_size, dataset_size = _LENGTHS.unpack(lengths)
    if header_size >= _MAX_PART or dataset_size >= _MAX_PART:
        return None
    header = handle.read(header_size)
    crc = zlib.crc32(header, zlib.crc32(lengths))
    left = dataset_size
    while left:
        piece = handle.read(min(left, _CHUNK))
        if not piece:
            return None
        crc, left = zlib.crc32(piece, crc), left - len(piece)
    stored = handle.read(_CRC.size)
    if len(header) < header_size or len(stored) < _CRC.size or _CRC.unpack(stored)[0] != crc:
        return None
    try:
        row = json.loads(header)
        instance = StoredInstance(
            sop_class_uid=str(row["sop_class_uid"]),
            sop_instance_uid=str(row["sop_instance_uid"]),
            study_uid=str(row["study_uid"]), series_uid=str(row["series_uid"]),
            patient_id=str(row["patient_id"]), device_id=str(row["device_id"]),
            calling_ae=str(row["calling_ae"]),
            stored_at=datetime.fromisoformat(str(row["stored_at"])), dataset=Dataset(),
        )  # fmt: skip
    except (ValueError, KeyError, TypeError) as error:
        raise LiveError(
            f"instance record at byte {offset}: its CRC holds but it does not "
            f"read ({error}); expected a record this version wrote"
        ) from None
    dataset_at = offset + _LENGTHS.size + header_size
    return instance, (dataset_at, dataset_size), dataset_at + dataset_size + _CRC.size


def _file_dataset(instance: StoredInstance) -> Dataset:
    """The instance as a Part 10 dataset (file meta added; the dataset is the PACS's copy)."""
    return part10(instance.dataset)
