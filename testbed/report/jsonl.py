"""Read an audit log (``events.jsonl``) back into :class:`~testbed.events.Event` objects.

:class:`JsonlEvents` reads the file lazily, one line at a time, each time it is
iterated, so a report over a long run never holds the whole log.  Asked for some
events (:meth:`JsonlEvents.select`), it parses only the lines that can be among
them: a selected event's line holds its kind and the values asked for as JSON text,
so a line without them is skipped unread.  A line that is not
one event as :meth:`Event.to_json <testbed.events.Event.to_json>` writes it raises
:class:`~testbed.errors.RecordError` naming the file, the line and what was expected.
"""

from __future__ import annotations

import gzip
import json
import re
import zlib
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from testbed.clock import parse_utc
from testbed.errors import RecordError
from testbed.events import Event, EventFilter, EventKind, Value

__all__ = ["JsonlEvents", "ReadProgress", "parse_event"]

ReadProgress = Callable[[int, int], None]
"""Called with ``(bytes read, bytes in the file)`` as a log is read."""

_EXPECTED = "one JSON object with seq (integer), time (UTC ISO 8601), kind and subject"
_FIXED = ("seq", "time", "kind", "subject")
_PROGRESS_EVERY = 4096  # lines between two progress reports


@dataclass(frozen=True, slots=True)
class JsonlEvents:
    """The events of one ``events.jsonl`` file, read afresh on each iteration."""

    path: Path
    progress: ReadProgress | None = None
    before: tuple[Path, ...] = ()
    """Earlier segments of the same log, read first in order (a rotated live log)."""

    def __iter__(self) -> Iterator[Event]:
        return self._read(None)

    def select(self, *filters: EventFilter) -> Iterator[Event]:
        """The events any of ``filters`` accepts, in order; other lines are not parsed
        when their text shows they cannot be among them (see the module docstring)."""
        candidates = [_Candidate.of(f) for f in filters]

        def wanted(raw: bytes) -> bool:
            return any(c.possible(raw) for c in candidates)

        return (e for e in self._read(wanted) if any(f.accepts(e) for f in filters))

    def _read(self, wanted: Callable[[bytes], bool] | None) -> Iterator[Event]:
        paths = (*self.before, self.path)
        done = 0
        last = [-1]  # the seq of the last event parsed, across segments
        for path in paths:
            try:
                total = sum(p.stat().st_size for p in paths)
                with gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb") as handle:
                    done = yield from self._events(path, handle, done, total, wanted, last)
            except OSError as error:
                reason = error.strerror or str(error)
                raise RecordError(f"{path}: expected a readable audit log ({reason})") from None
            except (EOFError, zlib.error) as error:  # a gzip file cut short, or damaged
                raise RecordError(f"{path}: expected a whole gzip file ({error})") from None
        if self.progress is not None:
            self.progress(done, done)

    def _events(
        self,
        path: Path,
        handle: Any,
        done: int,
        total: int,
        wanted: Callable[[bytes], bool] | None,
        last: list[int],
    ) -> Generator[Event, None, int]:
        for number, raw in enumerate(handle, start=1):
            done += len(raw)
            if self.progress is not None and number % _PROGRESS_EVERY == 0:
                self.progress(done, total)
            if not raw.strip() or (wanted is not None and not wanted(raw)):
                continue
            event = parse_event(raw, where=f"{path}:{number}")
            if event.seq <= last[0]:  # every log numbers its events upwards
                raise RecordError(f"{path}:{number}: expected an event numbered above "
                                  f"{last[0]}, got seq {event.seq} (a line written twice, "
                                  "or out of order)")  # fmt: skip
            last[0] = event.seq
            yield event
        return done


@dataclass(frozen=True, slots=True)
class _Candidate:
    """What the line of an event a filter accepts must contain: one of its kinds as a
    JSON string, and the JSON text of each value asked for (only values any JSON
    writer spells one way: booleans, null, and strings of printable ASCII without
    quotes or backslashes; others are left to the parsed event's check)."""

    kinds: re.Pattern[bytes]
    values: tuple[bytes, ...]

    @classmethod
    def of(cls, selection: EventFilter) -> _Candidate:
        names = b"|".join(re.escape(kind.value.encode()) for kind in sorted(selection.kinds))
        values = tuple(t for _, v in selection.where if (t := _spelled_one_way(v)) is not None)
        return cls(re.compile(b'"(?:' + names + b')"'), values)

    def possible(self, raw: bytes) -> bool:
        return self.kinds.search(raw) is not None and all(v in raw for v in self.values)


def _spelled_one_way(value: Value) -> bytes | None:
    if value is None or isinstance(value, bool) or (isinstance(value, str) and _plain(value)):
        return json.dumps(value).encode()
    return None


def _plain(text: str) -> bool:
    return text.isascii() and text.isprintable() and '"' not in text and "\\" not in text


def parse_event(raw: bytes | str, *, where: str) -> Event:
    """One line of an audit log as an event; :class:`RecordError` naming ``where`` if not."""
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise RecordError(f"{where}: expected {_EXPECTED} (not JSON: {error})") from None
    if not isinstance(data, dict):
        raise RecordError(f"{where}: expected {_EXPECTED} (got {type(data).__name__})")
    missing = [key for key in _FIXED if key not in data]
    if missing:
        raise RecordError(f"{where}: expected {_EXPECTED} (missing {', '.join(missing)})")
    return Event(_seq(data["seq"], where), _time(data["time"], where),
                 _kind(data["kind"], where), str(data["subject"]),
                 _data(data, where))  # fmt: skip


def _seq(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise RecordError(f"{where}: seq: expected an integer (got {value!r})")
    return value


def _time(value: object, where: str) -> Any:
    try:
        return parse_utc(str(value))
    except ValueError:
        raise RecordError(f"{where}: time: expected UTC ISO 8601 (got {value!r})") from None


def _kind(value: object, where: str) -> EventKind:
    try:
        return EventKind(str(value))
    except ValueError:
        known = ", ".join(k.value for k in EventKind)
        raise RecordError(f"{where}: kind: expected one of {known} (got {value!r})") from None


def _data(data: dict[str, Any], where: str) -> dict[str, Value]:
    out: dict[str, Value] = {}
    for key, value in data.items():
        if key in _FIXED:
            continue
        if not (value is None or isinstance(value, str | int | float | bool)):
            raise RecordError(f"{where}: {key}: expected a string, number, boolean or null")
        out[key] = value
    return out
