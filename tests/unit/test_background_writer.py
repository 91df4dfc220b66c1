"""The audit log written by a thread of its own (testbed/background_writer.py, and the
sink's ``background`` option): every text, in order, bounded, errors not lost."""

from __future__ import annotations

import errno
import gzip
import io
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from testbed.background_writer import BackgroundWriter
from testbed.errors import OutputError
from testbed.event_sink import JsonlSink
from testbed.events import EventKind, EventLog

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


class _Gate(io.StringIO):
    """A stream whose first write waits until the test opens the gate."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.gate = threading.Event()

    def write(self, text: str) -> int:
        self.entered.set()
        assert self.gate.wait(timeout=30)
        return super().write(text)


class _Full(io.StringIO):
    """A stream on a full disk: the second write fails."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        if self.writes >= 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return super().write(text)


def test_every_text_is_written_in_order_by_close() -> None:
    out = io.StringIO()
    writer = BackgroundWriter(out, depth=2)
    texts = [f"line {i}\n" for i in range(500)]
    for text in texts:
        writer.write(text)
    writer.close()
    assert out.getvalue() == "".join(texts)
    assert writer.closed
    with pytest.raises(ValueError, match="closed"):
        writer.write("late")


def test_at_most_depth_texts_wait() -> None:
    out = _Gate()
    writer = BackgroundWriter(out, depth=3)
    writer.write("a")
    assert out.entered.wait(timeout=30)  # the thread holds "a", blocked in the write
    for text in "bcd":
        writer.write(text)  # queued: room for three
    late = threading.Thread(target=writer.write, args=("e",))
    late.start()
    late.join(timeout=0.2)
    assert late.is_alive()  # a fourth waits for the thread: it cannot get past "a"
    out.gate.set()
    late.join(timeout=30)
    writer.close()
    assert out.getvalue() == "abcde"


def test_a_write_error_is_raised_by_the_next_write_or_by_close() -> None:
    writer = BackgroundWriter(_Full(), depth=1)
    writer.write("first")
    writer.write("second")  # fails in the thread
    with pytest.raises(OSError, match="No space left"):
        for _ in range(100):  # raised at the latest once the thread took "second"
            writer.write("more")
    with pytest.raises(OSError, match="No space left"):
        writer.close()


def test_an_error_other_than_os_error_is_not_lost_either() -> None:
    closed = io.StringIO()
    closed.close()
    writer = BackgroundWriter(closed)
    writer.write("x")
    with pytest.raises(ValueError, match="closed file"):
        writer.close()


def _log(sink: JsonlSink) -> EventLog:
    log = EventLog(sink=sink)
    for i in range(10_000):  # several batches
        log.emit(T0 + timedelta(seconds=i // 3), EventKind.ACCESS_DECISION, f"dev-{i % 7}",
                 service="pacs-north", allowed=i % 5 != 0, reason="ok", n=i)  # fmt: skip
    log.close()
    return log


@pytest.mark.parametrize("name", ["events.jsonl", "events.jsonl.gz"])
def test_a_sink_in_the_background_writes_the_same_bytes(tmp_path: Path, name: str) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    _log(JsonlSink(tmp_path / "a" / name))
    _log(JsonlSink(tmp_path / "b" / name, background=True))
    written = (tmp_path / "b" / name).read_bytes()
    assert written == (tmp_path / "a" / name).read_bytes()
    text = gzip.decompress(written) if name.endswith(".gz") else written
    assert text.count(b"\n") == 10_000


def test_a_sink_in_the_background_reports_a_full_disk_as_an_output_error() -> None:
    sink = JsonlSink(_Full(), background=True)
    log = EventLog(sink=sink)
    with pytest.raises(OutputError, match=r"stream: the audit log could not be written \(No sp"):
        for i in range(20_000):
            log.emit(T0, EventKind.ACCESS_DECISION, "dev-1", service="pacs-north", n=i)
        log.close()
