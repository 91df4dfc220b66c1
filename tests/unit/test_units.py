"""Durations as people write them: parse, refuse, and format back."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import TypeAdapter, ValidationError

from testbed.units import MAX_DURATION, Duration, format_duration, parse_duration

GOOD = {
    "30d": timedelta(days=30),
    "12h": timedelta(hours=12),
    "1d12h": timedelta(hours=36),
    "90m": timedelta(minutes=90),
    "45s": timedelta(seconds=45),
    "2w": timedelta(weeks=2),
    "1.5h": timedelta(minutes=90),
    " 3d ": timedelta(days=3),
    "0s": timedelta(0),
}


@pytest.mark.parametrize(("text", "expected"), GOOD.items(), ids=GOOD.keys())
def test_parse(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "value", ["30 days", "30", "", "d", "1y", "-1d", "1d 2h", "1D", 30, 1.5, None, [1]]
)
def test_refuse_what_is_not_a_duration(value: object) -> None:
    with pytest.raises(ValueError, match="a duration like '30d'") as raised:
        parse_duration(value)
    assert repr(value) in str(raised.value)


def test_a_timedelta_passes_through() -> None:
    assert parse_duration(timedelta(hours=2)) == timedelta(hours=2)


FORMATTED = {
    timedelta(0): "0s",
    timedelta(days=30): "30d",
    timedelta(hours=36): "1d12h",
    timedelta(days=1, seconds=61): "1d1m1s",
    timedelta(weeks=2): "14d",
}


@pytest.mark.parametrize(("value", "text"), FORMATTED.items(), ids=FORMATTED.values())
def test_format(value: timedelta, text: str) -> None:
    assert format_duration(value) == text
    assert parse_duration(text) == value  # round trip


def test_the_pydantic_type_validates_and_serialises() -> None:
    adapter = TypeAdapter(Duration)
    assert adapter.validate_python("1d12h") == timedelta(hours=36)
    assert adapter.dump_python(timedelta(hours=36)) == "1d12h"
    with pytest.raises(ValidationError):
        adapter.validate_python(86400)
    assert adapter.json_schema()["pattern"].startswith("^")


@pytest.mark.parametrize("text", ["99999999999d", "36526d", "5300w", "9" * 400 + "s"])
def test_a_duration_beyond_a_hundred_years_is_refused_not_an_overflow(text: str) -> None:
    """timedelta overflowed past about 2.7 million years (an OverflowError, a traceback
    from every command reading the file); a hundred years is beyond anything modelled."""
    with pytest.raises(ValueError, match="a duration of at most 36525d"):
        parse_duration(text)
    assert parse_duration("36525d") == MAX_DURATION
